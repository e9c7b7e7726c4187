// The gateway's command line: every option is a flag, a variable and a config-file key, and bad
// settings are refused at start (exit 2) with every problem named, before Kafka is touched.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { hasStackTrace, cliRunner, helpNamesEveryOption } from '@appliance/test-kit';

const KEY = 'A'.repeat(43);
const dir = mkdtempSync(join(tmpdir(), 'gateway-cli-'));
/** Every option and its variable, as README.md and gateway/README.md document them. */
const OPTIONS: [string, string][] = [
  ['--port', 'PORT'],
  ['--host', 'HOST'],
  ['--admin-port', 'GATEWAY_ADMIN_PORT'],
  ['--admin-host', 'GATEWAY_ADMIN_HOST'],
  ['--kafka', 'KAFKA_BROKERS'],
  ['--token-key', 'GATEWAY_TOKEN_KEYS'],
  ['--signal-key', 'GATEWAY_SIGNAL_KEYS'],
  ['--gateway-id', 'GATEWAY_ID'],
  ['--proxy-protocol', 'GATEWAY_PROXY_PROTOCOL'],
  ['--ring-capacity', 'GATEWAY_RING_CAPACITY'],
  ['--send-high-water-bytes', 'GATEWAY_SEND_HIGH_WATER_BYTES'],
  ['--ping-interval-ms', 'GATEWAY_PING_INTERVAL_MS'],
  ['--max-payload', 'GATEWAY_MAX_PAYLOAD'],
  ['--inbound-rate', 'GATEWAY_INBOUND_RATE'],
  ['--inbound-burst', 'GATEWAY_INBOUND_BURST'],
  ['--max-record-bytes', 'GATEWAY_MAX_RECORD_BYTES'],
  ['--max-streams', 'GATEWAY_MAX_STREAMS'],
  ['--max-control-scopes', 'GATEWAY_MAX_CONTROL_SCOPES'],
  ['--max-hello-bytes', 'GATEWAY_MAX_HELLO_BYTES'],
  ['--config', 'GATEWAY_CONFIG'],
];
const run = cliRunner('gateway/src/main.ts', OPTIONS);
const VALID = ['--kafka', '127.0.0.1:1', '--token-key', KEY, '--signal-key', KEY];

t.test('--help lists every option with its environment variable', async (t) => {
  const { status, help, missing } = helpNamesEveryOption(run, OPTIONS);
  t.equal(status, 0);
  t.same(missing, [], 'every option with its variable');
  t.match(help, /flag > env > file > default/);
});

t.test(
  'bad options exit 2 naming each problem with its flag and variable, before touching Kafka',
  async (t) => {
    const r = run(['--token-key', KEY, '--ring-capacity', 'lots', '--max-payload', '10', '--port', '70000']);
    t.equal(r.status, 2);
    t.match(r.stderr, /^invalid gateway configuration:\n/);
    t.match(
      r.stderr,
      / {2}- kafka \(--kafka, KAFKA_BROKERS\): required: a gateway process reads signals from Kafka\n/,
    );
    t.match(r.stderr, / {2}- port \(--port, PORT\): /);
    t.match(
      r.stderr,
      /signalKeys \(--signal-key, GATEWAY_SIGNAL_KEYS\): required: the datafeeds' public keys/,
      'the datafeed keys are required: the gateway relays only what they signed',
    );
    t.notOk(hasStackTrace(r.stderr), 'no stack trace');
    t.equal(r.stdout, '', 'nothing started, nothing logged');
  },
);

t.test('a key that is not a key exits 2 naming the option', async (t) => {
  const r = run(['--kafka', '127.0.0.1:1', '--token-key', KEY, '--signal-key', 'not-a-key']);
  t.equal(r.status, 2);
  t.equal(
    r.stderr,
    'invalid gateway configuration:\n  - signalKeys.0 (--signal-key, GATEWAY_SIGNAL_KEYS): signal key: base64url Ed25519 public key\n',
  );
});

t.test('an unknown flag is a usage error: exit 2, no stack trace', async (t) => {
  const r = run([...VALID, '--max-streamz', '3']);
  t.equal(r.status, 2);
  t.match(r.stderr, /unknown option '--max-streamz'/);
  t.notOk(hasStackTrace(r.stderr));
});

