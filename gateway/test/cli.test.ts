// The gateway's command line: bad settings are refused at start with every problem named.
import { spawnSync } from 'node:child_process';
import t from 'tap';
import { REPO_ROOT } from '@appliance/test-kit';

const KEY = 'A'.repeat(43);
const run = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, ['--import', 'tsx', 'gateway/src/main.ts', ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, KAFKA_BROKERS: '', GATEWAY_TOKEN_KEYS: '', GATEWAY_SIGNAL_KEYS: '', ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });

t.test('bad options exit 2 naming each problem, before touching Kafka', async (t) => {
  const r = run(['--token-key', KEY, '--ring-capacity', 'lots', '--max-payload', '10', '--port', '70000']);
  t.equal(r.status, 2);
  t.match(r.stderr, /invalid gateway configuration/);
  t.match(r.stderr, /kafka: KAFKA_BROKERS \(or --kafka\) is required/);
  t.match(r.stderr, /port: /);
  t.match(
    r.stderr,
    /signalKeys: GATEWAY_SIGNAL_KEYS \(or --signal-key\) is required: the datafeeds' public keys/,
    'the datafeed keys are required: the gateway relays only what they signed',
  );
  t.equal(r.stdout, '', 'nothing started, nothing logged');
});

t.test('signal keys come from --signal-key or GATEWAY_SIGNAL_KEYS and must be keys', async (t) => {
  const bad = run(['--kafka', '127.0.0.1:1', '--token-key', KEY, '--signal-key', 'not-a-key']);
  t.equal(bad.status, 2);
  t.match(bad.stderr, /signalKeys\.0: signal key: base64url Ed25519 public key/);
  const fromEnv = run(['--kafka', '127.0.0.1:1', '--token-key', KEY, '--max-streams', '0'], {
    GATEWAY_SIGNAL_KEYS: `${KEY},${KEY}`,
  });
  t.equal(fromEnv.status, 2);
  t.notMatch(fromEnv.stderr, /signalKeys/, 'taken from the environment');
  t.match(fromEnv.stderr, /maxStreams: /);
});

t.test('tuning options are checked against their limits', async (t) => {
  const r = run([
    ...['--kafka', '127.0.0.1:1', '--token-key', KEY, '--signal-key', KEY],
    ...['--ring-capacity', 'lots', '--max-payload', '10', '--inbound-burst', '0'],
    ...['--max-record-bytes', String(2 * 1024 * 1024), '--max-control-scopes', '1'],
  ]);
  t.equal(r.status, 2);
  t.match(r.stderr, /maxRecordBytes: .*<=1047552/);
  t.match(r.stderr, /maxControlScopes: .*>=16/);
  t.match(r.stderr, /ringCapacity: .*expected number/);
  t.match(r.stderr, /maxPayload: .*>=1024/);
  t.match(r.stderr, /inboundBurst: .*>=1/);
  const hello = run([
    ...['--kafka', '127.0.0.1:1', '--token-key', KEY, '--signal-key', KEY],
    ...['--max-payload', '65536', '--max-hello-bytes', '2048'],
  ]);
  t.equal(hello.status, 2);
  t.match(hello.stderr, /maxHelloBytes: maxHelloBytes \(2048\) must be at least maxPayload \(65536\)/);
});

t.test('--help lists every option with the defaults', async (t) => {
  const r = run(['--help']);
  t.equal(r.status, 0);
  for (const flag of [
    '--kafka',
    '--token-key',
    '--signal-key',
    '--max-record-bytes',
    '--max-streams',
    '--max-control-scopes',
    '--max-hello-bytes',
    '--proxy-protocol',
    '--ring-capacity',
    '--send-high-water-bytes',
  ])
    t.match(r.stdout, flag);
  t.match(r.stdout, /Defaults: ring 10000/);
});
