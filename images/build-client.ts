// Builds the device's client as one executable: `npm run build:client`.
//
//   images/dist/signal-client    Node.js with the bundled client injected (a single executable
//                                application, SEA); runs where no Node.js is installed
//   images/dist/*.node           native addons, shipped beside it and loaded from there
//   images/dist/MANIFEST.json    sizes and sha256 of the above, for the image build
//   images/dist/work/            intermediate files (bundle, SEA blob)
//
// How: esbuild bundles signal-client/src/main.ts with every dependency (ccxt included) into
// one script; Node's SEA builder turns it into a blob; postject injects the blob into a
// stripped copy of the running `node` binary. Node 20's SEA runs one CommonJS script whose `require` loads
// built-in modules only, which shapes the bundle (see bundle()).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { buildNotifyAddon } from '../signal-client/src/systemd/native/build.js';

export const IMAGES_DIR = fileURLToPath(new URL('.', import.meta.url));
export const REPO_ROOT = resolve(IMAGES_DIR, '..');
export const DIST_DIR = join(IMAGES_DIR, 'dist');
const ENTRY = join(REPO_ROOT, 'signal-client', 'src', 'main.ts');
/** The fuse Node's SEA loader looks for; postject flips it when the blob is injected. */
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

/**
 * Optional dependencies of our dependencies, left out on purpose; each is loaded inside
 * try/catch by its user, and in the bundle it throws when loaded, as a missing one would:
 * - protobufjs: ccxt needs it for the mexc and dydx exchanges only (not installed);
 * - bufferutil, utf-8-validate: ws's native accelerators for frame masking and UTF-8 checks.
 *   bufferutil finds its addon with node-gyp-build, by searching node_modules at run time,
 *   which a single executable does not have; ws's JavaScript fallback is plenty for the few
 *   frames a device sends, and Node 20 checks UTF-8 natively (buffer.isUtf8).
 */
const ABSENT = [/^protobufjs(\/|$)/, /^bufferutil(\/|$)/, /^utf-8-validate(\/|$)/];

export interface BuildOptions {
  /** The entry point to bundle. Default signal-client/src/main.ts. */
  entry?: string;
  /** Emptied, then filled. Default images/dist. */
  outDir?: string;
  /** The executable's file name. Default signal-client. */
  name?: string;
}

export interface BundleInput {
  path: string;
  bytes: number;
}

export interface BuildResult {
  executable: string;
  /** The bundled client, a CommonJS script (`node` runs it too, given the addons beside it). */
  bundle: string;
  /** Native addons copied beside the executable, by file name. */
  addons: string[];
  bundleBytes: number;
  /** The ccxt exchange classes in the bundle (only `binance`: see runtime/src/ccxt/classes.ts). */
  ccxtExchanges: string[];
  /**
   * What the bundle is made of: each input file (a path relative to the repository, as
   * esbuild's metafile names it) with the bytes it contributes to the bundle, largest first.
   */
  inputs: BundleInput[];
  executableBytes: number;
  ms: number;
}

const builtins = new Set(builtinModules);
const isBuiltin = (spec: string) => spec.startsWith('node:') || builtins.has(spec);

/**
 * Resolves what a SEA cannot load from node_modules at run time:
 * - built-in modules become `require(...)` of the built-in, evaluated where they are used;
 * - `.node` addons become a load from the executable's folder (the file is copied there);
 * - absent optional packages become a module that throws when loaded.
 * Nothing is left external, so the ESM bundle has no `import` statement to convert.
 */
