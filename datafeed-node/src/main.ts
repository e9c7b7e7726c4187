#!/usr/bin/env node
import { z } from 'zod';
import { exportPublicKey, signerFromPem } from '@appliance/protocol';
import { createKafkaBus } from '@appliance/protocol/kafka';
import { DEFAULT_FILL_COSTS, EmaCrossVolumeStrategy } from '@appliance/trading-core';
import { EXIT, createLogger, handleShutdown, kafkaSecurityFromEnv, startShell } from '@appliance/runtime';
import { runFeed } from './run-feed.js';
import { DEFAULT_SIGNAL_TTL_MS } from './datafeed.js';
import { resolveReplayFiles } from './csv-candles.js';
import { FeedError } from './errors.js';

const pair = z.string().regex(/^[A-Z0-9]+\/[A-Z0-9]+$/, 'expected BASE/QUOTE, e.g. BTC/USDT');
const Config = z
  .object({
    kafka: z.string().min(1, 'required: signals go out on Kafka'),
    signingKeyFile: z.string().min(1, "required: this node's key signs its signals and candles"),
    stream: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/),
    origin: z.string().min(1),
    replay: z.array(z.string()),
    speed: z.union([z.literal('max'), z.coerce.number().positive()]),
    from: z.string().datetime({ offset: true }).optional(),
    limit: z.coerce.number().int().positive().optional(),
    live: z.boolean(),
    symbols: z.array(pair),
    symbol: pair.optional(),
    timeframe: z
      .string()
      .regex(/^[1-9]\d*[mhd]$/, 'expected e.g. 1m, 15m, 1h, 4h or 1d')
      .optional(),
    ccxtUrl: z.string().url().optional(),
    seed: z.coerce.number().positive(),
    ttlMs: z.coerce.number().int().positive(),
  })
  .superRefine((c, ctx) => {
    if (c.replay.length === 0 && !c.live)
      ctx.addIssue({ code: 'custom', path: ['replay'], message: 'give --replay FILE... or --live' });
    if (c.replay.length === 0 && c.symbol !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['symbol'],
        message: '--symbol is for --replay; --live takes --symbols',
      });
  });

const { config, signingKeyPem, kafkaSecurity } = startShell(
  {
    name: 'datafeed-node',
    description:
      'Runs one algorithm over its pairs on a virtual balance and publishes signed candles and signals',
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
        default: 'ema-cross.1h',
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
    ],
    helpAfter: 'Kafka TLS and SASL: KAFKA_SSL_* and KAFKA_SASL_* (docs/bus-security.md).',
  },
  (shell) => {
    const { config } = shell;
    const signingKeyPem = shell.readSigningKey('signingKeyFile');
    if (config.replay.length > 0) {
      try {
        // Checked here so that a file name or option problem exits 2 before Kafka is reached.
        resolveReplayFiles(config.replay, { symbol: config.symbol, timeframe: config.timeframe });
      } catch (err) {
        if (!(err instanceof FeedError)) throw err;
        throw shell.problem('replay', `${err.code}: ${err.message}`);
      }
    }
    // TLS and SASL/SCRAM from KAFKA_SSL_* / KAFKA_SASL_* (docs/bus-security.md).
    return { config, signingKeyPem, kafkaSecurity: kafkaSecurityFromEnv() };
  },
);

const logger = createLogger({ name: `datafeed:${config.origin}` });
const bus = createKafkaBus({
  brokers: config.kafka.split(','),
  clientId: config.origin,
  logger,
  ...kafkaSecurity,
});
const abort = new AbortController();
handleShutdown(logger, [() => abort.abort(), () => bus.close()]);
const signer = signerFromPem(signingKeyPem);
// Which key this node signs with, so an operator can match it to the pins (`npm run keygen -- --public FILE`).
logger.info(
  { kid: signer.kid, publicKey: exportPublicKey(signer.publicKey), stream: config.stream },
  'signing signals and candles with this key',
);
const result = await runFeed({
  bus,
  signer,
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
          // Loaded only for --live: ccxt is most of a process's memory, and a replay needs none of it.
          exchange: (await import('@appliance/runtime/ccxt')).createBinance({ baseUrl: config.ccxtUrl }),
          symbols: config.symbols,
          timeframe: config.timeframe ?? '1h',
        },
});
logger.info(result, 'feed finished');
await bus.close();
process.exit(result.error ? EXIT.failure : EXIT.ok);
