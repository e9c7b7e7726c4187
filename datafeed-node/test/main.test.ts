// Finding 11 of issue 8: a missing, non-PEM or RSA signing key made the datafeed exit 1 with a
// stack trace. Now it exits 2 with one line naming the option (flag and variable), before
// touching Kafka. Issue #9: every option is a flag, a variable and a --config file key.
// Issue #11: strategies by name (--strategy, --params, --list-strategies) and several streams.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { createStrategy, strategyNames, strategyParams, strategySpec } from '@appliance/trading-core';
import {
  badSigningKeyFiles,
  goodSigningKeyFile,
  hasStackTrace,
  cliRunner,
  helpNamesEveryOption,
  requireTool,
  spawnNode,
  startKafkaMock,
  waitFor,
  type LogLine,
} from '@appliance/test-kit';
import { exportPublicKey, generateSigner } from '@appliance/protocol';
import { DEFAULT_STRATEGY } from '../src/stream-config.js';

const dir = mkdtempSync(join(tmpdir(), 'feed-cli-'));
/** Every option and its variable, as README.md documents them. */
const OPTIONS: [string, string][] = [
  ['--kafka', 'KAFKA_BROKERS'],
  ['--signing-key-file', 'DATAFEED_SIGNING_KEY_FILE'],
  ['--stream', 'DATAFEED_STREAM'],
  ['--strategy', 'DATAFEED_STRATEGY'],
  ['--params', 'DATAFEED_PARAMS'],
  ['--streams', 'DATAFEED_STREAMS'],
  ['--list-strategies', 'DATAFEED_LIST_STRATEGIES'],
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
  ['--control-key', 'DATAFEED_CONTROL_KEYS'],
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

const DATA = new URL('../../../shared/data/ohlcv/', import.meta.url).pathname;
const BTC = join(DATA, 'binance_BTC-USDT_1h.csv');
const ETH = join(DATA, 'binance_ETH-USDT_1h.csv');
/** The environment a spawned datafeed would otherwise inherit from the test runner, cleared. */
const CLEAR = Object.fromEntries(OPTIONS.map(([, env]) => [env, '']));

t.test('--list-strategies prints every registered strategy with its parameters, and exits 0', async (t) => {
  // Neither Kafka nor a key: it only reads the registry.
  const r = run(['--list-strategies']);
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stderr, '');
  const names = strategyNames();
  t.ok(names.length >= 1);
  const listed = r.stdout.split('\n').filter((l) => /^\S/.test(l) && !l.startsWith('Run one'));
  t.same(listed, names, 'every name, in the registry’s order, each once');
  for (const name of names) {
    const spec = strategySpec(name);
    const block = r.stdout.slice(r.stdout.indexOf(`${name}\n`)).split('\n\n')[0]!;
    t.ok(block.includes(spec.description), `${name}: its description`);
    const defaults = strategyParams(name);
    for (const [key, value] of Object.entries(defaults)) {
      const row = block.split('\n').find((l) => l.trim().startsWith(`${key} `));
      t.ok(row?.includes(JSON.stringify(value)), `${name}: ${key} with its default ${JSON.stringify(value)}`);
      const meaning = spec.params.shape[key]?.description;
      t.ok(meaning && row?.includes(meaning), `${name}: ${key}: its meaning`);
    }
  }
  t.equal(run([], { DATAFEED_LIST_STRATEGIES: '1' }).stdout, r.stdout, 'the variable does the same');
});

/**
 * A TCP listener standing in for Kafka, counting who connects: a run refused at start-up must
 * leave it untouched. The positive control (a sound run does connect) shows it would notice.
 */
