import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import t from 'tap';
import type { Test } from 'tap';
import { ConfigError, createLogger, kafkaSecurityFromEnv } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'kafka-security-'));
const CA = '-----BEGIN CERTIFICATE-----\nMIIBca\n-----END CERTIFICATE-----\n';
const CERT = '-----BEGIN CERTIFICATE-----\nMIIBcert\n-----END CERTIFICATE-----\n';
/** A throwaway client key, made per run: what must never reach a log line. */
const KEY = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const PASSWORD = 'hunter2-correct-horse';
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text, { mode: 0o600 });
  return path;
};
const caFile = file('ca.pem', CA);
const certFile = file('cert.pem', CERT);
const keyFile = file('key.pem', KEY);
const passwordFile = file('password', `${PASSWORD}\n`);

/** The ConfigError's issues for `env`, or [] when it is accepted. */
function issuesOf(t: Test, env: Record<string, string>): string[] {
  try {
    kafkaSecurityFromEnv(env);
    return [];
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    t.notMatch(err.message, PASSWORD, 'no message carries the password');
    return err.issues;
  }
}

t.test('nothing set: plaintext and no SASL, as on the mock cluster', async (t) => {
  t.same(kafkaSecurityFromEnv({}), {});
  t.same(kafkaSecurityFromEnv({ KAFKA_SSL: '', KAFKA_SASL_MECHANISM: '' }), {}, 'empty is unset');
});

t.test('TLS with a pinned CA and a client certificate, and SCRAM with a password file', async (t) => {
  t.same(
    kafkaSecurityFromEnv({
      KAFKA_SSL_CA_FILE: caFile,
      KAFKA_SSL_CERT_FILE: certFile,
      KAFKA_SSL_KEY_FILE: keyFile,
      KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
      KAFKA_SASL_USERNAME: 'gateway',
      KAFKA_SASL_PASSWORD_FILE: passwordFile,
    }),
    {
      ssl: { ca: CA, cert: CERT, key: KEY, rejectUnauthorized: true },
      sasl: { mechanism: 'scram-sha-512', username: 'gateway', password: PASSWORD },
    },
  );
  t.same(
    kafkaSecurityFromEnv({ KAFKA_SSL: 'true' }),
    { ssl: { rejectUnauthorized: true } },
    'the system CAs',
  );
  t.same(kafkaSecurityFromEnv({ KAFKA_SSL_CA: CA, KAFKA_SSL_REJECT_UNAUTHORIZED: 'false' }), {
    ssl: { ca: CA, rejectUnauthorized: false },
  });
  t.same(
    kafkaSecurityFromEnv({
      KAFKA_SASL_MECHANISM: 'scram-sha-256',
      KAFKA_SASL_USERNAME: 'feed-1',
      KAFKA_SASL_PASSWORD: PASSWORD,
    }),
    { sasl: { mechanism: 'scram-sha-256', username: 'feed-1', password: PASSWORD } },
  );
});

