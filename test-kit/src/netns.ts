/**
 * Network namespaces for tests and benches: each a private network stack (its own interfaces,
 * addresses, routes and ports), joined to others by veth pairs, so tunnels and servers run as if
 * on separate machines while every packet stays on this host. Needs root (CAP_NET_ADMIN and
 * CAP_SYS_ADMIN) and iproute2.
 *
 *   const skip = requireNetnsTools({ wg: 'wireguard-tools' });
 *   t.test('...', { skip }, async (t) => {
 *     const hub = await createNetns('hub');
 *     t.teardown(() => hub.destroy());
 *     ...
 *   });
 */
import { execFile, execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { createInterface } from 'node:readline';

const SBIN = ['/usr/local/sbin', '/usr/sbin', '/sbin'];
const PATH = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...SBIN].join(delimiter);

function which(tool: string): string | undefined {
  for (const dir of PATH.split(delimiter)) {
    try {
      accessSync(join(dir, tool), constants.X_OK);
      return join(dir, tool);
    } catch {
      /* not here */
    }
  }
  return undefined;
}

/**
 * Whether namespace tests can run here: root, and `ip` plus the `extra` tools (name -> apt
 * package). Returns false when they can, else the reason, ready for tap's `{ skip }`. Under
 * `CI=true` a missing tool or root throws instead: a broken CI image is not a reason to pass.
 */
export function requireNetnsTools(extra: Record<string, string> = {}): false | string {
  const tools: Record<string, string> = { ip: 'iproute2', ...extra };
  const missing = Object.entries(tools).filter(([tool]) => !which(tool));
  let reason: string | undefined;
  if (missing.length) {
    const pkgs = [...new Set(missing.map(([, pkg]) => pkg))].join(' ');
    reason = `${missing.map(([t]) => t).join(', ')} not installed (apt-get install ${pkgs})`;
  } else if (process.getuid?.() !== 0) {
    reason = 'network namespaces need root (ip netns add)';
  }
  if (!reason) return false;
  if (process.env.CI === 'true') throw new Error(`${reason}, and CI must be able to run namespace tests`);
  return reason;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
}

/** `file args` with execFile (no shell), a timeout, and the command and its stderr in the error. */
export function execTool(file: string, args: string[], timeoutMs = 15_000): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      { timeout: timeoutMs, killSignal: 'SIGKILL', encoding: 'utf8', env: { ...process.env, PATH } },
      (err, stdout, stderr) => {
        if (err)
          reject(
            new Error(`${[file, ...args].join(' ')} failed: ${stderr.trim() || err.message}`, { cause: err }),
          );
        else resolve({ stdout, stderr });
      },
    );
    child.stdin?.end();
  });
}

const ip = (args: string[]) => execTool(which('ip') ?? 'ip', args);

let counter = 0;
/** This process's id in base 36: short, and unique among live processes. */
const PID = process.pid.toString(36);

/**
 * A name unique to this call, for an interface (≤ 15 characters): `prefix` (≤ 5 characters)
 * plus the process id and a counter. Interfaces in different namespaces may share a name, but
 * not always their user-space state (wireguard-go's sockets are per host), so make them unique.
 */
export function uniqueIfName(prefix: string): string {
  if (!/^[a-z][a-z0-9]{0,4}$/.test(prefix)) throw new Error(`uniqueIfName: prefix ${prefix}: 1-5 of a-z 0-9`);
  return `${prefix}${PID}${(counter++).toString(36)}`.slice(0, 15);
}

export interface Netns {
  readonly name: string;
  /** Runs `cmd args` inside the namespace (`ip netns exec`) and resolves with its output. */
  exec(cmd: string, args?: string[], opts?: { timeoutMs?: number }): Promise<ExecResult>;
  /** Starts `cmd args` inside the namespace; killed by destroy() if still running. */
  spawn(cmd: string, args?: string[], opts?: SpawnOptions): ChildProcess;
  /** Ends every process in the namespace, deletes the links made for it and the namespace. */
  destroy(): Promise<void>;
}

interface NsState {
  name: string;
  /** Links on the host side to delete (veth ends connected to 'host'). */
  hostLinks: string[];
  destroyed: boolean;
}

const live = new Map<string, NsState>();
/** Where a Netns keeps its state, out of the public interface. */
const RECORD = Symbol('netns state');

/** Last resort when a test crashed past its teardown: synchronously, as the process exits. */
process.once('exit', () => {
  for (const r of live.values()) destroySync(r);
});

