// Finding 11 of issue 8: a missing, non-PEM or RSA signing key, or a port in use, made the
// control server exit 1 with a stack trace. Now each exits 2 with one line naming the option
// (flag and variable). Issue #9: every option is a flag, a variable and a --config file key.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { TOPIC_PARTITIONS, exportPublicKey, generateSigner } from '@appliance/protocol';
import { createKafkaBus } from '@appliance/protocol/kafka';
import {
  badSigningKeyFiles,
  goodSigningKeyFile,
  hasStackTrace,
  requireTool,
  cliRunner,
  helpNamesEveryOption,
  spawnNode,
  startKafkaMock,
} from '@appliance/test-kit';

const ADMIN = 'admin-token-0123456789';
const FEED_KEY = exportPublicKey(generateSigner().publicKey);
const dir = mkdtempSync(join(tmpdir(), 'cs-cli-'));

/** Every option and its variable, as README.md documents them. */
const OPTIONS: [string, string][] = [
  ['--port', 'PORT'],
  ['--paper-port', 'PAPER_PORT'],
  ['--host', 'HOST'],
  ['--kafka', 'KAFKA_BROKERS'],
  ['--signing-key-file', 'CONTROL_SIGNING_KEY_FILE'],
  ['--data-dir', 'CONTROL_DATA_DIR'],
  ['--eligibility', 'CONTROL_ELIGIBILITY'],
  ['--simulator-key', 'CONTROL_SIMULATOR_KEYS'],
  ['--eligibility-approval', 'CONTROL_ELIGIBILITY_APPROVAL'],
  ['--simulator-max-age-ms', 'CONTROL_SIMULATOR_MAX_AGE_MS'],
  ['--no-paper', 'CONTROL_PAPER'],
  ['--allowed-hosts', 'CONTROL_ALLOWED_HOSTS'],
  ['--feed-key', 'CONTROL_FEED_KEYS'],
  ['--config', 'CONTROL_CONFIG'],
];
const run = cliRunner('control-server/src/main.ts', OPTIONS, { env: { CONTROL_ADMIN_TOKEN: ADMIN } });

t.test('--help lists every option with its environment variable, and the admin token', async (t) => {
  const { status, help, missing } = helpNamesEveryOption(run, OPTIONS);
  t.equal(status, 0);
  t.same(missing, [], 'every option with its variable');
  t.match(help, /Environment only: CONTROL_ADMIN_TOKEN /);
});

t.test('a signing key that is not an Ed25519 private key exits 2 naming the option', async (t) => {
  for (const { name, file, problem } of badSigningKeyFiles(dir)) {
    const r = run(['--kafka', '127.0.0.1:1', '--signing-key-file', file, '--feed-key', FEED_KEY]);
    t.equal(r.status, 2, name);
    t.equal(
      r.stderr,
      `invalid control-server configuration:\n  - signingKeyFile (--signing-key-file, CONTROL_SIGNING_KEY_FILE): ${file}: ${problem}\n`,
      `${name}: one line, no stack trace`,
    );
    t.equal(r.stdout, '', 'nothing started');
  }
});

t.test('bad values exit 2 naming each option, its flag and its variable', async (t) => {
  const key = goodSigningKeyFile(dir);
  const r = run([
    ...['--kafka', '127.0.0.1:1', '--signing-key-file', key, '--no-paper'],
    ...['--allowed-hosts', 'control.lan,evil.example:80', '--port', 'http'],
  ]);
  t.equal(r.status, 2);
  t.equal(
    r.stderr,
    [
      'invalid control-server configuration:',
      '  - port (--port, PORT): Invalid input: expected number, received NaN',
      '  - allowedHosts.1 (--allowed-hosts, CONTROL_ALLOWED_HOSTS): allowed host: a host name or address, without a port',
      '',
    ].join('\n'),
  );
  const noToken = run(['--kafka', '127.0.0.1:1', '--signing-key-file', key, '--no-paper'], {
    CONTROL_ADMIN_TOKEN: 'short',
  });
  t.equal(noToken.status, 2);
  t.equal(
    noToken.stderr,
    'invalid control-server configuration:\n  - adminToken (CONTROL_ADMIN_TOKEN): must be set, at least 16 characters\n',
  );
  const noFeedKey = run(['--kafka', '127.0.0.1:1', '--signing-key-file', key]);
  t.equal(noFeedKey.status, 2);
  t.match(noFeedKey.stderr, /feedKeys \(--feed-key, CONTROL_FEED_KEYS\): required with the paper exchange/);
  t.notOk(hasStackTrace(noFeedKey.stderr));
});