t.test('every bad value is refused with a message naming its variable', async (t) => {
  const cases: [Record<string, string>, string[]][] = [
    [{ KAFKA_SSL: 'yes' }, ['KAFKA_SSL: KAFKA_SSL must be true or false']],
    [{ KAFKA_SSL_CA: 'not pem' }, ['KAFKA_SSL_CA: is not PEM (no -----BEGIN ...----- line)']],
    [
      { KAFKA_SSL_CA_FILE: join(dir, 'missing.pem') },
      [`KAFKA_SSL_CA_FILE: cannot read ${join(dir, 'missing.pem')}: ENOENT`],
    ],
    [
      { KAFKA_SSL_CA_FILE: passwordFile },
      [`KAFKA_SSL_CA_FILE: ${passwordFile} is not PEM (no -----BEGIN ...----- line)`],
    ],
    [
      { KAFKA_SSL_CA: CA, KAFKA_SSL_CA_FILE: caFile },
      ['KAFKA_SSL_CA and KAFKA_SSL_CA_FILE: give one, not both'],
    ],
    [
      { KAFKA_SSL_CERT_FILE: certFile },
      [
        'KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE: a client certificate needs its key, and a key its certificate',
      ],
    ],
    [{ KAFKA_SSL: 'false', KAFKA_SSL_CA_FILE: caFile }, ['KAFKA_SSL: false, yet KAFKA_SSL_CA_FILE is set']],
    [
      { KAFKA_SSL_REJECT_UNAUTHORIZED: 'no' },
      ['KAFKA_SSL_REJECT_UNAUTHORIZED: KAFKA_SSL_REJECT_UNAUTHORIZED must be true or false'],
    ],
    [
      { KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: PASSWORD },
      [
        'KAFKA_SASL_MECHANISM: must be scram-sha-256 or scram-sha-512 (PLAIN would send the password itself: refused)',
      ],
    ],
    [
      { KAFKA_SASL_MECHANISM: 'scram-sha-256' },
      [
        'KAFKA_SASL_USERNAME: required with KAFKA_SASL_MECHANISM',
        'KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE: required with KAFKA_SASL_MECHANISM',
      ],
    ],
    [
      { KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: PASSWORD },
      [
        'KAFKA_SASL_MECHANISM: required with KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD (scram-sha-256 or scram-sha-512)',
      ],
    ],
    [
      {
        KAFKA_SASL_MECHANISM: 'scram-sha-256',
        KAFKA_SASL_USERNAME: 'u',
        KAFKA_SASL_PASSWORD: PASSWORD,
        KAFKA_SASL_PASSWORD_FILE: passwordFile,
      },
      ['KAFKA_SASL_PASSWORD and KAFKA_SASL_PASSWORD_FILE: give one, not both'],
    ],
    [
      {
        KAFKA_SASL_MECHANISM: 'scram-sha-256',
        KAFKA_SASL_USERNAME: 'u',
        KAFKA_SASL_PASSWORD_FILE: file('empty', '\n'),
      },
      [`KAFKA_SASL_PASSWORD_FILE: ${join(dir, 'empty')} is empty`],
    ],
    [
      {
        KAFKA_SASL_MECHANISM: 'scram-sha-256',
        KAFKA_SASL_USERNAME: 'u',
        KAFKA_SASL_PASSWORD: 'x'.repeat(2000),
      },
      ['KAFKA_SASL_PASSWORD: Too big: expected string to have <=1024 characters'],
    ],
  ];
  for (const [env, issues] of cases) t.same(issuesOf(t, env), issues, Object.keys(env).join(' '));
  t.throws(() => kafkaSecurityFromEnv({ KAFKA_SSL: 'yes' }), {
    name: 'ConfigError',
    message: 'invalid Kafka security configuration:\n  - KAFKA_SSL: KAFKA_SSL must be true or false',
  });
});

t.test('the password and the TLS key never reach a log line', async (t) => {
  const security = kafkaSecurityFromEnv({
    KAFKA_SSL_CA_FILE: caFile,
    KAFKA_SSL_CERT_FILE: certFile,
    KAFKA_SSL_KEY_FILE: keyFile,
    KAFKA_SASL_MECHANISM: 'scram-sha-512',
    KAFKA_SASL_USERNAME: 'control',
    KAFKA_SASL_PASSWORD: PASSWORD,
  });
  let out = '';
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      out += chunk.toString();
      done();
    },
  });
  const logger = createLogger({ name: 'redaction', level: 'info', destination });
  // What a careless caller might log: the settings, alone or as part of the bus options.
  logger.info(security, 'settings');
  logger.info({ kafka: security }, 'nested');
  logger.info({ options: { brokers: ['b:9093'], ...security } }, 'bus options');
  t.notMatch(out, PASSWORD);
  t.notMatch(out, 'secret-material');
  t.match(out, /"username":"control"/, 'the principal is logged');
});
