import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { TOPICS } from '@appliance/protocol';
import { requireTool, waitFor } from '@appliance/test-kit';
import { READY_MESSAGE } from '../../signal-client/src/signal-client.js';
import { startStack } from '../../signal-client/test/stack.js';
import { buildClient, type BuildResult } from '../build-client.js';

// The executable is built afresh into a temp folder (images/dist is left alone), then copied
// to another folder and run with `env -i`: no PATH, no node, nothing of this checkout.

const NOTIFY_FIXTURE = fileURLToPath(
  new URL('../../signal-client/test/fixtures/notify-child.ts', import.meta.url),
);
const LISTENER = fileURLToPath(
  new URL('../../signal-client/test/fixtures/notify-listener.py', import.meta.url),
);

const root = mkdtempSync(join(tmpdir(), 'build-client-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));

/** Copies the executable and its addons to a fresh folder, as the image build will. */
function install(build: BuildResult, folder: string, { addons = true } = {}): string {
  const dir = join(root, folder);
  mkdirSync(dir);
  const exe = join(dir, build.executable.split('/').pop()!);
  copyFileSync(build.executable, exe);
  if (addons) for (const a of build.addons) copyFileSync(join(build.executable, '..', a), join(dir, a));
  return exe;
}

/** `env -i [VAR=value...] exe args...`, in `cwd`. */
function runClean(exe: string, args: string[], env: Record<string, string> = {}, cwd = root) {
  const vars = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  return spawnSync('/usr/bin/env', ['-i', ...vars, exe, ...args], { cwd, encoding: 'utf8', timeout: 30_000 });
}

let client: BuildResult;

t.before(async () => {
  client = await buildClient({ outDir: join(root, 'dist') });
  t.comment(
    `built in ${(client.ms / 1000).toFixed(1)} s: executable ${(client.executableBytes / 2 ** 20).toFixed(1)} MiB, ` +
      `bundle ${(client.bundleBytes / 2 ** 20).toFixed(1)} MiB, addons ${client.addons.join(', ')}`,
  );
});

t.test('the executable runs where no Node.js is installed', async (t) => {
  const exe = install(client, 'opt');
  t.same(client.ccxtExchanges, ['binance'], "ccxt's binance class is in the bundle, no other exchange");
  // Entry points as narrow as the device's needs (issue #9): the bus adapter and the servers'
  // HTTP framework stay out. The ws client is in (the device's link to the gateway).
  const packages = new Set(
    client.inputs.map((i) => /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(i.path)?.[1]),
  );
  t.ok(packages.has('ws'), 'ws is in the bundle (so the package names are read right)');
  t.notOk(packages.has('kafkajs'), 'no kafkajs in the bundle');
  t.notOk(packages.has('fastify'), 'no fastify in the bundle');
  const libs = execFileSync('ldd', [exe], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.trim().split(/\s/)[0]!)
    .filter(Boolean)
    .map((l) => l.replace(/^.*\//, '').replace(/\.so.*$/, ''))
    .sort();
  t.same(
    libs,
    ['ld-linux-x86-64', 'libc', 'libdl', 'libgcc_s', 'libm', 'libpthread', 'libstdc++', 'linux-vdso'],
    'links only what a minimal Debian has',
  );

  const help = runClean(exe, ['--help']);
  t.equal(help.status, 0, help.stderr);
  t.match(help.stdout, /^Usage: signal-client \[options\] \[command\]/);
  t.match(help.stdout, /\brun \[options\]/);
  t.equal(help.stderr, '', 'no warnings either');

  const missing = runClean(exe, ['run', '--config', join(root, 'nope.json')]);
  t.equal(missing.status, 2);
  t.equal(
    missing.stderr,
    `invalid signal-client configuration:\n  - config (--config, SIGNAL_CLIENT_CONFIG): ${join(root, 'nope.json')}: cannot be read (ENOENT)\n`,
  );

  const bad = join(root, 'bad.json');
  writeFileSync(bad, JSON.stringify({ deviceId: 'Not Valid' }));
  const invalid = runClean(exe, ['run', '--config', bad]);
  t.equal(invalid.status, 2);
  t.match(invalid.stderr, /^invalid signal-client configuration:\n {2}- deviceId: /);
});

t.test(
  'the executable connects through a real gateway, decides and reaches the paper exchange',
  async (t) => {
    const exe = install(client, 'device');
    const stack = await startStack(t);
    const keys = stack.account();
    const dir = mkdtempSync(join(root, 'state-'));
    const config = join(dir, 'config.json');
    writeFileSync(
      config,
      JSON.stringify(
        await stack.deviceConfig('dev-sea', join(dir, 'state.json'), { keystore: { backend: 'env' } }),
      ),
    );
    const vars = { EXCHANGE_API_KEY: keys.apiKey, EXCHANGE_API_SECRET: keys.secret, LOG_LEVEL: 'info' };
    const proc = spawn(
      '/usr/bin/env',
      ['-i', ...Object.entries(vars).map(([k, v]) => `${k}=${v}`), exe, 'run', '--config', config],
      { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const logs: { msg?: string; outcome?: string }[] = [];
    const text: string[] = [];
    createInterface({ input: proc.stdout }).on('line', (l) => {
      try {
        logs.push(JSON.parse(l) as { msg?: string });
      } catch {
        text.push(l);
      }
    });
    createInterface({ input: proc.stderr }).on('line', (l) => text.push(l));
    const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
    t.teardown(() => {
      proc.kill('SIGKILL');
    });
    const seen = () => `${logs.map((l) => JSON.stringify(l)).join('\n')}\n${text.join('\n')}`;
    await waitFor(
      () => logs.some((l) => l.msg === READY_MESSAGE),
      `the device to be ready\n${seen()}`,
      30_000,
    );
    // Its first telemetry is relayed once the gateway has taken its hello: from then on it is
    // sent every new signal (one published before that would be, rightly, never delivered).
    let reported = false;
    const records: { type?: string; decision?: { signalId?: string } }[] = [];
    const sub = await stack.bus.subscribe({
      topic: TOPICS.telemetry,
      from: 'earliest',
      onMessage: (m) => {
        if (m.key !== 'dev-sea') return;
        reported = true;
        records.push(JSON.parse(m.value.toString()) as (typeof records)[number]);
      },
    });
    t.teardown(() => sub.close());
    await waitFor(() => reported, `the device's first telemetry\n${seen()}`);

    const signal = await stack.signal('buy', 40_000);
    await waitFor(() => logs.some((l) => l.msg === 'decision'), `a decision\n${seen()}`);
    // A funded account and a buy at the market price (as in signal-client's own tests): the
    // bundled verify -> decide -> ccxt path must place the order. A bundle that decides but
    // cannot trade (say, ccxt's binance class missing) must fail here, not pass with no order.
    const decision = logs.find((l) => l.msg === 'decision') as { signal?: string; outcome?: string };
    t.equal(decision.signal, signal.id, 'decided on the signal it was sent');
    t.equal(decision.outcome, 'executed', `the order was executed (${JSON.stringify(decision)})`);
    const orders = stack.paper.orders(keys.apiKey);
    t.equal(orders.length, 1, 'exactly one order on the paper exchange');
    t.equal(orders[0]?.side, 'BUY', 'the buy it was sent');

    // Idle: connected, nothing left to do once its report of the decision is on the bus (the
    // last thing a trade makes it do). `env` exec()s the client, so the pid is the client's.
    await waitFor(
      () => records.some((r) => r.type === 'decision' && r.decision?.signalId === signal.id),
      `the decision report on the bus\n${seen()}`,
    );
    const status = readFileSync(`/proc/${proc.pid}/status`, 'utf8');
    const rssKb = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)![1]);
    t.comment(`idle RSS after a trade: ${(rssKb / 1024).toFixed(1)} MiB`);
    t.ok(rssKb < 200 * 1024, `idle RSS ${rssKb} kB is bounded`);

    proc.kill('SIGTERM');
    t.equal(await exited, 0, 'SIGTERM: a clean stop');
  },
);

t.test("an import of ccxt's index fails the build, naming the file", async (t) => {
  const entry = join(root, 'imports-ccxt.mjs');
  writeFileSync(entry, "import ccxt from 'ccxt';\nconsole.log(Object.keys(ccxt).length);\n");
  await t.rejects(
    buildClient({ entry, outDir: join(root, 'dist-ccxt') }),
    /imports-ccxt\.mjs imports ccxt's index, which loads every exchange/,
  );
});

t.test('the sd_notify addon is loaded from beside the executable', async (t) => {
  if (!requireTool('python3', 'python3'))
    return t.comment('python3 is not installed: apt-get install python3');
  const fixture = await buildClient({
    entry: NOTIFY_FIXTURE,
    outDir: join(root, 'fixture'),
    name: 'notify-child',
  });
  const socket = join(root, 'notify.sock');
  const listener = spawn('python3', [LISTENER, socket], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => {
    listener.kill();
  });
  const got: string[] = [];
  createInterface({ input: listener.stdout }).on('line', (l) => got.push(l));
  await waitFor(() => got.length > 0, 'the listener');

  const exe = install(fixture, 'notify');
  const child = spawn('/usr/bin/env', ['-i', `NOTIFY_SOCKET=${socket}`, exe, 'healthy'], { stdio: 'ignore' });
  t.teardown(() => {
    child.kill('SIGKILL');
  });
  await waitFor(() => got.some((l) => l.includes('READY=1')), 'READY=1 from the single executable');
  child.kill('SIGTERM');

  const bare = install(fixture, 'no-addon', { addons: false });
  const r = runClean(bare, ['healthy'], { NOTIFY_SOCKET: socket });
  t.not(r.status, 0, 'without the addon it stops rather than run unsupervised');
  t.match(
    r.stderr,
    `NotifyError: sd_notify.node not found (looked in ${join(root, 'no-addon', 'sd_notify.node')}`,
  );
});