t.test('variables are honoured, lists comma separated, and a flag wins over its variable', async (t) => {
  const fromEnv = run(['--kafka', '127.0.0.1:1', '--token-key', KEY, '--max-streams', '0'], {
    GATEWAY_SIGNAL_KEYS: `${KEY},${KEY}`,
  });
  t.equal(fromEnv.status, 2);
  t.notMatch(fromEnv.stderr, /signalKeys/, 'taken from the environment');
  t.match(fromEnv.stderr, /maxStreams \(--max-streams, GATEWAY_MAX_STREAMS\): /);

  const env = run(VALID, { GATEWAY_MAX_CONTROL_SCOPES: '1' });
  t.equal(env.status, 2);
  t.match(env.stderr, /maxControlScopes \(--max-control-scopes, GATEWAY_MAX_CONTROL_SCOPES\): .*>=16/);

  const flagWins = run([...VALID, '--max-control-scopes', '32', '--max-streams', '0'], {
    GATEWAY_MAX_CONTROL_SCOPES: '1',
  });
  t.equal(flagWins.status, 2);
  t.notMatch(flagWins.stderr, /maxControlScopes/, 'the flag, not the variable');
  t.match(flagWins.stderr, /maxStreams/);
});

t.test('a --config file is honoured, under the variables and flags', async (t) => {
  const file = join(dir, 'gateway.json');
  writeFileSync(
    file,
    JSON.stringify({ kafka: '127.0.0.1:1', tokenKeys: [KEY], signalKeys: KEY, maxStreams: 0 }),
  );
  const r = run(['--config', file]);
  t.equal(r.status, 2);
  t.equal(
    r.stderr,
    'invalid gateway configuration:\n  - maxStreams (--max-streams, GATEWAY_MAX_STREAMS): Too small: expected number to be >=1\n',
    'keys and the list from the file; only its bad value is named',
  );
  const envOverFile = run([], { GATEWAY_CONFIG: file, GATEWAY_MAX_STREAMS: '8', GATEWAY_INBOUND_BURST: '0' });
  t.equal(envOverFile.status, 2);
  t.notMatch(envOverFile.stderr, /maxStreams/, 'the variable, not the file');
  t.match(envOverFile.stderr, /inboundBurst/);

  const unknown = join(dir, 'unknown.json');
  writeFileSync(unknown, JSON.stringify({ kafka: '127.0.0.1:1', maxStreem: 3 }));
  const u = run(['--config', unknown]);
  t.equal(u.status, 2);
  t.match(u.stderr, /config \(--config, GATEWAY_CONFIG\): .*unknown\.json: unknown option "maxStreem"/);
  const missing = run(['--config', join(dir, 'nope.json')]);
  t.equal(missing.status, 2);
  t.match(missing.stderr, /config \(--config, GATEWAY_CONFIG\): .*nope\.json: cannot be read \(ENOENT\)/);
  t.notOk(hasStackTrace(missing.stderr));
});

t.test('tuning options are checked against their limits', async (t) => {
  const r = run([
    ...VALID,
    ...['--ring-capacity', 'lots', '--max-payload', '10', '--inbound-burst', '0'],
    ...['--max-record-bytes', String(2 * 1024 * 1024), '--max-control-scopes', '1'],
  ]);
  t.equal(r.status, 2);
  t.match(r.stderr, /maxRecordBytes \(--max-record-bytes, GATEWAY_MAX_RECORD_BYTES\): .*<=1047552/);
  t.match(r.stderr, /maxControlScopes .*>=16/);
  t.match(r.stderr, /ringCapacity .*expected number/);
  t.match(r.stderr, /maxPayload .*>=1024/);
  t.match(r.stderr, /inboundBurst .*>=1/);
  const hello = run([...VALID, ...['--max-payload', '65536', '--max-hello-bytes', '2048']]);
  t.equal(hello.status, 2);
  t.match(hello.stderr, /maxHelloBytes \(.*\): maxHelloBytes \(2048\) must be at least maxPayload \(65536\)/);
});

t.test('the admin port is checked like the device port, and may not be the device port', async (t) => {
  const bad = run([...VALID], { GATEWAY_ADMIN_PORT: '70000' });
  t.equal(bad.status, 2);
  t.match(bad.stderr, /adminPort \(--admin-port, GATEWAY_ADMIN_PORT\): Too big/);
  const same = run([...VALID, '--port', '9100', '--admin-port', '9100']);
  t.equal(same.status, 2);
  t.equal(
    same.stderr,
    'invalid gateway configuration:\n  - adminPort (--admin-port, GATEWAY_ADMIN_PORT): the admin port must differ from the device port (9100)\n',
  );
  const file = join(dir, 'admin.json');
  writeFileSync(file, JSON.stringify({ adminPort: 'x', adminHost: '' }));
  const fromFile = run([...VALID, '--config', file]);
  t.equal(fromFile.status, 2);
  t.match(fromFile.stderr, /adminPort \(--admin-port, GATEWAY_ADMIN_PORT\): /, 'config key adminPort');
  t.match(fromFile.stderr, /adminHost \(--admin-host, GATEWAY_ADMIN_HOST\): /, 'config key adminHost');
});