function seaPlugin(addons: Map<string, string>): Plugin {
  return {
    name: 'sea',
    setup(b) {
      b.onResolve({ filter: /\.node$/ }, (args) => {
        const file = resolve(args.resolveDir, args.path);
        const name = basename(file);
        const known = addons.get(name);
        if (known && known !== file) {
          return { errors: [{ text: `two native addons are both named ${name}: ${known} and ${file}` }] };
        }
        addons.set(name, file);
        return { path: name, namespace: 'sea-addon' };
      });
      // ccxt's index evaluates every exchange class it has (over a hundred, ~28 MiB of a
      // device's memory); the device takes binance's from @appliance/runtime/ccxt.
      b.onResolve({ filter: /^ccxt$/ }, (args) => ({
        errors: [
          {
            text: `${args.importer} imports ccxt's index, which loads every exchange: import { ccxt } from '@appliance/runtime/ccxt' (binance only)`,
          },
        ],
      }));
      b.onResolve({ filter: /^[^./]/ }, (args) => {
        if (isBuiltin(args.path)) return { path: args.path, namespace: 'sea-builtin' };
        if (ABSENT.some((re) => re.test(args.path))) return { path: args.path, namespace: 'sea-absent' };
        return undefined;
      });
      b.onLoad({ filter: /.*/, namespace: 'sea-builtin' }, (args) => ({
        // Not `require(...)`: esbuild would resolve that again, to this very module.
        contents: `module.exports = __seaRequire(${JSON.stringify(args.path)});`,
        loader: 'js',
      }));
      b.onLoad({ filter: /.*/, namespace: 'sea-addon' }, (args) => ({
        contents: `module.exports = __seaLoadAddon(${JSON.stringify(args.path)});`,
        loader: 'js',
      }));
      b.onLoad({ filter: /.*/, namespace: 'sea-absent' }, (args) => ({
        contents: `throw Object.assign(new Error(${JSON.stringify(`Cannot find module '${args.path}' (not part of the signal-client executable)`)}), { code: 'MODULE_NOT_FOUND' });`,
        loader: 'js',
      }));
    },
  };
}

/**
 * The CommonJS script around the ESM bundle. ESM first, because main.ts (like any ESM entry)
 * may use top-level await, which esbuild cannot emit as CommonJS; the whole bundle then runs
 * inside an async function, where `await` is allowed, and a rejection ends the process as an
 * uncaught top-level one would. `import.meta.url` becomes the executable's own file URL.
 */
function wrap(esm: string): string {
  return [
    '"use strict";',
    '// signal-client: bundled by images/build-client.ts for a Node.js single executable.',
    'const __seaRequire = require;',
    'const __seaImportMetaUrl = require("node:url").pathToFileURL(process.execPath).href;',
    'function __seaLoadAddon(name) {',
    '  // Native addons live beside the executable (SEA require() loads built-ins only).',
    '  const file = require("node:path").join(require("node:path").dirname(process.execPath), name);',
    '  const mod = { exports: {} };',
    '  process.dlopen(mod, file);',
    '  return mod.exports;',
    '}',
    '(async () => {',
    esm.replace(/^#!.*\n/, ''), // main.ts's shebang: legal only on a file's first line
    '})().catch((err) => {',
    '  console.error(err);',
    '  process.exit(1);',
    '});',
    '',
  ].join('\n');
}

async function bundle(
  entry: string,
  outFile: string,
  addons: Map<string, string>,
): Promise<{ ccxtExchanges: string[]; inputs: BundleInput[] }> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // Smaller and faster to parse; names are kept so stack traces in the journal stay legible.
    minifyWhitespace: true,
    minifySyntax: true,
    keepNames: true,
    legalComments: 'none',
    define: { 'import.meta.url': '__seaImportMetaUrl' },
    // jsonc-parser's `main` is a UMD build whose factory require()s its own files at run time,
    // which esbuild cannot see and a single executable cannot load; its ESM build (`module`)
    // imports them statically, so they are bundled. Node itself (tsx, the gateway) uses `main`.
    alias: { 'jsonc-parser': 'jsonc-parser/lib/esm/main.js' },
    plugins: [seaPlugin(addons)],
    metafile: true,
    logLevel: 'error',
  });
  const output = result.outputFiles[0]!;
  const meta = Object.values(result.metafile.outputs)[0]!;
  // esbuild leaves a require() it cannot resolve inside try/catch as is (ws's optional
  // utf-8-validate): at run time the SEA's require() throws and the caller falls back, as it
  // would with the package not installed. Any other unresolved import is a build error.
  const stray = meta.imports.filter((i) => i.external && i.kind !== 'require-call');
  if (stray.length > 0 || meta.exports.length > 0) {
    throw new Error(`the bundle must be self-contained: imports ${JSON.stringify(stray)}`);
  }
  if (/\bimport\.meta\b/.test(output.text)) {
    throw new Error('the bundle still uses import.meta, which a CommonJS script cannot');
  }
  writeFileSync(outFile, wrap(output.text));
  const ccxtExchanges = Object.keys(result.metafile.inputs)
    .map((f) => /node_modules\/ccxt\/js\/src\/([a-z0-9]+)\.js$/.exec(f)?.[1])
    .filter((x): x is string => x !== undefined)
    .sort();
  const inputs = Object.entries(meta.inputs)
    .map(([path, { bytesInOutput }]) => ({ path, bytes: bytesInOutput }))
    .sort((a, b) => b.bytes - a.bytes);
  return { ccxtExchanges, inputs };
}