async function fakeBroker() {
  const sockets: Socket[] = [];
  const server = createServer((s) => void sockets.push(s));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    address: `127.0.0.1:${port}`,
    sockets,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

t.test('an unknown strategy or bad params exit 2 with the registry’s message, before Kafka', async (t) => {
  const broker = await fakeBroker();
  t.teardown(broker.close);
  const base = ['--kafka', broker.address, '--signing-key-file', key, '--replay', BTC, '--speed', 'max'];
  const unknown = run([...base, '--strategy', 'no-such-thing', '--stream', 'x.1h']);
  t.equal(unknown.status, 2);
  t.equal(
    unknown.stderr,
    `invalid datafeed-node configuration:\n  - strategy (--strategy, DATAFEED_STRATEGY): E_UNKNOWN_STRATEGY: unknown strategy "no-such-thing"; known: ${strategyNames().join(', ')}\n`,
  );
  const badParams = run([...base], { DATAFEED_PARAMS: '{"noSuchParam": 1}' });
  t.equal(badParams.status, 2);
  t.equal(
    badParams.stderr,
    `invalid datafeed-node configuration:\n  - params (--params, DATAFEED_PARAMS): E_STRATEGY_PARAMS: ${DEFAULT_STRATEGY}: (params): Unrecognized key: "noSuchParam"\n`,
  );
  const notJson = run([...base, '--params', '{fastPeriod: 9}']);
  t.equal(notJson.status, 2);
  // V8's words for the JSON error vary with the Node.js version; ours around them do not.
  t.match(
    notJson.stderr,
    /^invalid datafeed-node configuration:\n {2}- params \(--params, DATAFEED_PARAMS\): not JSON: [^\n]*position 1[^\n]*\n$/,
  );
  for (const [name, args, issue] of [
    [
      'params not an object',
      ['--params', '[9]'],
      'params (--params, DATAFEED_PARAMS): expected a JSON object, e.g. {"fastPeriod": 9}',
    ],
    [
      'another strategy on the default stream',
      ['--strategy', strategyNames().at(-1)!],
      `stream (--stream, DATAFEED_STREAM): --strategy ${strategyNames().at(-1)!} needs a stream of its own: the default ema-cross.1h carries ${DEFAULT_STRATEGY}`,
    ],
    [
      'streams beside --stream and --params',
      [
        '--stream',
        'x.1h',
        '--params',
        '{}',
        '--streams',
        `[{"stream": "a.1h", "strategy": "${DEFAULT_STRATEGY}"}]`,
      ],
      'streams (--streams, DATAFEED_STREAMS): each stream names its own strategy and params: leave --stream, --strategy and --params unset (set: --stream, --params)',
    ],
    [
      'a stream name twice',
      [
        '--streams',
        `[{"stream": "a.1h", "strategy": "${DEFAULT_STRATEGY}"}, {"stream": "a.1h", "strategy": "${DEFAULT_STRATEGY}"}]`,
      ],
      'streams.1.stream (--streams, DATAFEED_STREAMS): stream a.1h is named twice: each stream has its own name',
    ],
    [
      'bad params in one of the streams',
      [
        '--streams',
        `[{"stream": "a.1h", "strategy": "${DEFAULT_STRATEGY}"}, {"stream": "b.1h", "strategy": "${DEFAULT_STRATEGY}", "params": {"nope": 1}}]`,
      ],
      `streams (--streams, DATAFEED_STREAMS): stream b.1h: E_STRATEGY_PARAMS: ${DEFAULT_STRATEGY}: (params): Unrecognized key: "nope"`,
    ],
    [
      'a stream trading a symbol not fed',
      ['--streams', `[{"stream": "a.1h", "strategy": "${DEFAULT_STRATEGY}", "symbols": ["ETH/USDT"]}]`],
      'streams (--streams, DATAFEED_STREAMS): E_STREAMS: stream a.1h trades ETH/USDT, which is not fed to the datafeed (fed: BTC/USDT)',
    ],
  ] as const) {
    const r = run([...base, ...args]);
    t.equal(r.status, 2, name);
    t.equal(r.stderr, `invalid datafeed-node configuration:\n  - ${issue}\n`, name);
    t.equal(r.stdout, '', `${name}: nothing started`);
  }
  // A connection made before the child exited is reported on this process's next turn: wait one.
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(broker.sockets.length, 0, 'Kafka was never contacted');

  const sound = spawnNode('datafeed', 'datafeed-node/src/main.ts', [...base, '--limit', '1'], CLEAR);
  await waitFor(() => broker.sockets.length > 0, 'the sound run to reach the fake broker');
  t.pass('a sound run does reach it: the check above would have seen a contact');
  await sound.kill('SIGKILL');
});

t.test('a strategy reading a symbol that is not fed is refused at start, naming the symbol', async (t) => {
  // Whichever registered strategy reads another symbol (with its default params).
  const reader = strategyNames().find((n) => (createStrategy(n).inputs?.length ?? 0) > 0);
  if (reader === undefined) return t.comment('no registered strategy reads another symbol yet');
  const input = createStrategy(reader).inputs![0]!;
  const fedFile = input === 'ETH/USDT' ? BTC : ETH;
  const fed = input === 'ETH/USDT' ? 'BTC/USDT' : 'ETH/USDT';
  const r = run([
    '--kafka',
    '127.0.0.1:1',
    '--signing-key-file',
    key,
    '--replay',
    fedFile,
    '--strategy',
    reader,
    '--stream',
    'reader.1h',
  ]);
  t.equal(r.status, 2);
  t.equal(
    r.stderr,
    `invalid datafeed-node configuration:\n  - replay (--replay, DATAFEED_REPLAY): E_STREAMS: stream reader.1h: ${reader} on ${fed} reads ${input}, which is not fed to the datafeed (fed: ${fed}); replay its file or add it to the live symbols\n`,
  );
});

const skipKafka = requireTool('kcat', 'kcat') ? false : 'kcat is not installed (apt-get install kcat)';

t.test(
  'by name with params, and several streams from a config file, on Kafka',
  { skip: skipKafka },
  async (t) => {
    const kafka = await startKafkaMock({ brokers: 1 });
    t.teardown(() => kafka.stop());
    const finish = async (args: string[]) => {
      const feed = spawnNode('datafeed', 'datafeed-node/src/main.ts', args, CLEAR);
      const { code } = await feed.exited;
      t.equal(code, 0, feed.text.join('\n'));
      return feed.lines;
    };
    const runs = (lines: LogLine[]) => lines.filter((l) => typeof l.msg === 'string' && / runs /.test(l.msg));

    const params = { fastPeriod: 9 };
    const one = await finish([
      ...['--kafka', kafka.bootstrap, '--signing-key-file', key, '--replay', BTC, '--limit', '500'],
      ...['--speed', 'max', '--params', JSON.stringify(params)],
    ]);
    const version = createStrategy(DEFAULT_STRATEGY).version;
    t.match(runs(one), [
      {
        msg: `stream ema-cross.1h runs ${version}`,
        stream: 'ema-cross.1h',
        strategy: DEFAULT_STRATEGY,
        algoVersion: version,
        symbols: ['BTC/USDT'],
      },
    ]);
    t.same(
      runs(one)[0]?.params,
      strategyParams(DEFAULT_STRATEGY, params),
      'params logged with the defaults filled in',
    );
    const keyLine = one.find((l) => l.msg === 'signing signals and candles with this key');
    t.equal(keyLine?.stream, 'ema-cross.1h', 'one stream: the key line as it always was');
    const done = one.find((l) => l.msg === 'feed finished');
    t.match(done, { candles: 500, ledgerBalanced: true });
    t.equal(done?.streams, undefined);
    t.ok(
      one.some((l) => l.level === 40 && typeof l.msg === 'string' && l.msg.startsWith('no --control-key')),
      'without a control key, a warning that eligibility is not followed',
    );
    t.equal(done?.skippedBuys, undefined, 'and the result is as it was');

    // With a control key and no eligibility on the topic yet, the house portfolio buys nothing,
    // while the signals go out as before.
    const controlKey = exportPublicKey(generateSigner().publicKey);
    const gated = await finish([
      ...['--kafka', kafka.bootstrap, '--signing-key-file', key, '--replay', BTC, '--limit', '500'],
      ...['--speed', 'max', '--params', JSON.stringify(params), '--control-key', controlKey],
    ]);
    t.notOk(gated.some((l) => typeof l.msg === 'string' && l.msg.startsWith('no --control-key')));
    const gatedDone = gated.find((l) => l.msg === 'feed finished');
    t.match(gatedDone, { candles: 500, fills: 0, signals: done?.signals, ledgerBalanced: true });
    t.ok(Number(gatedDone?.skippedBuys) > 0, 'its buys were skipped');

    const file = join(dir, 'streams.json');
    writeFileSync(
      file,
      `{
      // Two algorithms on one node, each on its own virtual balance.
      "kafka": "${kafka.bootstrap}",
      "signingKeyFile": "${key}",
      "replay": ["${BTC}", "${ETH}"],
      "speed": "max",
      "limit": 600,
      "streams": [
        { "stream": "ema-cross.1h", "strategy": "${DEFAULT_STRATEGY}" },
        { "stream": "ema-fast.1h", "strategy": "${DEFAULT_STRATEGY}", "params": { "fastPeriod": 5, "slowPeriod": 15 }, "symbols": ["ETH/USDT"] },
      ],
    }`,
    );
    const two = await finish(['--config', file]);
    t.same(
      runs(two).map((l) => [l.stream, l.symbols, l.params]),
      [
        ['ema-cross.1h', ['BTC/USDT', 'ETH/USDT'], strategyParams(DEFAULT_STRATEGY)],
        ['ema-fast.1h', ['ETH/USDT'], strategyParams(DEFAULT_STRATEGY, { fastPeriod: 5, slowPeriod: 15 })],
      ],
    );
    t.same(two.find((l) => l.msg === 'signing signals and candles with this key')?.streams, [
      'ema-cross.1h',
      'ema-fast.1h',
    ]);
    const finished = two.find((l) => l.msg === 'feed finished') as {
      candles?: number;
      streams?: { stream: string }[];
    };
    t.equal(finished?.candles, 600, 'each candle once');
    t.same(
      finished?.streams?.map((s) => s.stream),
      ['ema-cross.1h', 'ema-fast.1h'],
    );
    const published = two.filter((l) => l.msg === 'signal published');
    t.ok(
      published.length > 0 &&
        published.every(
          (l) => l.stream === 'ema-cross.1h' || (l.stream === 'ema-fast.1h' && l.symbol === 'ETH/USDT'),
        ),
      'each stream signals only what it trades',
    );
  },
);
