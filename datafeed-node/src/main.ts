#!/usr/bin/env node
import { Command } from 'commander';
import { z } from 'zod';
import { createKafkaBus, signerFromPem } from '@appliance/protocol';
import { DEFAULT_FILL_COSTS, EmaCrossVolumeStrategy } from '@appliance/trading-core';
import {
  ConfigError,
  createBinance,
  createLogger,
  exitOnConfigError,
  handleShutdown,
  kafkaSecurityFromEnv,
  parseConfig,
  readSigningKeyFile,
  type KafkaSecurity,
} from '@appliance/runtime';
import { runFeed } from './run-feed.js';
import { DEFAULT_SIGNAL_TTL_MS } from './datafeed.js';
import { resolveReplayFiles } from './csv-candles.js';
import { FeedError } from './errors.js';

const Config = z.object({
  kafka: z.string().min(1, 'KAFKA_BROKERS (or --kafka) is required: signals go out on Kafka'),
  signingKeyFile: z.string().min(1, 'DATAFEED_SIGNING_KEY_FILE (or --signing-key-file) is required'),
  stream: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/),
  origin: z.string().min(1),
  replay: z.array(z.string()),
  speed: z.union([z.literal('max'), z.coerce.number().positive()]),
  from: z.string().datetime({ offset: true }).optional(),
  limit: z.coerce.number().int().positive().optional(),
  live: z.boolean(),
  symbols: z.array(z.string().regex(/^[A-Z0-9]+\/[A-Z0-9]+$/)),
  symbol: z
    .string()
    .regex(/^[A-Z0-9]+\/[A-Z0-9]+$/, '--symbol: expected BASE/QUOTE, e.g. BTC/USDT')
    .optional(),
  timeframe: z
    .string()
    .regex(/^[1-9]\d*[mhd]$/, '--timeframe: expected e.g. 1m, 15m, 1h, 4h or 1d')
    .optional(),
  ccxtUrl: z.string().url().optional(),
  seed: z.coerce.number().positive(),
  ttlMs: z.coerce.number().int().positive(),
});

const opts = new Command('datafeed-node')
  .description(
    'Runs one algorithm over its pairs on a virtual balance and publishes signed candles and signals',
  )
  .option('--kafka <brokers>', 'Kafka bootstrap brokers', process.env.KAFKA_BROKERS ?? '')
  .option(
    '--signing-key-file <file>',
    "this node's Ed25519 PKCS#8 PEM key (signs its signals and candles)",
    process.env.DATAFEED_SIGNING_KEY_FILE ?? '',
  )
  .option('--stream <name>', 'stream the signals are published on', 'ema-cross.1h')
  .option('--origin <name>', 'node name stamped on signals', 'feed-1')
  .option('--replay <file...>', 'replay candle CSV files (time,open,high,low,close,volume)', [])
  .option('--speed <x>', "replay speed: multiple of real time, or 'max'", '3600')
  .option('--from <iso-time>', 'replay from this candle time')
  .option('--limit <n>', 'stop after this many candles')
  .option('--live', 'poll live candles with ccxt fetchOHLCV (needs network access to the exchange)', false)
  .option(
    '--symbol <pair>',
    'pair of the one --replay file whose name does not tell it (e.g. BTC/USDT); refused with several files',
  )
  .option(
    '--timeframe <tf>',
    'candle timeframe: of every --replay file (default: from the names), or for --live (default 1h)',
  )
  .option('--symbols <list>', 'symbols for --live, comma separated', 'BTC/USDT')
  .option('--ccxt-url <url>', 'point ccxt at another Binance-compatible base URL (e.g. the paper exchange)')
  .option('--seed <quote>', 'virtual balance in USDT', '10000')
  .option('--ttl-ms <ms>', 'signal validity after issue', String(DEFAULT_SIGNAL_TTL_MS))
  .parse()
  .opts<Record<string, unknown> & { symbols: string }>();

let config: z.infer<typeof Config>;
let kafkaSecurity: KafkaSecurity;
let signingKeyPem: string;
try {
  config = parseConfig('datafeed-node', Config, { ...opts, symbols: String(opts.symbols).split(',') });
  if (config.replay.length === 0 && !config.live) throw new Error('give --replay FILE... or --live');
  signingKeyPem = readSigningKeyFile(
    'datafeed-node',
    { name: 'signingKeyFile', flag: '--signing-key-file' },
    config.signingKeyFile,
  );
  if (config.replay.length === 0 && config.symbol !== undefined) {
    const issue = 'symbol: --symbol is for --replay; --live takes --symbols';
    throw new ConfigError(`invalid datafeed-node configuration:\n  - ${issue}`, [issue]);
  }
  if (config.replay.length > 0) {
    try {
      // Checked here so that a file name or option problem exits 2 before Kafka is reached.
      resolveReplayFiles(config.replay, { symbol: config.symbol, timeframe: config.timeframe });
    } catch (err) {
      if (!(err instanceof FeedError)) throw err;
      const issue = `replay: ${err.code}: ${err.message}`;
      throw new ConfigError(`invalid datafeed-node configuration:\n  - ${issue}`, [issue]);
    }
  }
  // TLS and SASL/SCRAM from KAFKA_SSL_* / KAFKA_SASL_* (docs/bus-security.md).
  kafkaSecurity = kafkaSecurityFromEnv();
} catch (err) {
  if (err instanceof Error && err.message.startsWith('give ')) {
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  exitOnConfigError(err);
}

const logger = createLogger({ name: `datafeed:${config.origin}` });
const bus = createKafkaBus({
  brokers: config.kafka.split(','),
  clientId: config.origin,
  logger,
  ...kafkaSecurity,
});
const abort = new AbortController();
handleShutdown(logger, [() => abort.abort(), () => bus.close()]);
const result = await runFeed({
  bus,
  signer: signerFromPem(signingKeyPem),
  logger,
  stream: config.stream,
  origin: config.origin,
  seed: config.seed,
  ttlMs: config.ttlMs,
  costs: DEFAULT_FILL_COSTS,
  strategy: () => new EmaCrossVolumeStrategy(),
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
          exchange: createBinance({ baseUrl: config.ccxtUrl }),
          symbols: config.symbols,
          timeframe: config.timeframe ?? '1h',
        },
});
logger.info(result, 'feed finished');
await bus.close();
process.exit(result.error ? 1 : 0);