t.test(
  'files the options name are read and checked at start: each problem exits 2 naming the option',
  async (t) => {
    const key = goodSigningKeyFile(dir);
    const base = ['--kafka', '127.0.0.1:1', '--signing-key-file', key, '--no-paper'];
    const notCert = join(dir, 'not-a-cert.pem');
    writeFileSync(notCert, 'hello\n');
    const badBreaker = join(dir, 'breaker.json');
    writeFileSync(badBreaker, '{"no such field": 1}');
    const notJson = join(dir, 'breaker.txt');
    writeFileSync(notJson, 'levels: high');
    const simulatorKey = join(dir, 'simulator.pub');
    writeFileSync(simulatorKey, `${FEED_KEY}\n`);
    const cases: { name: string; args: string[]; line: RegExp }[] = [
      {
        name: 'one enrolment flag without the rest',
        args: ['--enrol-url', 'https://enrol.example'],
        line: /^ {2}- enrolUrl \(--enrol-url, CONTROL_ENROL_URL\): enrolment needs --enrol-cert, --tunnel-pool, --tunnel-endpoint, --tunnel-public-key, --tunnel-gateway-url as well/,
      },
      {
        name: 'an enrolment certificate that is not one',
        args: [
          ...[
            '--enrol-url',
            'https://enrol.example',
            '--enrol-cert',
            notCert,
            '--tunnel-pool',
            '10.77.0.0/16',
          ],
          ...['--tunnel-endpoint', 'hub.example:51820', '--tunnel-public-key', 'x'],
          ...['--tunnel-gateway-url', 'ws://10.77.0.1:8081/'],
        ],
        line: new RegExp(
          `^ {2}- enrolCert \\(--enrol-cert, CONTROL_ENROL_CERT\\): ${notCert}: not a PEM certificate$`,
        ),
      },
      {
        name: 'breaker settings with a field the breaker does not have',
        args: ['--breaker-config', badBreaker],
        line: new RegExp(
          `^ {2}- breakerConfig \\(--breaker-config, CONTROL_BREAKER_CONFIG\\): ${badBreaker}: `,
        ),
      },
      {
        name: 'breaker settings that are not JSON',
        args: ['--breaker-config', notJson],
        line: new RegExp(
          `^ {2}- breakerConfig \\(--breaker-config, CONTROL_BREAKER_CONFIG\\): ${notJson}: not JSON`,
        ),
      },
      {
        name: 'a simulator key given under a kid that is not its own',
        args: ['--simulator-key', `wrongkid1=${simulatorKey}`],
        line: new RegExp(
          `^ {2}- simulatorKeys \\(--simulator-key, CONTROL_SIMULATOR_KEYS\\): ${simulatorKey}: its kid is `,
        ),
      },
    ];
    for (const c of cases) {
      const r = run([...base, ...c.args]);
      t.equal(r.status, 2, `${c.name}: exit 2`);
      const lines = r.stderr.trimEnd().split('\n');
      t.equal(lines[0], 'invalid control-server configuration:', c.name);
      t.equal(lines.length, 2, `${c.name}: one problem, one line`);
      t.match(lines[1], c.line, c.name);
      t.equal(r.stdout, '', `${c.name}: nothing started`);
    }
  },
);

t.test('variables and a --config file are honoured: flag > variable > file > default', async (t) => {
  const key = goodSigningKeyFile(dir);
  const file = join(dir, 'control.json');
  writeFileSync(
    file,
    JSON.stringify({ kafka: '127.0.0.1:1', signingKeyFile: key, paper: false, eligibility: ['BAD'] }),
  );
  const fromFile = run(['--config', file]);
  t.equal(fromFile.status, 2);
  t.equal(
    fromFile.stderr,
    'invalid control-server configuration:\n  - eligibility.0 (--eligibility, CONTROL_ELIGIBILITY): eligibility: stream=SYM/QUOTE,SYM/QUOTE\n',
    'kafka, the key and --no-paper from the file; only its bad value is named',
  );
  const fromEnv = run([], {
    CONTROL_CONFIG: file,
    CONTROL_ELIGIBILITY: 'ema-cross.1h=BTC/USDT,ETH/USDT ema-cross.4h=BTC/USDT',
    CONTROL_PAPER: '1',
  });
  t.equal(fromEnv.status, 2);
  t.notMatch(fromEnv.stderr, /eligibility/, 'the variable, space separated, not the file');
  t.match(
    fromEnv.stderr,
    /feedKeys \(--feed-key, CONTROL_FEED_KEYS\): required/,
    'CONTROL_PAPER=1 over the file',
  );
  const flag = run(['--no-paper', '--data-dir', ''], {
    CONTROL_CONFIG: file,
    CONTROL_ELIGIBILITY: 'a=B',
    CONTROL_PAPER: '1',
  });
  t.equal(flag.status, 2);
  t.equal(
    flag.stderr,
    'invalid control-server configuration:\n  - dataDir (--data-dir, CONTROL_DATA_DIR): Too small: expected string to have >=1 characters\n',
    'the flags over the variables',
  );
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
  const key = goodSigningKeyFile(dir);

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