/** Runs a build step; on failure the error says which step and what it printed. */
function run(file: string, args: string[]): void {
  try {
    execFileSync(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stderr?: Buffer; stdout?: Buffer; message: string };
    const out = `${e.stdout?.toString() ?? ''}${e.stderr?.toString() ?? ''}`.trim();
    throw new Error(`${basename(file)} ${args.join(' ')} failed:\n${out || e.message}`, { cause: err });
  }
}

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** Bundles, makes the SEA blob, injects it into a copy of this Node, copies the addons. */
export async function buildClient(options: BuildOptions = {}): Promise<BuildResult> {
  const started = Date.now();
  const outDir = options.outDir ?? DIST_DIR;
  const executable = join(outDir, options.name ?? 'signal-client');
  const work = join(outDir, 'work');
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });

  const addons = new Map<string, string>();
  // Our own addon is loaded by path (signal-client/src/systemd/addon.ts), not imported.
  addons.set('sd_notify.node', buildNotifyAddon({ outFile: join(work, 'sd_notify.node'), force: true }));
  const script = join(work, `${basename(executable)}.cjs`);
  const { ccxtExchanges, inputs } = await bundle(options.entry ?? ENTRY, script, addons);

  const blob = join(work, 'sea-prep.blob');
  const seaConfig = join(work, 'sea-config.json');
  writeFileSync(
    seaConfig,
    JSON.stringify({
      main: script,
      output: blob,
      disableExperimentalSEAWarning: true,
      // V8's compiled code for the bundle goes into the blob: ccxt is big, and parsing it on a
      // 1.2 GHz T520 at every start is the largest part of start-up.
      useCodeCache: true,
    }),
  );
  run(process.execPath, ['--experimental-sea-config', seaConfig]);

  copyFileSync(process.execPath, executable);
  chmodSync(executable, 0o755);
  // The symbol tables are for debuggers (12 MB of Node 20's 99): the device has none. The
  // dynamic symbols stay, as the addons link against Node-API through them.
  run('strip', ['--strip-all', executable]);
  const postject = join(
    dirname(createRequire(import.meta.url).resolve('postject/package.json')),
    'dist',
    'cli.js',
  );
  run(process.execPath, [postject, executable, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_FUSE]);

  for (const [name, file] of addons) copyFileSync(file, join(outDir, name));
  const files = [executable, ...[...addons.keys()].map((n) => join(outDir, n))];
  writeFileSync(
    join(outDir, 'MANIFEST.json'),
    `${JSON.stringify(
      {
        node: process.version,
        files: Object.fromEntries(
          files.map((f) => [basename(f), { bytes: statSync(f).size, sha256: sha256(f) }]),
        ),
      },
      null,
      2,
    )}\n`,
  );
  return {
    executable,
    addons: [...addons.keys()],
    bundle: script,
    bundleBytes: statSync(script).size,
    ccxtExchanges,
    inputs,
    executableBytes: statSync(executable).size,
    ms: Date.now() - started,
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const r = await buildClient();
  const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;
  process.stdout.write(
    `built ${r.executable} (${mb(r.executableBytes)}; bundle ${mb(r.bundleBytes)}) ` +
      `with ${r.addons.join(', ')} beside it, in ${(r.ms / 1000).toFixed(1)} s\n`,
  );
}
