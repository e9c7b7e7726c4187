import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { requireTool, waitFor } from '@appliance/test-kit';
import { buildNotifyAddon } from '../src/systemd/native/build.js';

// The real protocol end to end: a child process sends with the native addon, a listener
// bound like PID 1's notify socket receives, and we read what systemd would have read.

const FIXTURE = fileURLToPath(new URL('./fixtures/notify-child.ts', import.meta.url));
const LISTENER = fileURLToPath(new URL('./fixtures/notify-listener.py', import.meta.url));

interface Datagram {
  pid: number | null;
  message: string;
}

function lines(proc: ChildProcess, into: string[]) {
  createInterface({ input: proc.stdout! }).on('line', (l) => into.push(l));
  createInterface({ input: proc.stderr! }).on('line', (l) => into.push(l));
}

/** A python3 listener on `address` (a path or @abstract name), stopped at teardown. */
async function listen(t: Test, address: string) {
  const proc = spawn('python3', [LISTENER, address], { stdio: ['ignore', 'pipe', 'pipe'] });
  const out: string[] = [];
  lines(proc, out);
  t.teardown(() => {
    proc.kill();
  });
  await waitFor(
    () => out.some((l) => l.includes('"listening"')),
    `listener on ${address}\n${out.join('\n')}`,
  );
  const datagrams = () => out.filter((l) => l.startsWith('{"pid"')).map((l) => JSON.parse(l) as Datagram);
  return { datagrams, out };
}

/** The fixture as its own process, with the notify environment systemd would give it. */
function child(t: Test, mode: string, env: Record<string, string | undefined>) {
  const { NOTIFY_SOCKET: _n, WATCHDOG_USEC: _u, WATCHDOG_PID: _p, ...rest } = process.env;
  const proc = spawn(process.execPath, ['--import', 'tsx', FIXTURE, mode], {
    env: { ...rest, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: string[] = [];
  lines(proc, out);
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  t.teardown(() => {
    proc.kill('SIGKILL');
  });
  return { proc, out, exited };
}

const messages = (ds: Datagram[]) => ds.map((d) => d.message);

const skip = requireTool('python3', 'python3') ? false : 'python3 is not installed (apt-get install python3)';

t.before(() => {
  buildNotifyAddon();
});

t.test('sends READY=1 with STATUS, status lines and WATCHDOG=1 from its own pid', { skip }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'notify-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const socket = join(dir, 'notify');
  const listener = await listen(t, socket);
  // 400 ms watchdog: pings every 200 ms at the latest, checks every 100 ms.
  const c = child(t, 'healthy', { NOTIFY_SOCKET: socket, WATCHDOG_USEC: '400000' });
  await waitFor(
    () => messages(listener.datagrams()).filter((m) => m === 'WATCHDOG=1').length >= 3,
    `three watchdog pings\n${c.out.join('\n')}\n${listener.out.join('\n')}`,
  );
  t.same(JSON.parse(c.out[0]!), { enabled: true, watchdogIntervalMs: 200 });
  const got = listener.datagrams();
  t.equal(got[0]!.message, 'READY=1\nSTATUS=reconciling 2 intents', 'READY=1 first, with what it is doing');
  t.ok(messages(got).includes('STATUS=connected to gw-1, 14 decisions today'), 'STATUS= says what it does');
  t.ok(
    got.every((d) => d.pid === c.proc.pid),
    'every datagram comes from the main pid, so NotifyAccess=main suffices',
  );
  c.proc.kill('SIGTERM');
  t.equal(await c.exited, 0);
  await waitFor(() => messages(listener.datagrams()).includes('STOPPING=1\nSTATUS=stopping'), 'STOPPING=1');
});

t.test('reaches an abstract socket given as @name', { skip }, async (t) => {
  const name = `@signal-client-test-${process.pid}-${Date.now()}`;
  const listener = await listen(t, name);
  const c = child(t, 'healthy', { NOTIFY_SOCKET: name });
  await waitFor(
    () => messages(listener.datagrams()).includes('READY=1\nSTATUS=reconciling 2 intents'),
    `READY=1 on ${name}\n${c.out.join('\n')}`,
  );
  t.same(JSON.parse(c.out[0]!), { enabled: true, watchdogIntervalMs: null }, 'no WATCHDOG_USEC, no watchdog');
  c.proc.kill('SIGTERM');
  t.equal(await c.exited, 0);
});

t.test('sends no WATCHDOG=1 while the event loop is blocked, and resumes after', { skip }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'notify-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const socket = join(dir, 'notify');
  const listener = await listen(t, socket);
  const c = child(t, 'block', { NOTIFY_SOCKET: socket, WATCHDOG_USEC: '400000' });
  const after = (marker: string) => {
    const ms = messages(listener.datagrams());
    const i = ms.indexOf(marker);
    return i < 0 ? undefined : ms.slice(i + 1);
  };
  await waitFor(
    () => (after('STATUS=test: unblocked') ?? []).includes('WATCHDOG=1'),
    `pings after the loop is free again\n${c.out.join('\n')}\n${listener.out.join('\n')}`,
    20_000,
  );
  const all = messages(listener.datagrams());
  const during = all.slice(all.indexOf('STATUS=test: blocking') + 1, all.indexOf('STATUS=test: unblocked'));
  t.ok(all.indexOf('WATCHDOG=1') < all.indexOf('STATUS=test: blocking'), 'pinged while healthy');
  t.notOk(during.includes('WATCHDOG=1'), `no ping while blocked: ${JSON.stringify(during)}`);
  t.match(
    during.find((m) => m.startsWith('STATUS=unhealthy')),
    /^STATUS=unhealthy: event loop lag \d+ ms > 150 ms \(connected to gw-1, 14 decisions today\)$/,
    'STATUS= says why',
  );
});

t.test('sends no WATCHDOG=1 once a journal write has failed', { skip }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'notify-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const socket = join(dir, 'notify');
  const listener = await listen(t, socket);
  const c = child(t, 'journal-failing', { NOTIFY_SOCKET: socket, WATCHDOG_USEC: '400000' });
  await waitFor(
    () => messages(listener.datagrams()).some((m) => m.startsWith('STATUS=unhealthy: journal')),
    `unhealthy status\n${c.out.join('\n')}\n${listener.out.join('\n')}`,
  );
  const failingFrom = messages(listener.datagrams()).indexOf('STATUS=test: journal failing');
  // Ten check periods' worth of the child's markers (the checks run every 100 ms on the same
  // loop), none of which may ping.
  const TICK = 'STATUS=test: tick';
  await waitFor(
    () => messages(listener.datagrams()).filter((m) => m === TICK).length >= 10,
    'ten check periods after the failure',
  );
  const since = messages(listener.datagrams())
    .slice(failingFrom + 1)
    .filter((m) => m !== TICK);
  t.ok(since.length > 0);
  t.notOk(since.includes('WATCHDOG=1'), `no ping after the failure: ${JSON.stringify(since)}`);
  t.match(since[0], /^STATUS=unhealthy: journal write failed \d+ s ago: EROFS: read-only file system \(/);
});

t.test('is a no-op without NOTIFY_SOCKET and never loads the addon', async (t) => {
  const c = child(t, 'unset', { WATCHDOG_USEC: '400000' });
  t.equal(await c.exited, 0, c.out.join('\n'));
  t.same(JSON.parse(c.out[0]!), {
    enabled: false,
    watchdogIntervalMs: null,
    sent: [false, false, false, false],
  });
});
