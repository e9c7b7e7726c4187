/**
 * Every process that reaches Kafka reads TLS and SASL/SCRAM the same way (runtime's
 * `kafkaSecurityFromEnv`), and a bad value stops it at start-up with exit 2 and a message naming
 * the variable, never the password. The control server also refuses to run its paper exchange
 * without the datafeeds' keys, since it could then price from nothing but forgeries.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { exportPublicKey } from '@appliance/protocol';
import { signerWithKeyFile, spawnNode } from '@appliance/test-kit';

const dir = mkdtempSync(join(tmpdir(), 'bus-security-'));
const { signer: control, file: controlPem } = signerWithKeyFile(dir, 'control.pem');
const { signer: feed, file: feedPem } = signerWithKeyFile(dir, 'feed.pem');
const PASSWORD = 'hunter2-correct-horse';
// Nothing listens here: every case must stop before it would connect.
const KAFKA = '127.0.0.1:1';

const PROCESSES: Record<string, { entry: string; args: string[]; env?: Record<string, string> }> = {
  'control server': {
    entry: 'control-server/src/main.ts',
    args: ['--kafka', KAFKA, '--signing-key-file', controlPem, '--feed-key', exportPublicKey(feed.publicKey)],
    env: { CONTROL_ADMIN_TOKEN: 'admin-token-0123456789', CONTROL_DATA_DIR: join(dir, 'control') },
  },
  gateway: {
    entry: 'gateway/src/main.ts',
    args: [
      ...['--kafka', KAFKA, '--token-key', exportPublicKey(control.publicKey)],
      ...['--signal-key', exportPublicKey(feed.publicKey)],
    ],
  },
  datafeed: {
    entry: 'datafeed-node/src/main.ts',
    args: ['--kafka', KAFKA, '--signing-key-file', feedPem, '--replay', join(dir, 'binance_BTC-USDT_1h.csv')],
  },
  'simulator node': {
    entry: 'simulator/src/main.ts',
    args: [
      ...['--kafka', KAFKA, '--signing-key-file', feedPem, '--candle-key', exportPublicKey(feed.publicKey)],
      ...['--data-dir', join(dir, 'simulator'), '--http-port', '0'],
    ],
  },
  'npm start': { entry: 'scripts/start.ts', args: ['--port', '0'], env: { KAFKA_BROKERS: KAFKA } },
};

async function exitOf(name: string, env: Record<string, string>, args?: string[]) {
  const p = PROCESSES[name]!;
  const proc = spawnNode(name, p.entry, args ?? p.args, { ...p.env, ...env });
  const { code } = await proc.exited;
  return { code, stderr: proc.text.join('\n') };
}

t.test('a bad Kafka security variable stops every process with exit 2, naming it', async (t) => {
  const env = {
    KAFKA_SASL_MECHANISM: 'plain',
    KAFKA_SASL_USERNAME: 'someone',
    KAFKA_SASL_PASSWORD: PASSWORD,
  };
  const results = await Promise.all(
    Object.keys(PROCESSES).map(async (name) => [name, await exitOf(name, env)] as const),
  );
  for (const [name, { code, stderr }] of results) {
    t.equal(code, 2, `${name} exits 2`);
    t.match(
      stderr,
      'invalid Kafka security configuration:\n  - KAFKA_SASL_MECHANISM: must be scram-sha-256 or scram-sha-512',
      `${name} names the variable`,
    );
    t.notMatch(stderr, PASSWORD, `${name} does not print the password`);
  }
});

t.test('a CA file that cannot be read is named with its variable', async (t) => {
  const { code, stderr } = await exitOf('gateway', { KAFKA_SSL_CA_FILE: join(dir, 'nope.pem') });
  t.equal(code, 2);
  t.match(stderr, `KAFKA_SSL_CA_FILE: cannot read ${join(dir, 'nope.pem')}: ENOENT`);
});

t.test('the control server will not run its paper exchange without a datafeed key', async (t) => {
  const p = PROCESSES['control server']!;
  const withoutKey = p.args.slice(0, p.args.indexOf('--feed-key'));
  const { code, stderr } = await exitOf('control server', {}, withoutKey);
  t.equal(code, 2);
  t.match(stderr, 'feedKeys (--feed-key, CONTROL_FEED_KEYS): required with the paper exchange');
  const bad = await exitOf('control server', {}, [...withoutKey, '--feed-key', 'not-a-key']);
  t.equal(bad.code, 2);
  t.match(bad.stderr, 'feedKeys.0 (--feed-key, CONTROL_FEED_KEYS): feed key: base64url Ed25519 public key');
});