function destroySync(r: NsState): void {
  const ipBin = which('ip') ?? 'ip';
  try {
    const pids = execFileSync(ipBin, ['netns', 'pids', r.name], { encoding: 'utf8' })
      .split(/\s+/)
      .filter(Boolean);
    for (const pid of pids) killQuietly(Number(pid), 'SIGKILL');
  } catch {
    /* gone */
  }
  for (const link of r.hostLinks) {
    try {
      execFileSync(ipBin, ['link', 'del', link], { stdio: 'ignore' });
    } catch {
      /* gone with its peer */
    }
  }
  try {
    execFileSync(ipBin, ['netns', 'del', r.name], { stdio: 'ignore' });
  } catch {
    /* gone */
  }
  live.delete(r.name);
}

function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    /* already gone */
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function pidsIn(name: string): Promise<number[]> {
  try {
    return (await ip(['netns', 'pids', name])).stdout.split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

async function destroy(r: NsState): Promise<void> {
  if (r.destroyed) return;
  r.destroyed = true;
  // Processes first: a namespace lives on while one of its processes does (wireguard-go too).
  let pids = await pidsIn(r.name);
  for (const pid of pids) killQuietly(pid, 'SIGTERM');
  for (let i = 0; i < 50 && pids.length; i++) {
    await sleep(20);
    pids = await pidsIn(r.name);
  }
  for (const pid of pids) killQuietly(pid, 'SIGKILL');
  for (const link of r.hostLinks) await ip(['link', 'del', link]).catch(() => undefined);
  // Deleting the namespace takes its interfaces (and so the other ends of their veths) with it.
  await ip(['netns', 'del', r.name]).catch(() => undefined);
  live.delete(r.name);
}

/**
 * A new, empty network namespace with `lo` up, named `prefix-<pid>-<n>` (unique per call and
 * process). Destroy it in a teardown: `t.teardown(() => ns.destroy())`.
 */
export async function createNetns(prefix: string): Promise<Netns> {
  if (!/^[a-z][a-z0-9-]{0,19}$/.test(prefix))
    throw new Error(`createNetns: prefix ${prefix}: 1-20 of a-z 0-9 -`);
  let name = '';
  for (;;) {
    name = `${prefix}-${PID}-${(counter++).toString(36)}`;
    try {
      await ip(['netns', 'add', name]);
      break;
    } catch (err) {
      // Left over from an earlier process with our pid: take the next number.
      if (!/File exists/.test((err as Error).message)) throw err;
    }
  }
  const r: NsState = { name, hostLinks: [], destroyed: false };
  live.set(name, r);
  await ip(['-n', name, 'link', 'set', 'lo', 'up']);
  const ipBin = which('ip') ?? 'ip';
  const netns: Netns & { [RECORD]: NsState } = {
    name,
    [RECORD]: r,
    exec: (cmd, args = [], opts = {}) =>
      execTool(ipBin, ['netns', 'exec', name, cmd, ...args], opts.timeoutMs),
    spawn: (cmd, args = [], opts = {}) =>
      spawn(ipBin, ['netns', 'exec', name, cmd, ...args], { env: { ...process.env, PATH }, ...opts }),
    destroy: () => destroy(r),
  };
  return netns;
}

/**
 * A veth pair between `a` and `b` (another namespace, or the host's own stack), with `aAddr` and
 * `bAddr` (`172.31.x.y/24`) on its ends and both ends up. Returns the two interface names.
 */
export async function connectVeth(
  a: Netns,
  b: Netns | 'host',
  aAddr: string,
  bAddr: string,
): Promise<{ aIf: string; bIf: string }> {
  const aIf = uniqueIfName('va');
  const bIf = uniqueIfName('vb');
  const bNs = b === 'host' ? [] : ['netns', b.name];
  await ip(['link', 'add', 'name', aIf, 'netns', a.name, 'type', 'veth', 'peer', 'name', bIf, ...bNs]);
  if (b === 'host') (a as Netns & { [RECORD]: NsState })[RECORD].hostLinks.push(bIf);
  const inA = ['-n', a.name];
  const inB = b === 'host' ? [] : ['-n', b.name];
  await ip([...inA, 'address', 'add', aAddr, 'dev', aIf]);
  await ip([...inB, 'address', 'add', bAddr, 'dev', bIf]);
  await ip([...inA, 'link', 'set', aIf, 'up']);
  await ip([...inB, 'link', 'set', bIf, 'up']);
  return { aIf, bIf };
}

// --- UDP probes: reachability and a continuous stream, measured inside the namespaces ----------

/**
 * One small Node.js program for every probe (no ping here: iputils is not installed). Modes:
 *   echo PORT                          answers every datagram with itself; prints "ready"
 *   probe HOST PORT TIMEOUT_MS         sends until an answer or the timeout; prints ok/timeout
 *   stream HOST PORT INTERVAL_MS       sends a numbered datagram every INTERVAL_MS until stdin
 *                                      closes, then prints {sentAt:[ms...], replies:[[seq, atMs]...]}
 * Times are epoch milliseconds with sub-millisecond resolution (performance.timeOrigin + now).
 */
const PROBE = String.raw`
const dgram = require('node:dgram');
const [mode, a, b, c] = process.argv.slice(1);
const now = () => performance.timeOrigin + performance.now();
const s = dgram.createSocket('udp4');
if (mode === 'echo') {
  s.on('message', (m, r) => s.send(m, r.port, r.address));
  s.bind(Number(a), '0.0.0.0', () => console.log('ready'));
} else if (mode === 'probe') {
  const stop = setTimeout(() => { console.log('timeout'); process.exit(0); }, Number(c));
  s.on('message', () => { clearTimeout(stop); console.log('ok'); process.exit(0); });
  const send = () => s.send('probe', Number(b), a, () => {});
  s.on('error', () => {});
  send(); setInterval(send, 100);
} else if (mode === 'stream') {
  let seq = 0; const replies = []; const sentAt = [];
  s.on('error', () => {});
  s.on('message', (m) => replies.push([Number(m.toString()), now()]));
  const timer = setInterval(() => { sentAt.push(now()); s.send(String(seq++), Number(b), a, () => {}); }, Number(c));
  process.stdin.on('data', () => {});
  process.stdin.on('end', () => {
    clearInterval(timer);
    // Answers still on their way: wait until every datagram sent has one, for at most 3 s, so a
    // loaded machine's late echo is not counted lost.
    const deadline = now() + 3000;
    const report = () => {
      const answered = new Set(replies.map((r) => r[0])).size;
      if (answered < sentAt.length && now() < deadline) return void setTimeout(report, 20);
      console.log(JSON.stringify({ sentAt, replies }));
      process.exit(0);
    };
    setTimeout(report, 20);
  });
  console.log('ready');
}`;

function firstLine(child: ChildProcess, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    lines.once('line', (l) => resolve(l));
    child.once('exit', (code) => reject(new Error(`${what} exited (${code}) before answering: ${stderr}`)));
  });
}

