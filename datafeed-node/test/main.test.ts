// Finding 11 of issue 8: a missing, non-PEM or RSA signing key made the datafeed exit 1 with a
// stack trace. Now it exits 2 with one line naming the option, before touching Kafka.
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { REPO_ROOT } from '@appliance/test-kit';

const dir = mkdtempSync(join(tmpdir(), 'feed-cli-'));
const run = (keyFile: string) =>
  spawnSync(
    process.execPath,
    [
      ...['--import', 'tsx', 'datafeed-node/src/main.ts'],
      ...['--kafka', '127.0.0.1:1', '--signing-key-file', keyFile, '--replay', join(dir, 'candles.csv')],
    ],
    {
      cwd: REPO_ROOT,
      env: { ...process.env, DATAFEED_SIGNING_KEY_FILE: '' },
      encoding: 'utf8',
      timeout: 30_000,
    },
  );

t.test('a signing key that is not an Ed25519 private key exits 2 naming the option', async (t) => {
  const rsa = join(dir, 'rsa.pem');
  writeFileSync(
    rsa,
    generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }),
  );
  const text = join(dir, 'key.txt');
  writeFileSync(text, 'not a key\n');
  for (const [name, file, problem] of [
    ['missing', join(dir, 'nope.pem'), 'no such file'],
    ['not PEM', text, 'not a PEM private key (an unencrypted Ed25519 PKCS#8 PEM key is needed)'],
    ['RSA', rsa, 'an rsa key; an Ed25519 key is needed'],
  ] as const) {
    const r = run(file);
    t.equal(r.status, 2, name);
    t.equal(
      r.stderr,
      `invalid datafeed-node configuration:\n  - signingKeyFile: --signing-key-file ${file}: ${problem}\n`,
      `${name}: one line, no stack trace`,
    );
    t.equal(r.stdout, '', 'nothing started');
  }
});

t.test('replay file names and --symbol/--timeframe are checked at start-up: exit 2, one line', async (t) => {
  const key = join(dir, 'ed25519.pem');
  writeFileSync(key, generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }));
  const cli = (...args: string[]) =>
    spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        'datafeed-node/src/main.ts',
        '--kafka',
        '127.0.0.1:1',
        '--signing-key-file',
        key,
        ...args,
      ],
      {
        cwd: REPO_ROOT,
        env: { ...process.env, DATAFEED_SIGNING_KEY_FILE: '' },
        encoding: 'utf8',
        timeout: 30_000,
      },
    );
  const a = join(dir, 'a.csv');
  const b = join(dir, 'b.csv');
  for (const [name, args, issue] of [
    [
      '--symbol with several files',
      ['--replay', a, b, '--symbol', 'BTC/USDT', '--timeframe', '1h'],
      'replay: E_FILE: --symbol BTC/USDT names the pair of one file, but 2 files were given: replay one file per --symbol, or name each file like binance_BTC-USDT_1h.csv',
    ],
    [
      'a name that does not tell',
      ['--replay', a],
      `replay: E_FILE: ${a}: cannot tell symbol from the name (expected e.g. binance_BTC-USDT_1h.csv); give --symbol`,
    ],
    [
      '--symbol with --live',
      ['--live', '--symbol', 'BTC/USDT'],
      'symbol: --symbol is for --replay; --live takes --symbols',
    ],
    [
      'a bad --timeframe',
      ['--replay', a, '--symbol', 'BTC/USDT', '--timeframe', '1w'],
      'timeframe: --timeframe: expected e.g. 1m, 15m, 1h, 4h or 1d',
    ],
  ] as const) {
    const r = cli(...args);
    t.equal(r.status, 2, name);
    t.equal(r.stderr, `invalid datafeed-node configuration:\n  - ${issue}\n`, name);
    t.equal(r.stdout, '', 'nothing started');
  }
});
