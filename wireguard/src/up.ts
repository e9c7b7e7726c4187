/**
 * Brings a tunnel up and down the way the appliance does (`wg-quick@wg0.service` runs
 * `wg-quick up wg0`), optionally inside a network namespace. Without the kernel module (this
 * machine, CI), wg-quick itself falls back to wireguard-go (WG_QUICK_USERSPACE_IMPLEMENTATION),
 * so this is a thin wrapper: the same script, the same Address, routes and PostUp handling.
 *
 * One catch with wireguard-go: it talks to `wg` over /var/run/wireguard/<name>.sock, a path that is
 * NOT per network namespace. Two userspace interfaces with one name in two namespaces would share
 * that socket (the second fails to start; `wg` would reach the first). Names must therefore be
 * unique on the host; bringUp refuses a name whose socket exists.
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { WireguardError } from './errors.js';
import { run } from './exec.js';
import { WgInterface } from './interface.js';

/** Where wireguard-go (and wg, looking for it) keeps each interface's control socket. */
export const WG_RUN_DIR = '/var/run/wireguard';

export interface BringUpOptions {
  /** wg-quick config (wg0.conf format). */
  confFile: string;
  /** The interface name; default: the file's name without `.conf` (wg-quick's rule). */
  name?: string;
  netns?: string;
  timeoutMs?: number;
}

const NAME = /^[a-zA-Z0-9_=+.-]{1,15}$/;

/**
 * `wg-quick up` (in `netns` when given): creates the interface (kernel, or wireguard-go), sets
 * the config, addresses, MTU, routes for every peer's AllowedIPs and runs PostUp. Resolves with
 * a WgInterface for per-peer changes. Throws E_WG_COMMAND with wg-quick's output.
 */
export async function bringUp(opts: BringUpOptions): Promise<WgInterface> {
  const fromFile = basename(opts.confFile).replace(/\.conf$/, '');
  const name = opts.name ?? fromFile;
  if (!NAME.test(name))
    throw new WireguardError(
      'E_INVALID',
      `name: not an interface name (1-15 of a-z A-Z 0-9 _ = + . -): ${name}`,
    );
  if (existsSync(join(WG_RUN_DIR, `${name}.sock`)))
    throw new WireguardError(
      'E_WG_COMMAND',
      `a userspace WireGuard interface named ${name} already runs on this host (${WG_RUN_DIR}/${name}.sock), ` +
        'perhaps in another network namespace: its control socket is shared by all of them, so pick a unique name',
    );
  // wg-quick names the interface after the file: under another name, use a private copy.
  let dir: string | undefined;
  let file = opts.confFile;
  if (name !== fromFile || !opts.confFile.endsWith('.conf')) {
    dir = await mkdtemp(join(tmpdir(), 'wg-up-'));
    file = join(dir, `${name}.conf`);
    await copyFile(opts.confFile, file);
  }
  try {
    await run('wg-quick', ['up', file], { netns: opts.netns, timeoutMs: opts.timeoutMs ?? 30_000 });
  } finally {
    if (dir) await rm(dir, { recursive: true, force: true });
  }
  return new WgInterface({ name, ...(opts.netns === undefined ? {} : { netns: opts.netns }) });
}

/** wireguard-go processes serving `name`, found by their command line (`wireguard-go <name>`). */
async function wireguardGoPids(name: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = (await readFile(`/proc/${entry}/cmdline`, 'utf8')).split('\0');
      if (basename(argv[0] ?? '') === 'wireguard-go' && argv.at(-2) === name) pids.push(Number(entry));
    } catch {
      /* gone meanwhile */
    }
  }
  return pids;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Deletes the interface (`ip link del`), which also removes its addresses and routes and makes
 * wireguard-go exit; waits for its socket to go, and ends a wireguard-go that lingers. Does
 * nothing, without error, when the interface is already gone.
 */
export async function bringDown(opts: { name: string; netns?: string; timeoutMs?: number }): Promise<void> {
  if (!NAME.test(opts.name))
    throw new WireguardError('E_INVALID', `name: not an interface name: ${opts.name}`);
  try {
    await run('ip', ['link', 'del', 'dev', opts.name], {
      netns: opts.netns,
      timeoutMs: opts.timeoutMs ?? 15_000,
    });
  } catch (err) {
    if (!(WireguardError.is(err, 'E_WG_COMMAND') && /Cannot find device/.test(err.output))) throw err;
  }
  const socket = join(WG_RUN_DIR, `${opts.name}.sock`);
  for (let i = 0; i < 50 && existsSync(socket); i++) await sleep(20);
  if (!existsSync(socket)) return;
  // Still there after a second: the daemon did not notice its device went. End it ourselves.
  for (const pid of await wireguardGoPids(opts.name)) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      /* already gone */
    }
  }
  for (let i = 0; i < 50 && existsSync(socket); i++) await sleep(20);
  await rm(socket, { force: true });
}
