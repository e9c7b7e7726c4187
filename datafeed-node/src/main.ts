#!/usr/bin/env node
import { KeyRing, exportPublicKey, signerFromPem, type Subscription } from '@appliance/protocol';
import { createKafkaBus } from '@appliance/protocol/kafka';
import { DEFAULT_FILL_COSTS } from '@appliance/trading-core';
import { EXIT, createLogger, handleShutdown, kafkaSecurityFromEnv, startShell } from '@appliance/runtime';
import { runFeed } from './run-feed.js';
import { DEFAULT_SIGNAL_TTL_MS } from './datafeed.js';
import { DEFAULT_REPORT_EVERY_MS } from './feed-reporter.js';
import { followControlTopic } from './control-topic.js';
import { Eligibility } from './eligibility.js';
import { HousePolicy } from './house-policy.js';
import { resolveReplayFiles } from './csv-candles.js';
import { FeedError } from './errors.js';
import { DEFAULT_STRATEGY, DEFAULT_STREAM, configuredStreams } from './stream-config.js';
import { describeStrategies } from './strategy-list.js';
import { Config } from './config.js';

const started = startShell(
  {
    name: 'datafeed-node',
    description:
      'Runs algorithms by name over its pairs, each stream on its own virtual balance, and publishes signed candles and signals',
    configEnv: 'DATAFEED_CONFIG',
    schema: Config,
    options: [
      {
        flag: '--kafka <brokers>',
        env: 'KAFKA_BROKERS',
        description: 'Kafka bootstrap brokers',
        default: '',
      },
      {
        flag: '--signing-key-file <file>',
        env: 'DATAFEED_SIGNING_KEY_FILE',
        description: "this node's Ed25519 PKCS#8 PEM key (signs its signals and candles)",
        default: '',
      },
      {
        flag: '--stream <name>',
        env: 'DATAFEED_STREAM',
        description: 'stream the signals are published on',
        default: DEFAULT_STREAM,
      },
      {
        flag: '--strategy <name>',
        env: 'DATAFEED_STRATEGY',
        description: 'the strategy the stream runs, by name (--list-strategies lists them)',
        default: DEFAULT_STRATEGY,
      },
      {
        flag: '--params <json>',
        env: 'DATAFEED_PARAMS',
        description:
          "the strategy's parameters as a JSON object, e.g. '{\"fastPeriod\": 9}'; unset ones take their defaults",
      },
      {
        flag: '--streams <json>',
        env: 'DATAFEED_STREAMS',
        description:
          'several streams at once, each on its own virtual balance: a JSON array of {stream, strategy, params?, symbols?}; instead of --stream, --strategy and --params',
      },
      {
        flag: '--list-strategies',
        env: 'DATAFEED_LIST_STRATEGIES',
        description: "print every strategy with its parameters' defaults and meanings, and exit",
        default: false,
      },
      {
        flag: '--origin <name>',
        env: 'DATAFEED_ORIGIN',
        description: 'node name stamped on signals',
        default: 'feed-1',
      },
      {
        flag: '--replay <file...>',
        env: 'DATAFEED_REPLAY',
        description: 'replay candle CSV files (time,open,high,low,close,volume)',
        default: [],
      },
      {
        flag: '--speed <x>',
        env: 'DATAFEED_SPEED',
        description: "replay speed: multiple of real time, or 'max'",
        default: '3600',
      },
      { flag: '--from <iso-time>', env: 'DATAFEED_FROM', description: 'replay from this candle time' },
      { flag: '--limit <n>', env: 'DATAFEED_LIMIT', description: 'stop after this many candles' },
      {
        flag: '--live',
        env: 'DATAFEED_LIVE',
        description: 'poll live candles with ccxt fetchOHLCV (needs network access to the exchange)',
        default: false,
      },
      {
        flag: '--symbol <pair>',
        env: 'DATAFEED_SYMBOL',
        description:
          'pair of the one --replay file whose name does not tell it (e.g. BTC/USDT); refused with several files',
      },
      {
        flag: '--timeframe <tf>',
        env: 'DATAFEED_TIMEFRAME',
        description:
          'candle timeframe: of every --replay file (default: from the names), or for --live (default 1h)',
      },
      {
        flag: '--symbols <pair...>',
        env: 'DATAFEED_SYMBOLS',
        description: 'symbols for --live, comma separated',
        default: ['BTC/USDT'],
      },
      {
        flag: '--ccxt-url <url>',
        env: 'DATAFEED_CCXT_URL',
        description: 'point ccxt at another Binance-compatible base URL (e.g. the paper exchange)',
      },
      {
        flag: '--seed <quote>',
        env: 'DATAFEED_SEED',
        description: 'virtual balance in USDT',
        default: '10000',
      },
      {
        flag: '--ttl-ms <ms>',
        env: 'DATAFEED_TTL_MS',
        description: 'signal validity after issue',
        default: String(DEFAULT_SIGNAL_TTL_MS),
      },
      {
        flag: '--report-every-ms <ms>',
        env: 'DATAFEED_REPORT_EVERY_MS',
        description:
          'publish a signed feed report (venue calls, errors, p99 latency, newest candles, house equity) on feed-reports this often; 0: never',
        default: String(DEFAULT_REPORT_EVERY_MS),
      },
      {
        flag: '--control-key <key...>',
        env: 'DATAFEED_CONTROL_KEYS',
        key: 'controlKeys',
        description:
          "control server's public key(s): the house portfolios follow its signed eligibility and house policy; none: they buy any symbol, without a spending policy",
        default: [],
      },
    ],
    helpAfter: 'Kafka TLS and SASL: KAFKA_SSL_* and KAFKA_SASL_* (docs/bus-security.md).',
  },
  (shell) => {
    const { config } = shell;
    if (config.listStrategies) return { list: true as const };
    const signingKeyPem = shell.readSigningKey('signingKeyFile');
    let fed = { symbols: config.symbols, key: 'symbols' as 'replay' | 'symbols' };
    if (config.replay.length > 0) {
      try {
        // Checked here so that a file name or option problem exits 2 before Kafka is reached.
        const files = resolveReplayFiles(config.replay, {
          symbol: config.symbol,
          timeframe: config.timeframe,
        });
        fed = { symbols: files.map((f) => f.symbol), key: 'replay' };
      } catch (err) {
        if (!(err instanceof FeedError)) throw err;
        throw shell.problem('replay', `${err.code}: ${err.message}`);
      }
    }
    // Strategy names, their params and their inputs, before Kafka is reached too.
    const streams = configuredStreams(config, shell.source, fed, shell.problem);
    // TLS and SASL/SCRAM from KAFKA_SSL_* / KAFKA_SASL_* (docs/bus-security.md).
    return { list: false as const, config, signingKeyPem, streams, kafkaSecurity: kafkaSecurityFromEnv() };
  },
);
if (started.list) {
  process.stdout.write(describeStrategies());
  process.exit(EXIT.ok);
}
const { config, signingKeyPem, streams, kafkaSecurity } = started;

