// Finding 11 of issue 8: a missing, non-PEM or RSA signing key made the datafeed exit 1 with a
// stack trace. Now it exits 2 with one line naming the option (flag and variable), before
// touching Kafka. Issue #9: every option is a flag, a variable and a --config file key.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import {
  badSigningKeyFiles,
  goodSigningKeyFile,
  hasStackTrace,
  cliRunner,
  helpNamesEveryOption,
} from '@appliance/test-kit';

const dir = mkdtempSync(join(tmpdir(), 'feed-cli-'));
/** Every option and its variable, as README.md documents them. */
const OPTIONS: [string, string][] = [
  ['--kafka', 'KAFKA_BROKERS'],
  ['--signing-key-file', 'DATAFEED_SIGNING_KEY_FILE'],
  ['--stream', 'DATAFEED_STREAM'],
  ['--origin', 'DATAFEED_ORIGIN'],
  ['--replay', 'DATAFEED_REPLAY'],
  ['--speed', 'DATAFEED_SPEED'],
  ['--from', 'DATAFEED_FROM'],
  ['--limit', 'DATAFEED_LIMIT'],
  ['--live', 'DATAFEED_LIVE'],
  ['--symbol', 'DATAFEED_SYMBOL'],
  ['--timeframe', 'DATAFEED_TIMEFRAME'],
  ['--symbols', 'DATAFEED_SYMBOLS'],
  ['--ccxt-url', 'DATAFEED_CCXT_URL'],
  ['--seed', 'DATAFEED_SEED'],
  ['--ttl-ms', 'DATAFEED_TTL_MS'],
  ['--config', 'DATAFEED_CONFIG'],
];
const run = cliRunner('datafeed-node/src/main.ts', OPTIONS);
const key = goodSigningKeyFile(dir);

t.test('--help lists every option with its environment variable', async (t) => {
  const { status, missing } = helpNamesEveryOption(run, OPTIONS);
  t.equal(status, 0);
  t.same(missing, [], 'every option with its variable');
});

t.test('a signing key that is not an Ed25519 private key exits 2 naming the option', async (t) => {
  for (const { name, file, problem } of badSigningKeyFiles(dir)) {
    const r = run([
      '--kafka',
      '127.0.0.1:1',
      '--signing-key-file',
      file,
      '--replay',
      join(dir, 'candles.csv'),
    ]);
    t.equal(r.status, 2, name);
    t.equal(
      r.stderr,
      `invalid datafeed-node configuration:\n  - signingKeyFile (--signing-key-file, DATAFEED_SIGNING_KEY_FILE): ${file}: ${problem}\n`,
      `${name}: one line, no stack trace`,
    );
    t.equal(r.stdout, '', 'nothing started');
  }
});

t.test('replay file names and --symbol/--timeframe are checked at start-up: exit 2, one line', async (t) => {
  const a = join(dir, 'a.csv');
  const b = join(dir, 'b.csv');
  for (const [name, args, issue] of [
    [
      '--symbol with several files',
      ['--replay', a, b, '--symbol', 'BTC/USDT', '--timeframe', '1h'],
      'replay (--replay, DATAFEED_REPLAY): E_FILE: --symbol BTC/USDT names the pair of one file, but 2 files were given: replay one file per --symbol, or name each file like binance_BTC-USDT_1h.csv',
    ],
    [
      'a name that does not tell',
      ['--replay', a],
      `replay (--replay, DATAFEED_REPLAY): E_FILE: ${a}: cannot tell symbol from the name (expected e.g. binance_BTC-USDT_1h.csv); give --symbol`,
    ],
    [
      '--symbol with --live',
      ['--live', '--symbol', 'BTC/USDT'],
      'symbol (--symbol, DATAFEED_SYMBOL): --symbol is for --replay; --live takes --symbols',
    ],
    [
      'a bad --timeframe',
      ['--replay', a, '--symbol', 'BTC/USDT', '--timeframe', '1w'],
      'timeframe (--timeframe, DATAFEED_TIMEFRAME): expected e.g. 1m, 15m, 1h, 4h or 1d',
    ],
    [
      'neither --replay nor --live',
      [],
      'replay (--replay, DATAFEED_REPLAY): give --replay FILE... or --live',
    ],
  ] as const) {
    const r = run(['--kafka', '127.0.0.1:1', '--signing-key-file', key, ...args]);
    t.equal(r.status, 2, name);
    t.equal(r.stderr, `invalid datafeed-node configuration:\n  - ${issue}\n`, name);
    t.equal(r.stdout, '', 'nothing started');
  }
});

t.test('variables and a --config file are honoured: flag > variable > file > default', async (t) => {
  const file = join(dir, 'feed.json');
  writeFileSync(
    file,
    JSON.stringify({
      kafka: '127.0.0.1:1',
      signingKeyFile: key,
      live: true,
      symbols: ['BTC/USDT', 'eth'],
      seed: 0,
    }),
  );
  const fromFile = run(['--config', file]);
  t.equal(fromFile.status, 2);
  t.equal(
    fromFile.stderr,
    [
      'invalid datafeed-node configuration:',
      '  - symbols.1 (--symbols, DATAFEED_SYMBOLS): expected BASE/QUOTE, e.g. BTC/USDT',
      '  - seed (--seed, DATAFEED_SEED): Too small: expected number to be >0',
      '',
    ].join('\n'),
    'kafka, the key and --live from the file; only its bad values are named',
  );
  const env = run(['--seed', '100'], {
    DATAFEED_CONFIG: file,
    DATAFEED_SYMBOLS: 'BTC/USDT,ETH/USDT',
    DATAFEED_SEED: '-1',
    DATAFEED_TTL_MS: 'soon',
  });
  t.equal(env.status, 2);
  t.equal(
    env.stderr,
    'invalid datafeed-node configuration:\n  - ttlMs (--ttl-ms, DATAFEED_TTL_MS): Invalid input: expected number, received NaN\n',
    'symbols from the variable over the file, --seed over DATAFEED_SEED, DATAFEED_TTL_MS read',
  );
  t.notOk(hasStackTrace(env.stderr));
});
