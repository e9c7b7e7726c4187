import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { findHaproxy, checkHaproxyConfig } from './check.js';
import { parseCluster, type ClusterInput } from './cluster.js';
import { ensureDenyListFile } from './deny-list.js';
import { HaproxyError } from './errors.js';
import { renderHaproxyConfig } from './render.js';

/** A HAProxy process started from a cluster description, and its admin socket. */
export interface RunningHaproxy {
  readonly process: ChildProcess;
  readonly configFile: string;
  /** One command on the admin socket; resolves with HAProxy's whole answer. */
  admin(command: string): Promise<string>;
  /** Each gateway's row of `show stat`, column → value (`status`, `chkfail`, `chkdown`, …). */
  serverStats(): Promise<Record<string, Record<string, string>>>;
  /** Each gateway's status as HAProxy sees it (`UP`, `DOWN`, `MAINT`, `DRAIN`, …). */
  serverStatus(): Promise<Record<string, string>>;
  /** Resolves once every named gateway (default: all) is in `status`. */
  waitFor(status: string, names?: string[], timeoutMs?: number): Promise<void>;
  /** The last lines HAProxy printed, for error messages. */
  tail(lines?: number): string;
  /** SIGTERM and wait for the exit. Idempotent. */
  stop(): Promise<void>;
}

const BACKEND = 'be_gateways';

/**
 * Renders, checks (`haproxy -c`) and starts HAProxy in the foreground (`-db`) with its config
 * in `dir` (inside the network namespace `options.netns` if given). The stats socket and
 * certificate paths come from the description. A process that
 * dies while the caller still runs would leave HAProxy behind, so it is killed on exit.
 */
export async function startHaproxy(
  input: ClusterInput,
  dir: string,
  options: { netns?: string } = {},
): Promise<RunningHaproxy> {
  const haproxy = findHaproxy();
  if (!haproxy)
    throw new HaproxyError('E_HAPROXY_NOT_FOUND', 'haproxy is not installed: apt-get install haproxy');
  const cluster = parseCluster(input);
  if (cluster.denyList) await ensureDenyListFile(cluster.denyList.file);
  const text = renderHaproxyConfig(cluster);
  await checkHaproxyConfig(text, haproxy);
  const configFile = join(dir, 'haproxy.cfg');
  await writeFile(configFile, text, { mode: 0o600 });

  const output: string[] = [];
  // With `netns`, inside that network namespace: its addresses are the ones bound.
  const [command, args] = options.netns
    ? ['ip', ['netns', 'exec', options.netns, haproxy, '-f', configFile, '-db']]
    : [haproxy, ['-f', configFile, '-db']];
  const proc = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const keep = (d: Buffer) => {
    output.push(d.toString());
    if (output.length > 200) output.splice(0, output.length - 200);
  };
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const killOnExit = () => proc.kill('SIGKILL');
  process.on('exit', killOnExit);
  const tail = (lines = 20) => output.join('').split('\n').slice(-lines).join('\n');

  const admin = (command: string) =>
    new Promise<string>((resolve, reject) => {
      const s = connect(cluster.stats.socket);
      let out = '';
      s.on('connect', () => s.write(`${command}\n`));
      s.on('data', (d) => (out += d.toString()));
      s.on('end', () => resolve(out));
      s.on('error', reject);
    });

  const serverStats = async () => {
    const csv = await admin('show stat');
    const [head, ...rows] = csv.trim().split('\n');
    const cols = head!.replace(/^# /, '').split(',');
    const out: Record<string, Record<string, string>> = {};
    for (const r of rows) {
      const row = Object.fromEntries(cols.map((c, i) => [c, r.split(',')[i] ?? '']));
      if (row.pxname === BACKEND && row.svname !== 'BACKEND' && row.svname !== 'FRONTEND')
        out[row.svname!] = row;
    }
    return out;
  };
  const serverStatus = async () =>
    Object.fromEntries(Object.entries(await serverStats()).map(([name, row]) => [name, row.status!]));

  const names = cluster.gateways.map((g) => g.name);
  const waitForStatus = async (status: string, which = names, timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs;
    let last: Record<string, string> = {};
    for (;;) {
      if (proc.exitCode !== null || proc.signalCode !== null)
        throw new HaproxyError('E_HAPROXY_INVALID', `haproxy exited (${proc.exitCode}):\n${tail()}`);
      try {
        last = await serverStatus();
        if (which.every((n) => last[n] === status)) return;
      } catch {
        /* the admin socket is not there yet */
      }
      if (Date.now() > deadline)
        throw new Error(
          `timed out after ${timeoutMs} ms waiting for ${which.join(', ')} to be ${status} ` +
            `(now ${JSON.stringify(last)}):\n${tail()}`,
        );
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  return {
    process: proc,
    configFile,
    admin,
    serverStats,
    serverStatus,
    waitFor: waitForStatus,
    tail,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
      process.off('exit', killOnExit);
    },
  };
}