const logger = createLogger({ name: `datafeed:${config.origin}` });
const bus = createKafkaBus({
  brokers: config.kafka.split(','),
  clientId: config.origin,
  logger,
  ...kafkaSecurity,
});
const abort = new AbortController();
let eligibility: Eligibility | undefined;
let housePolicy: HousePolicy | undefined;
let control: Subscription | undefined;
// Closers run last to first: the feed is aborted before the bus closes, so no feed report is
// begun on a closing bus (runFeed stops its reports on abort and waits for one in flight).
handleShutdown(logger, [() => control?.close(), () => bus.close(), () => abort.abort()]);
const signer = signerFromPem(signingKeyPem);
// Which key this node signs with, so an operator can match it to the pins (`npm run keygen -- --public FILE`).
logger.info(
  {
    kid: signer.kid,
    publicKey: exportPublicKey(signer.publicKey),
    ...(config.streams ? { streams: streams.map((s) => s.stream) } : { stream: config.stream }),
  },
  'signing signals and candles with this key',
);
if (config.controlKeys.length > 0) {
  eligibility = new Eligibility({
    keys: KeyRing.of(...config.controlKeys),
    streams: streams.map((s) => s.stream),
    logger,
  });
  housePolicy = new HousePolicy({ keys: KeyRing.of(...config.controlKeys), logger });
  // Positioned before the first candle, so retained eligibility and policy are read from the topic's start.
  control = await followControlTopic(bus, [eligibility, housePolicy]);
} else {
  logger.warn(
    'no --control-key: the house portfolios do not follow eligibility nor the house policy, and buy any symbol (signals are the same either way)',
  );
}
const result = await runFeed({
  bus,
  signer,
  logger,
  streams,
  origin: config.origin,
  seed: config.seed,
  ttlMs: config.ttlMs,
  reportEveryMs: config.reportEveryMs,
  costs: DEFAULT_FILL_COSTS,
  eligibility,
  housePolicy,
  signal: abort.signal,
  source:
    config.replay.length > 0
      ? {
          kind: 'replay',
          files: config.replay,
          speed: config.speed,
          from: config.from ? Date.parse(config.from) : undefined,
          limit: config.limit,
          symbol: config.symbol,
          timeframe: config.timeframe,
        }
      : {
          kind: 'live',
          // Loaded only for --live: ccxt is most of a process's memory, and a replay needs none of it.
          exchange: (await import('@appliance/runtime/ccxt')).createBinance({ baseUrl: config.ccxtUrl }),
          symbols: config.symbols,
          timeframe: config.timeframe ?? '1h',
        },
});
logger.info(result, 'feed finished');
await bus.close();
process.exit(result.error ? EXIT.failure : EXIT.ok);
