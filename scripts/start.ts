/**
 * `npm start`: the whole system on one machine, in one process. Control server with the
 * dashboard, paper exchange, gateway, datafeed and one demo device in paper mode, on the
 * embedded bus (or Kafka when KAFKA_BROKERS is set). Ctrl-C stops everything.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import {
  EmbeddedBus,
  KeyRing,
  TOPIC_PARTITIONS,
  exportPublicKey,
  generateSigner,
  type Bus,
} from '@appliance/protocol';
import { createKafkaBus } from '@appliance/protocol/kafka';
import { DEFAULT_FILL_COSTS, EmaCrossVolumeStrategy } from '@appliance/trading-core';
import {
  createLogger,
  exitOnConfigError,
  handleShutdown,
  kafkaSecurityFromEnv,
  type KafkaSecurity,
  startShell,
} from '@appliance/runtime';
import { createBinance } from '@appliance/runtime/ccxt';
import { startControlServer } from '@appliance/control-server';
import { createGateway } from '@appliance/gateway';
import { runFeed, type FeedSource } from '@appliance/datafeed-node';
import {
  ClientConfig,
  createBinanceExecutor,
  createSignalClient,
  openStateStore,
} from '@appliance/signal-client';

const Config = z.object({
  replay: z.array(z.string().min(1)),
  speed: z.union([
    z.literal('max'),
    z.coerce.number().positive("a positive multiple of real time, or 'max'"),
  ]),
  live: z.boolean(),
  port: z.coerce.number().int().min(0).max(65535),
  dataDir: z.string(),
});

// The same shell as every process: flag > variable > `--config` file > default, bad values exit 2.
const { config: opts } = startShell({
  name: 'npm start',
  description: 'Run the whole system locally with one demo device in paper mode',
  configEnv: 'START_CONFIG',
  schema: Config,
  options: [
    {
      flag: '--replay <file...>',
      env: 'START_REPLAY',
      description: 'replay candle CSV files, e.g. ../shared/data/ohlcv/binance_BTC-USDT_1h.csv',
      default: [],
    },
    {
      flag: '--speed <x>',
      env: 'START_SPEED',
      description: "replay speed: multiple of real time, or 'max'",
      default: '360000',
    },
    {
      flag: '--live',
      env: 'START_LIVE',
      description: 'poll live Binance candles with ccxt (falls back to synthetic candles if unreachable)',
      default: false,
    },
    { flag: '--port <n>', env: 'PORT', description: 'dashboard / API port', default: '8090' },
    {
      flag: '--data-dir <dir>',
      env: 'START_DATA_DIR',
      description: 'where state is kept (default: a new temporary folder each run)',
      default: '',
    },
  ],
});

const logger = createLogger({ name: 'system', level: process.env.LOG_LEVEL ?? 'warn' });
const say = (line: string) => process.stdout.write(`${line}\n`);
const dataDir = resolve(opts.dataDir || mkdtempSync(join(tmpdir(), 'signal-appliance-')));
const speed = opts.speed;

// TLS and SASL/SCRAM for Kafka from KAFKA_SSL_* / KAFKA_SASL_* (docs/bus-security.md); bad ones exit 2.
let kafkaSecurity: KafkaSecurity = {};
try {
  if (process.env.KAFKA_BROKERS) kafkaSecurity = kafkaSecurityFromEnv();
} catch (err) {
  exitOnConfigError(err);
}
const bus: Bus = process.env.KAFKA_BROKERS
  ? createKafkaBus({
      brokers: process.env.KAFKA_BROKERS.split(','),
      clientId: 'system',
      logger,
      ...kafkaSecurity,
    })
  : new EmbeddedBus();
for (const [topic, n] of Object.entries(TOPIC_PARTITIONS)) await bus.ensureTopic(topic, n);

const controlSigner = generateSigner();
const feedSigner = generateSigner();
const adminToken = randomBytes(24).toString('base64url');
const stream = 'ema-cross.1h';
const symbols = ['BTC/USDT'];

const source = await chooseSource();
const streamName = source.kind === 'synthetic' ? `${stream}-synthetic` : stream;

const control = await startControlServer({
  bus,
  signer: controlSigner,
  adminToken,
  logger,
  dataDir: join(dataDir, 'control'),
  eligibility: { [streamName]: symbols },
  // The paper exchange takes only candles the datafeed signed.
  feedKeys: KeyRing.of(exportPublicKey(feedSigner.publicKey)),
});
const dashboard = await control.listen(opts.port, '127.0.0.1');
const gateway = await createGateway({
  bus,
  tokenKeys: KeyRing.of(exportPublicKey(controlSigner.publicKey)),
  signalKeys: KeyRing.of(exportPublicKey(feedSigner.publicKey)),
  logger,
});
const gatewayUrl = await gateway.listen(0, '127.0.0.1');

// The demo device: registered like any other, with a paper-exchange account of its own.
const headers = { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' };
async function api<T>(path: string, body?: object): Promise<T> {
  const res = await fetch(`${dashboard}${path}`, {
    method: 'POST',
    headers,
    body: JSON.stringify(body ?? {}),
  });
  if (!res.ok) throw new Error(`POST ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}
const created = await api<{ token: string }>('/api/devices', { id: 'demo-device', label: 'Demo (paper)' });
const paper = await api<{ apiKey: string; secret: string }>('/api/devices/demo-device/paper-account');
const config = ClientConfig.parse({
  deviceId: 'demo-device',
  gatewayUrl,
  token: created.token,
  signalKeys: [exportPublicKey(feedSigner.publicKey)],
  controlKeys: [exportPublicKey(controlSigner.publicKey)],
  stateFile: join(dataDir, 'device', 'state.json'),
  exchange: { paperUrl: control.paperUrl },
  telemetryIntervalMs: 2_000,
  statusPort: 0,
});
const store = await openStateStore(config.stateFile, config.deviceId);
const client = createSignalClient({
  config,
  store,
  exchange: createBinanceExecutor({ ...paper, paperUrl: control.paperUrl }),
  logger: logger.child({ device: 'demo-device' }),
});
await client.start();

say('');
say('  Signal appliance is running.');
say(`  Dashboard:       ${dashboard}/#token=${adminToken}`);
say(`  Fleet API:       curl -H 'Authorization: Bearer ${adminToken}' ${dashboard}/api/fleet`);
say(`  Gateway:         ${gatewayUrl}`);
say(`  Paper exchange:  ${control.paperUrl}`);
say(
  `  Bus:             ${bus.kind === 'kafka' ? `Kafka at ${process.env.KAFKA_BROKERS}` : 'embedded (set KAFKA_BROKERS to use Kafka)'}`,
);
say(`  Market data:     ${describe(source)}`);
say(`  State:           ${dataDir}`);
say('  Press Ctrl-C to stop.');
say('');

const abort = new AbortController();
handleShutdown(logger, [
  () => bus.close(),
  () => control.close(),
  () => gateway.close(),
  () => client.stop(),
  () => abort.abort(),
]);
let decisions = 0;
client.on('decision', (d: { outcome: string; side: string; symbol: string; reason: string }) => {
  decisions++;
  say(`  device: ${d.outcome.padEnd(8)} ${d.side.padEnd(4)} ${d.symbol}  ${d.reason}`);
});

const result = await runFeed({
  bus,
  signer: feedSigner,
  logger,
  stream: streamName,
  origin: 'feed-1',
  seed: 10_000,
  ttlMs: 60_000,
  costs: DEFAULT_FILL_COSTS,
  strategy: () => new EmaCrossVolumeStrategy(),
  source,
  signal: abort.signal,
  // Reports on the venue (here the replay) and the house portfolio, for the control server's breaker.
  reportEveryMs: 5_000,
  onProgress: (s, _symbol, candle) => {
    if (s.candles % 2000 === 0)
      say(
        `  feed: ${s.candles} candles (at ${new Date(candle.time).toISOString().slice(0, 10)}), ${s.signals} signals, ${decisions} device decisions`,
      );
  },
});
if (!abort.signal.aborted) {
  say(
    result.error
      ? `  feed stopped: ${result.error}`
      : `  feed finished: ${result.candles} candles, ${result.signals} signals. Still serving; Ctrl-C to stop.`,
  );
}

async function chooseSource(): Promise<FeedSource> {
  if (opts.replay.length) return { kind: 'replay', files: opts.replay, speed };
  if (opts.live) {
    const exchange = createBinance({ timeoutMs: 5_000 });
    try {
      await exchange.loadMarkets();
      return { kind: 'live', exchange, symbols, timeframe: '1m', pollMs: 10_000 };
    } catch (err) {
      say(
        `  Live market data is unreachable (${(err as Error).message.slice(0, 80)}): using SYNTHETIC candles.`,
      );
    }
  }
  return { kind: 'synthetic', symbols, speed: speed === 'max' ? 'max' : Math.min(speed, 36_000) };
}

function describe(s: FeedSource): string {
  if (s.kind === 'replay') return `replay of ${s.files.join(', ')} at ${s.speed}x`;
  if (s.kind === 'live') return `live Binance ${s.symbols.join(', ')} ${s.timeframe} candles via ccxt`;
  return 'SYNTHETIC candles (not real market data; use --replay FILE or --live)';
}
