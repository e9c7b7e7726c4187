/**
 * `npm start` as a person runs it: the whole system in one command, a replay of real candles,
 * the printed dashboard URL, a demo device that comes online and trades, and Ctrl-C.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import t from 'tap';
import { REPO_ROOT, cliRunner, hasStackTrace, helpNamesEveryOption, waitFor } from '@appliance/test-kit';

const BTC = new URL('../../../shared/data/ohlcv/binance_BTC-USDT_1h.csv', import.meta.url).pathname;

t.test(
  'npm start runs the system: the demo device comes online and fills, and Ctrl-C stops it cleanly',
  async (t) => {
    const proc = spawn(
      process.execPath,
      ['--import', 'tsx', 'scripts/start.ts', '--replay', BTC, '--speed', '360000', '--port', '0'],
      {
        cwd: REPO_ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const out: string[] = [];
    createInterface({ input: proc.stdout! }).on('line', (l) => out.push(l));
    createInterface({ input: proc.stderr! }).on('line', (l) => out.push(l));
    const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
    t.teardown(() => void proc.kill('SIGKILL'));

    // The banner's lines arrive one by one: wait for its last, the market data line.
    await waitFor(() => out.some((l) => l.includes('Market data:')), 'the start-up banner', 60_000);
    const m = /Dashboard:\s+(http:\/\/127\.0\.0\.1:\d+)\/#token=([A-Za-z0-9_-]+)/.exec(out.join('\n'));
    t.ok(m, 'the dashboard URL carries the admin token in its fragment');
    const [, base, token] = m!;
    t.match(out.join('\n'), /Market data:\s+replay of .*binance_BTC-USDT_1h\.csv at 360000x/);

    let fleet: { devices: { id: string; online: boolean; fills: number }[] } = { devices: [] };
    await waitFor(
      async () => {
        const res = await fetch(`${base}/api/fleet`, { headers: { authorization: `Bearer ${token}` } });
        fleet = (await res.json()) as typeof fleet;
        return fleet.devices.some((d) => d.online && d.fills > 0);
      },
      'the demo device online with a fill',
      90_000,
      500,
    );
    t.match(fleet.devices, [{ id: 'demo-device', online: true }]);
    t.ok(
      out.some((l) => /device: executed\s+buy/.test(l)),
      'the person at the terminal sees what the device did',
    );

    proc.kill('SIGINT');
    t.equal(await exited, 0, 'Ctrl-C exits cleanly');
    t.notOk(
      out.some((l) => /Error|unhandled/i.test(l)),
      `no errors printed:\n${out.filter((l) => /Error/i.test(l)).join('\n')}`,
    );
  },
);

const OPTIONS = [
  ['--replay', 'START_REPLAY'],
  ['--speed', 'START_SPEED'],
  ['--live', 'START_LIVE'],
  ['--port', 'PORT'],
  ['--data-dir', 'START_DATA_DIR'],
  ['--config', 'START_CONFIG'],
] as const;
const run = cliRunner('scripts/start.ts', OPTIONS);

t.test('npm start takes its options through the process shell', async (t) => {
  const { status, missing } = helpNamesEveryOption(run, OPTIONS);
  t.equal(status, 0);
  t.same(missing, [], 'every option with its variable');
  const bad = run(['--speed', '-1'], { PORT: '70000' });
  t.equal(bad.status, 2, 'bad values exit 2');
  t.equal(
    bad.stderr,
    'invalid npm start configuration:\n' +
      "  - speed (--speed, START_SPEED): a positive multiple of real time, or 'max'\n" +
      '  - port (--port, PORT): Too big: expected number to be <=65535\n',
  );
  t.notOk(hasStackTrace(bad.stderr), 'no stack trace');
  t.equal(run(['--no-such-flag']).status, 2, 'an unknown flag exits 2');
});
