/**
 * Runs wg, wg-quick and ip: execFile (no shell: nothing in an argument is ever interpreted), a
 * timeout, secrets only in private files (withPrivateFile), and failures as WireguardErrors that carry what the tool printed.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { APT_HINT, WireguardError } from './errors.js';

/** Where root's tools live on Debian; not on every user's PATH. */
const SBIN = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

/** A PATH that has the sbin folders, for us and for wg-quick (a bash script that runs ip and wg). */
function toolPath(): string {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  return [...dirs, ...SBIN.filter((d) => !dirs.includes(d))].join(delimiter);
}

/** The absolute path of a tool, or undefined when it is not installed. */
export function findTool(name: string): string | undefined {
  for (const dir of toolPath().split(delimiter)) {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      /* not in this folder */
    }
  }
  return undefined;
}

export interface RunOptions {
  /** Run inside this network namespace (`ip netns exec <ns> ...`). */
  netns?: string | undefined;
  timeoutMs?: number;
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

/**
 * The environment wg-quick gets: the userspace implementation to fall back to when the kernel
 * has no wireguard module (wireguard-go), without its banner urging the kernel module.
 */
function env(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PATH: toolPath(),
    WG_QUICK_USERSPACE_IMPLEMENTATION: process.env.WG_QUICK_USERSPACE_IMPLEMENTATION ?? 'wireguard-go',
    WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD: '1',
  };
}

/**
 * Runs `tool args` (inside `netns` when given) and resolves with its output; a missing tool is
 * E_WG_NOT_FOUND, a non-zero exit or a timeout E_WG_COMMAND with the command and its stderr.
 */
export function run(tool: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const bin = findTool(tool);
  if (!bin)
    return Promise.reject(new WireguardError('E_WG_NOT_FOUND', `${tool} is not installed: ${APT_HINT}`));
  let file = bin;
  let argv = args;
  if (opts.netns !== undefined) {
    const ip = findTool('ip');
    if (!ip) return Promise.reject(new WireguardError('E_WG_NOT_FOUND', `ip is not installed: ${APT_HINT}`));
    file = ip;
    argv = ['netns', 'exec', opts.netns, bin, ...args];
  }
  // What we say we ran: never the input (it may hold a key).
  const shown = [
    opts.netns === undefined ? '' : `ip netns exec ${opts.netns} `,
    tool,
    ...args.map((a) => ` ${a}`),
  ].join('');
  const timeout = opts.timeoutMs ?? 15_000;
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      argv,
      { timeout, killSignal: 'SIGKILL', env: env(), maxBuffer: 64 * 2 ** 20, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (!err) return resolve({ stdout, stderr });
        const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: unknown };
        const output = `${stderr}${stdout}`.trim();
        if (e.code === 'ENOENT' || /exec of ".*" failed: No such file/.test(stderr))
          return reject(
            new WireguardError(
              'E_WG_NOT_FOUND',
              `cannot run ${shown}: ${tool} is not installed (${APT_HINT})`,
              {
                output,
              },
              { cause: err },
            ),
          );
        const why = e.killed ? `timed out after ${timeout} ms` : `exit ${String(e.code)}`;
        reject(
          new WireguardError(
            'E_WG_COMMAND',
            `${shown}: ${why}${output ? `:\n${output}` : ''}`,
            { output },
            {
              cause: err,
            },
          ),
        );
      },
    );
    // Nothing on stdin: a tool that reads it must not wait for the timeout.
    child.stdin?.end();
  });
}

/**
 * Runs `fn` with `text` in a private file, `<dir>/<name>`, then deletes it. For configs and keys:
 * never argv (visible in ps) and not stdin either (Node gives a child a socket, not a pipe, as
 * stdin, and `wg` cannot fopen /dev/stdin on a socket). The folder is mode 0700 and the file 0600,
 * in /dev/shm when there is one, so a key is never written to a disk.
 */
export async function withPrivateFile<T>(
  name: string,
  text: string,
  fn: (file: string) => Promise<T>,
): Promise<T> {
  const base = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  const dir = await mkdtemp(join(base, 'appliance-wg-'));
  try {
    const file = join(dir, name);
    await writeFile(file, text, { mode: 0o600 });
    return await fn(file);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
