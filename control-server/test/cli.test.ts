// Finding 11 of issue 8: a missing, non-PEM or RSA signing key, or a port in use, made the
// control server exit 1 with a stack trace. Now each exits 2 with one line naming the option.
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import {
  TOPIC_PARTITIONS,
  createKafkaBus,
  exportPrivateKeyPem,
  exportPublicKey,
  generateSigner,
} from '@appliance/protocol';
import { REPO_ROOT, requireTool, spawnNode, startKafkaMock } from '@appliance/test-kit';

const ADMIN = 'admin-token-0123456789';
const FEED_KEY = exportPublicKey(generateSigner().publicKey);
const dir = mkdtempSync(join(tmpdir(), 'cs-cli-'));

const run = (args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', 'control-server/src/main.ts', ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, CONTROL_ADMIN_TOKEN: ADMIN, KAFKA_BROKERS: '', CONTROL_SIGNING_KEY_FILE: '' },
    encoding: 'utf8',
    timeout: 30_000,
  });

/** Key files that are not an Ed25519 private key, and the line each must give. */
function badKeys(): [string, string, string][] {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ed = generateKeyPairSync('ed25519');
  const write = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  return [
    ['missing', join(dir, 'nope.pem'), 'no such file'],
    [
      'not PEM',
      write('text.pem', 'hello\n'),
      'not a PEM private key (an unencrypted Ed25519 PKCS#8 PEM key is needed)',
    ],
    [
      'a public key',
      write('public.pem', ed.publicKey.export({ type: 'spki', format: 'pem' }).toString()),
      'not a PEM private key (an unencrypted Ed25519 PKCS#8 PEM key is needed)',
    ],
    [
      'RSA',
      write('rsa.pem', rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()),
      'an rsa key; an Ed25519 key is needed',
    ],
  ];
}

t.test('a signing key that is not an Ed25519 private key exits 2 naming the option', async (t) => {
  for (const [name, file, problem] of badKeys()) {
    const r = run(['--kafka', '127.0.0.1:1', '--signing-key-file', file, '--feed-key', FEED_KEY]);
    t.equal(r.status, 2, name);
    t.equal(
      r.stderr,
      `invalid control-server configuration:\n  - signingKeyFile: --signing-key-file ${file}: ${problem}\n`,
      `${name}: one line, no stack trace`,
    );
    t.equal(r.stdout, '', 'nothing started');
  }
});

t.test('a bad --allowed-hosts entry exits 2 naming it', async (t) => {
  const key = join(dir, 'ok.pem');
  writeFileSync(key, exportPrivateKeyPem(generateSigner()));
  const r = run([
    ...['--kafka', '127.0.0.1:1', '--signing-key-file', key, '--no-paper'],
    ...['--allowed-hosts', 'control.lan,evil.example:80'],
  ]);
  t.equal(r.status, 2);
  t.match(r.stderr, /allowedHosts\.1: allowed host: a host name or address, without a port/);
});

t.test('a port in use exits 2 naming --port or --paper-port', async (t) => {
  if (!requireTool('kcat', 'kcat')) return t.comment('kcat is not installed: apt-get install kcat');
  const kafka = await startKafkaMock({ brokers: 1 });
  t.teardown(() => kafka.stop());
  const bus = createKafkaBus({ brokers: kafka.brokers, clientId: 'cli-test' });
  for (const [topic, n] of Object.entries(TOPIC_PARTITIONS)) await bus.ensureTopic(topic, n);
  await bus.close();
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => taken.close(() => resolve())));
  const port = (taken.address() as AddressInfo).port;
  const key = join(dir, 'ok.pem');
  writeFileSync(key, exportPrivateKeyPem(generateSigner()));

  for (const [flag, option, other] of [
    ['--port', 'port', '--paper-port'],
    ['--paper-port', 'paperPort', '--port'],
  ] as const) {
    const proc = spawnNode(
      'control-server',
      'control-server/src/main.ts',
      [
        ...['--kafka', kafka.bootstrap, '--signing-key-file', key, '--feed-key', FEED_KEY],
        ...['--data-dir', join(dir, `data-${option}`), flag, String(port), other, '0'],
      ],
      { CONTROL_ADMIN_TOKEN: ADMIN },
    );
    const timer = setTimeout(() => void proc.kill('SIGKILL'), 60_000);
    const { code } = await proc.exited;
    clearTimeout(timer);
    t.equal(code, 2, `${flag} taken`);
    t.same(
      proc.text,
      [`cannot start control-server:`, `  - ${option}: ${flag} ${port}: 127.0.0.1:${port} is already in use`],
      'one line naming the option, no stack trace',
    );
  }
});
