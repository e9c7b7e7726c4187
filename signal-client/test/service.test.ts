/**
 * The real client as systemd runs it: `signal-client run` with NOTIFY_SOCKET and WATCHDOG_USEC,
 * a pending intent left by a crash, and a listener standing in for PID 1. READY=1 comes only
 * after the intent is settled; watchdog pings follow; SIGTERM says STOPPING=1.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { REPO_ROOT, requireTool, waitFor } from '@appliance/test-kit';
import { buildNotifyAddon } from '../src/systemd/native/build.js';
import { startStack } from './stack.js';

const LISTENER = fileURLToPath(new URL('./fixtures/notify-listener.py', import.meta.url));

t.test(
  'under systemd the client reports READY=1 only after reconciling, then feeds the watchdog',
  async (t) => {
    if (!requireTool('python3', 'python3')) return t.comment('python3 is not installed');
    buildNotifyAddon();
    const stack = await startStack(t);
    const keys = stack.account(10_000);
    const dev = await stack.device({ id: 'dev-svc', keys });
    await dev.client.stop();

    // A crash after the order reached the exchange, before the answer was recorded.
    const s = await stack.signal('buy', 40_000);
    const id = await stack.orderSentBeforeCrash('dev-svc', keys, dev.stateFile, s);

    const dir = mkdtempSync(join(tmpdir(), 'svc-'));
    const socket = join(dir, 'notify');
    const listener = spawn('python3', [LISTENER, socket], { stdio: ['ignore', 'pipe', 'pipe'] });
    t.teardown(() => void listener.kill());
    const heard: string[] = [];
    createInterface({ input: listener.stdout! }).on('line', (l) => heard.push(l));
    await waitFor(() => heard.some((l) => l.includes('"listening"')), 'the notify listener');
    const datagrams = () =>
      heard.filter((l) => l.startsWith('{"pid"')).map((l) => (JSON.parse(l) as { message: string }).message);

    const configFile = join(dir, 'device.json');
    writeFileSync(configFile, JSON.stringify(await stack.deviceConfig('dev-svc', dev.stateFile)));
    const proc = spawn(
      process.execPath,
      ['--import', 'tsx', 'signal-client/src/main.ts', 'run', '--config', configFile],
      {
        cwd: REPO_ROOT,
        env: {
          ...process.env,
          NOTIFY_SOCKET: socket,
          WATCHDOG_USEC: '2000000',
          EXCHANGE_API_KEY: keys.apiKey,
          EXCHANGE_API_SECRET: keys.secret,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
    t.teardown(() => void proc.kill('SIGKILL'));

    await waitFor(() => datagrams().some((m) => m.startsWith('READY=1')), 'READY=1', 60_000);
    const intent = JSON.parse(readFileSync(dev.stateFile, 'utf8')).intents[id];
    t.equal(intent.status, 'done', 'the pending intent was settled before READY=1');
    const before = datagrams().slice(
      0,
      datagrams().findIndex((m) => m.startsWith('READY=1')),
    );
    t.same(
      before,
      ['STATUS=starting: loading state', 'STATUS=reconciling 1 intent'],
      'what it was doing, before it was ready',
    );
    t.match(
      datagrams().find((m) => m.startsWith('READY=1')),
      /^READY=1\nSTATUS=connecting to 127\.0\.0\.1:\d+$/,
    );

    await waitFor(() => datagrams().filter((m) => m === 'WATCHDOG=1').length >= 2, 'watchdog pings', 30_000);
    await waitFor(
      () => datagrams().some((m) => /^STATUS=connected to 127\.0\.0\.1:\d+, \d+ decisions? today$/.test(m)),
      'a connected status line',
      30_000,
    );
    proc.kill('SIGTERM');
    t.equal(await exited, 0, 'SIGTERM stops it cleanly');
    t.ok(datagrams().includes('STOPPING=1\nSTATUS=stopping'), 'and it tells systemd it is stopping');
    t.equal(stack.paper.orders(keys.apiKey).length, 1, 'the order was not sent again');
  },
);
