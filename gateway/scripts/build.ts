// Compiles the gateway ahead of time: `npm run build:gateway` writes gateway/dist/gateway.mjs,
// run with plain `node gateway/dist/gateway.mjs [options]` (the options of gateway/src/main.ts).
//
// Why: under `node --import tsx` the TypeScript loader runs in a thread of its own with its own
// V8 heap, about 35 MiB of RSS that a process serving thousands of devices should not carry.
// Our workspaces are bundled into the one file; npm packages stay in node_modules and are
// loaded from there, so the file runs from the repository checkout (or a copy with its
// node_modules) and needs no build of its dependencies.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const GATEWAY_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const GATEWAY_BUNDLE = join(GATEWAY_DIR, 'dist', 'gateway.mjs');

/** Bundles gateway/src/main.ts into `outfile` (default gateway/dist/gateway.mjs); returns its path. */
export async function buildGateway(outfile = GATEWAY_BUNDLE): Promise<string> {
  await build({
    entryPoints: [join(GATEWAY_DIR, 'src', 'main.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'error',
    plugins: [
      {
        name: 'npm-packages-stay-external',
        setup(b) {
          b.onResolve({ filter: /^[^./]/ }, (args) =>
            args.path.startsWith('@appliance/') ? undefined : { path: args.path, external: true },
          );
        },
      },
    ],
  });
  return outfile;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = await buildGateway();
  process.stdout.write(`gateway compiled: ${out}\nrun: node ${out} --help\n`);
}
