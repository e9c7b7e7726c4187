import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The addon's C source, beside this file. */
const NOTIFY_ADDON_SOURCE = fileURLToPath(new URL('./sd_notify.c', import.meta.url));
/** Where a development checkout keeps the built addon (git-ignored); `../addon.ts` looks here. */
const NOTIFY_ADDON_DEV_BUILD = fileURLToPath(new URL('./build/sd_notify.node', import.meta.url));

// Hardened like a Debian package build; -Werror so a new compiler warning is looked at.
const CFLAGS = [
  '-std=gnu11',
  '-O2',
  '-fPIC',
  '-shared',
  '-Wall',
  '-Wextra',
  '-Werror',
  '-fvisibility=hidden',
  '-fstack-protector-strong',
  '-D_FORTIFY_SOURCE=2',
  '-Wl,-z,relro,-z,now',
  '-s',
];

export interface BuildNotifyAddonOptions {
  /** Default: the development build path. */
  outFile?: string;
  /** Rebuild even when the output is newer than the source. Default false. */
  force?: boolean;
}

/** Node's headers: `<prefix>/include/node` of the running Node, or npm's `nodedir` if set. */
function nodeIncludeDir(): string {
  const candidates = [
    process.env.npm_config_nodedir && join(process.env.npm_config_nodedir, 'include', 'node'),
    join(dirname(dirname(process.execPath)), 'include', 'node'),
  ].filter((d): d is string => Boolean(d));
  const found = candidates.find((d) => existsSync(join(d, 'node_api.h')));
  if (!found) {
    throw new Error(
      `Node.js headers (node_api.h) not found in ${candidates.join(' or ')}: install Node with its headers`,
    );
  }
  return found;
}

/**
 * Compiles the sd_notify addon from source with the system C compiler (`cc`, Debian `gcc`).
 * One C file that uses only Node-API needs no node-gyp: this is the command node-gyp would
 * run, without Python, gyp or a header download. Returns the path of the `.node` file.
 */
export function buildNotifyAddon(options: BuildNotifyAddonOptions = {}): string {
  const outFile = options.outFile ?? NOTIFY_ADDON_DEV_BUILD;
  if (
    !options.force &&
    existsSync(outFile) &&
    statSync(outFile).mtimeMs >= statSync(NOTIFY_ADDON_SOURCE).mtimeMs
  ) {
    return outFile;
  }
  mkdirSync(dirname(outFile), { recursive: true });
  // Built beside it, then renamed over it: a process loading the addon while tests build it in
  // parallel sees the old file or the new one, never half of one.
  const tmp = `${outFile}.${process.pid}.tmp`;
  const args = [...CFLAGS, '-I', nodeIncludeDir(), '-o', tmp, NOTIFY_ADDON_SOURCE];
  try {
    execFileSync('cc', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    renameSync(tmp, outFile);
  } catch (err) {
    rmSync(tmp, { force: true });
    const e = err as NodeJS.ErrnoException & { stderr?: Buffer };
    if (e.code === 'ENOENT') throw new Error('cc not found: apt-get install gcc', { cause: err });
    throw new Error(`building ${outFile} failed:\n${e.stderr?.toString() ?? e.message}`, { cause: err });
  }
  return outFile;
}

// `node --import tsx signal-client/src/systemd/native/build.ts` builds it for a checkout.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.stdout.write(`${buildNotifyAddon({ force: true })}\n`);
}
