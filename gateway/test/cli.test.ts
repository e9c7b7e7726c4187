// The gateway's command line: bad settings are refused at start with every problem named.
import { spawnSync } from 'node:child_process';
import t from 'tap';
import { REPO_ROOT } from '@appliance/test-kit';

const KEY = 'A'.repeat(43);
const run = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, ['--import', 'tsx', 'gateway/src/main.ts', ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, KAFKA_BROKERS: '', GATEWAY_TOKEN_KEYS: '', ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });

t.test('bad options exit 2 naming each problem, before touching Kafka', async (t) => {
  const r = run(['--token-key', KEY, '--ring-capacity', 'lots', '--max-payload', '10', '--port', '70000']);
  t.equal(r.status, 2);
  t.match(r.stderr, /invalid gateway configuration/);
  t.match(r.stderr, /kafka: KAFKA_BROKERS \(or --kafka\) is required/);
  t.match(r.stderr, /port: /);
  t.equal(r.stdout, '', 'nothing started, nothing logged');
});

t.test('tuning options are checked against their limits', async (t) => {
  const r = run([
    ...['--kafka', '127.0.0.1:1', '--token-key', KEY],
    ...['--ring-capacity', 'lots', '--max-payload', '10', '--inbound-burst', '0'],
  ]);
  t.equal(r.status, 2);
  t.match(r.stderr, /ringCapacity: .*expected number/);
  t.match(r.stderr, /maxPayload: .*>=1024/);
  t.match(r.stderr, /inboundBurst: .*>=1/);
});

t.test('--help lists every option with the defaults', async (t) => {
  const r = run(['--help']);
  t.equal(r.status, 0);
  for (const flag of [
    '--kafka',
    '--token-key',
    '--proxy-protocol',
    '--ring-capacity',
    '--send-high-water-bytes',
  ])
    t.match(r.stdout, flag);
  t.match(r.stdout, /Defaults: ring 10000/);
});
