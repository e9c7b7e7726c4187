/**
 * Keys never leave the device. A full run with canary key material: the device trades with it,
 * then every outbound WebSocket frame, every telemetry record on the bus, every log line, the
 * state file, the status page and any core dump of a crash are searched for it. Zero hits.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { randomBytes } from 'node:crypto';
import t from 'tap';
import WebSocket, { WebSocketServer } from 'ws';
import { TOPICS } from '@appliance/protocol';
import { REPO_ROOT, requireTool, waitFor } from '@appliance/test-kit';
import { buildNotifyAddon } from '../src/systemd/native/build.js';
import { READY_MESSAGE } from '../src/index.js';
import { startStack } from './stack.js';

const TSX = import.meta.resolve('tsx');

/** Starts a process with core dumps allowed (RLIMIT_CORE unlimited) in `cwd`, where the kernel writes them. */
function spawnWithCores(cwd: string, args: string[], env: Record<string, string>) {
  const proc = spawn('prlimit', ['--core=unlimited', '--', process.execPath, ...args], {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: string[] = [];
  createInterface({ input: proc.stdout! }).on('line', (l) => out.push(l));
  createInterface({ input: proc.stderr! }).on('line', (l) => out.push(l));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => proc.on('exit', (_c, s) => resolve(s)));
  return { proc, out, exited };
}

const cores = (dir: string) => readdirSync(dir).filter((f) => /^core/.test(f));

t.test(
  'canary key material is in no frame, telemetry record, log line, state file, status page or core dump',
  async (t) => {
    if (!requireTool('prlimit', 'util-linux')) return t.comment('prlimit is not installed');
    buildNotifyAddon(); // the device makes itself non-dumpable with it

    // Control: on this machine a crashing process that is dumpable does leave a core file, so the
    // device leaving none below is its own doing.
    const controlDir = mkdtempSync(join(tmpdir(), 'core-control-'));
    const control = spawnWithCores(
      controlDir,
      ['-e', "console.log('ready'); setTimeout(() => {}, 60000)"],
      {},
    );
    await waitFor(() => control.out.includes('ready'), 'the control process to run');
    control.proc.kill('SIGABRT');
    t.equal(await control.exited, 'SIGABRT');
    // No wait: with a file core_pattern the kernel writes the dump before the exit is reported,
    // so the check on the device below needs no grace period either.
    t.ok(cores(controlDir).length > 0, 'a dumpable process that crashes leaves a core file here');
    rmSync(controlDir, { recursive: true, force: true });

    const stack = await startStack(t);
    const canary = {
      apiKey: `CANARYKEY${randomBytes(24).toString('hex')}`,
      secret: `CANARYSECRET${randomBytes(24).toString('hex')}`,
    };
    stack.paper.addAccount({ ...canary, balances: { USDT: 10_000 } });

    // A recording proxy in front of the gateway: every frame the device sends passes through it.
    const frames: string[] = [];
    const proxy = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((r) => proxy.once('listening', r));
    t.teardown(() => proxy.close());
    const gatewayUrl = ((await stack.deviceConfig('dev-canary', 'x')) as { gatewayUrl: string }).gatewayUrl;
    proxy.on('connection', (device, req) => {
      const upstream = new WebSocket(gatewayUrl, {
        headers: { authorization: req.headers.authorization ?? '' },
      });
      const queued: string[] = [];
      upstream.on('open', () => queued.splice(0).forEach((m) => upstream.send(m)));
      device.on('message', (d) => {
        frames.push(d.toString());
        if (upstream.readyState === WebSocket.OPEN) upstream.send(d.toString());
        else queued.push(d.toString());
      });
      upstream.on('message', (d) => device.readyState === WebSocket.OPEN && device.send(d.toString()));
      upstream.on('close', () => device.close());
      device.on('close', () => upstream.close());
    });
    const telemetry: string[] = [];
    await stack.bus.subscribe({
      topic: TOPICS.telemetry,
      from: 'earliest',
      onMessage: (m) => void telemetry.push(m.value.toString()),
    });

    await stack.signal('sell', 40_000); // the stream exists before the device first connects
    const dir = mkdtempSync(join(tmpdir(), 'canary-'));
    const stateFile = join(dir, 'state.json');
    const configFile = join(dir, 'device.json');
    const statusPort = 20_000 + Math.floor(Math.random() * 20_000);
    const config = await stack.deviceConfig('dev-canary', stateFile, {
      gatewayUrl: `ws://127.0.0.1:${(proxy.address() as { port: number }).port}`,
      statusPort,
      telemetryIntervalMs: 200,
    });
    writeFileSync(configFile, JSON.stringify(config));
    const device = spawnWithCores(
      dir,
      ['--import', TSX, join(REPO_ROOT, 'signal-client/src/main.ts'), 'run', '--config', configFile],
      {
        EXCHANGE_API_KEY: canary.apiKey,
        EXCHANGE_API_SECRET: canary.secret,
        LOG_LEVEL: 'debug',
      },
    );
    t.teardown(() => void device.proc.kill('SIGKILL'));
    await waitFor(
      () => device.out.some((l) => l.includes(`"msg":"${READY_MESSAGE}"`)),
      'the device to be ready',
      60_000,
    );
    t.notOk(
      device.out.some((l) => l.includes('core dumps are not disabled')),
      'the device made itself non-dumpable',
    );
    // Live once (it keeps the gateway's position per partition): what it is sent from now on,
    // it will act on. (A device following every stream keeps resume points only for streams a
    // verified signal came from.)
    await waitFor(
      () => {
        try {
          return JSON.parse(readFileSync(stateFile, 'utf8')).since !== undefined;
        } catch {
          return false;
        }
      },
      'the device to have been live',
      30_000,
    );
    await stack.signal('buy', 40_000);
    await stack.signal('sell', 40_200); // within 1 %: the buy may already see this price
    await waitFor(
      () => device.out.filter((l) => l.includes('"outcome":"executed"')).length === 2,
      'two executed orders',
      60_000,
    ).catch((err: Error) => {
      throw new Error(
        `${err.message}; device said:\n${device.out
          .filter((l) => l.includes('decision') || l.includes('error'))
          .slice(-6)
          .join('\n')}`,
      );
    });
    // Decision reports leave in batches (a quarter of a second after the decision): wait for one.
    await waitFor(
      () => telemetry.length >= 3 && frames.some((f) => f.includes('"type":"decisions"')),
      'telemetry and a batch of decision reports',
      30_000,
    );
    const page = [
      await (await fetch(`http://127.0.0.1:${statusPort}/`)).text(),
      await (await fetch(`http://127.0.0.1:${statusPort}/status.json`)).text(),
    ];

    // Crash it the way a fault would: SIGABRT, with core dumps allowed by rlimit.
    device.proc.kill('SIGABRT');
    t.equal(await device.exited, 'SIGABRT');
    const coreFiles = cores(dir);
    t.same(coreFiles, [], 'no core dump: the process was not dumpable');

    const haystacks: Record<string, string> = {
      'WebSocket frames': frames.join('\n'),
      'telemetry records': telemetry.join('\n'),
      'log lines': device.out.join('\n'),
      'state file': readFileSync(stateFile, 'utf8'),
      'status page': page.join('\n'),
      ...Object.fromEntries(
        coreFiles.map((f) => [`core dump ${f}`, readFileSync(join(dir, f)).toString('latin1')]),
      ),
    };
    for (const [where, text] of Object.entries(haystacks)) {
      t.ok(text.length > 0, `${where}: something to search`);
      t.notOk(
        text.includes(canary.apiKey) || text.includes(canary.secret),
        `${where}: no canary key material`,
      );
    }
    t.ok(
      frames.some((f) => f.includes('"type":"decisions"')) &&
        frames.some((f) => f.includes('"type":"telemetry"')),
      'the frames include decisions and telemetry',
    );
    t.ok(statSync(stateFile).size > 0);
    // The key did reach the exchange, so the search looked for something that was really in use.
    t.equal(stack.paper.orders(canary.apiKey).length, 2, 'the canary key traded');
  },
);
