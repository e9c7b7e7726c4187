#!/usr/bin/env node
import { Command } from 'commander';
import { z } from 'zod';
import { createKafkaBus, signerFromPem } from '@appliance/protocol';
import { DEFAULT_FILL_COSTS, EmaCrossVolumeStrategy } from '@appliance/trading-core';
import {
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
  timeframe: z.string().regex(/^\d+[mhd]$/),
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
  .option('--symbols <list>', 'symbols for --live, comma separated', 'BTC/USDT')
  .option('--timeframe <tf>', 'candle timeframe for --live', '1h')
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
        }
      : {
          kind: 'live',
          exchange: createBinance({ baseUrl: config.ccxtUrl }),
          symbols: config.symbols,
          timeframe: config.timeframe,
        },
});
logger.info(result, 'feed finished');
await bus.close();
process.exit(result.error ? 1 : 0);