/** A UDP echo server on `port` inside `ns`; resolves once it listens. destroy() ends it. */
export async function startUdpEcho(ns: Netns, port: number): Promise<ChildProcess> {
  const child = ns.spawn(process.execPath, ['-e', PROBE, 'echo', String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  await firstLine(child, 'udp echo');
  return child;
}

/** Whether a UDP echo at host:port answers from inside `ns` within `timeoutMs` (no assertion on time). */
export async function udpReachable(
  ns: Netns,
  host: string,
  port: number,
  timeoutMs = 1500,
): Promise<boolean> {
  const child = ns.spawn(process.execPath, ['-e', PROBE, 'probe', host, String(port), String(timeoutMs)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return (await firstLine(child, 'udp probe')) === 'ok';
}

export interface UdpStreamResult {
  sent: number;
  received: number;
  /** Sequence numbers sent but never answered (stragglers are waited for, up to 3 s after stop()). */
  lost: number[];
  /** Gaps between consecutive answers, ms, in order. */
  gapsMs: number[];
  maxGapMs: number;
  /** When each datagram was sent (epoch ms), by sequence number. */
  sentAtMs: number[];
  /** Arrival time (epoch ms) of each answer, by sequence number. */
  replies: Array<[seq: number, atMs: number]>;
}

export interface UdpStream {
  stop(): Promise<UdpStreamResult>;
}

/**
 * From inside `ns`, a datagram every `intervalMs` to a UDP echo at host:port, each answer's
 * arrival recorded in that process (so the test runner's own pauses do not count). stop()
 * ends the stream and returns what was lost and the gaps between answers.
 */
export async function startUdpStream(
  ns: Netns,
  host: string,
  port: number,
  intervalMs = 10,
): Promise<UdpStream> {
  const child = ns.spawn(process.execPath, ['-e', PROBE, 'stream', host, String(port), String(intervalMs)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const lines = createInterface({ input: child.stdout! });
  const out: string[] = [];
  lines.on('line', (l) => out.push(l));
  await new Promise<void>((resolve, reject) => {
    lines.once('line', () => resolve());
    child.once('exit', (code) => reject(new Error(`udp stream exited (${code}) before starting`)));
  });
  return {
    async stop() {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.stdin!.end();
      await exited;
      const report = JSON.parse(out.at(-1) ?? '{}') as { sentAt: number[]; replies: Array<[number, number]> };
      const seen = new Set(report.replies.map(([s]) => s));
      const lost: number[] = [];
      for (let s = 0; s < report.sentAt.length; s++) if (!seen.has(s)) lost.push(s);
      const gapsMs = report.replies.slice(1).map(([, t], i) => t - report.replies[i]![1]);
      return {
        sent: report.sentAt.length,
        sentAtMs: report.sentAt,
        received: report.replies.length,
        lost,
        gapsMs,
        maxGapMs: gapsMs.length ? Math.max(...gapsMs) : 0,
        replies: report.replies,
      };
    },
  };
}
