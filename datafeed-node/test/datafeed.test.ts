import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import pino from 'pino';
import {
  EmbeddedBus,
  KeyRing,
  TOPICS,
  exportPublicKey,
  generateSigner,
  candleId,
  signalId,
  verifyCandle,
  verifySignal,
  type Signal,
} from '@appliance/protocol';
import { DEFAULT_FILL_COSTS, EmaCrossVolumeStrategy, type Candle } from '@appliance/trading-core';
import { rejectionOf, waitFor } from '@appliance/test-kit';
import { Datafeed, runFeed } from '../src/index.js';

const DATA = new URL('../../../shared/data/ohlcv/', import.meta.url).pathname;
const logger = pino({ level: 'silent' });
const signer = generateSigner();
const keys = KeyRing.of(exportPublicKey(signer.publicKey));

async function replay(limit: number) {
  const bus = new EmbeddedBus();
  const signals: Signal[] = [];
  const candles: { key: string; value: unknown }[] = [];
  await bus.subscribe({
    topic: TOPICS.signals,
    from: 'earliest',
    onMessage: (m) => void signals.push(JSON.parse(m.value.toString())),
  });
  await bus.subscribe({
    topic: TOPICS.candles,
    from: 'earliest',
    onMessage: (m) => void candles.push({ key: m.key, value: JSON.parse(m.value.toString()) }),
  });
  const result = await runFeed({
    bus,
    signer,
    logger,
    stream: 'ema-cross.1h',
    origin: 'feed-test',
    seed: 10_000,
    ttlMs: 60_000,
    costs: DEFAULT_FILL_COSTS,
    strategy: () => new EmaCrossVolumeStrategy(),
    source: {
      kind: 'replay',
      files: [join(DATA, 'binance_BTC-USDT_1h.csv'), join(DATA, 'binance_ETH-USDT_1h.csv')],
      speed: 'max',
      limit,
    },
  });
  // The bus delivers after publish resolves: wait until every record published has arrived.
  await waitFor(
    () => candles.length >= result.candles && signals.length >= result.signals,
    "the replay's records on the bus",
  );
  return { result, signals, candles };
}

t.test(
  'a replay publishes every candle and a signed, verifiable signal for each virtual trade',
  async (t) => {
    const { result, signals, candles } = await replay(2000);
    t.equal(result.candles, 2000);
    t.equal(candles.length, 2000);
    t.ok(result.signals > 4, `some signals (${result.signals})`);
    t.equal(signals.length, result.signals);
    t.ok(result.ledgerBalanced, 'the virtual ledger balances');
    for (const s of signals) {
      t.same(verifySignal(s, keys, { now: s.ts }), s);
      t.equal(s.id, signalId('ema-cross.1h', s.symbol, s.candleTime));
    }
    t.same(
      new Set(signals.map((s) => s.symbol)),
      new Set(['BTC/USDT', 'ETH/USDT']),
      'both pairs trade on one balance',
    );
    const bySymbol = new Map<string, string[]>();
    for (const s of signals) bySymbol.set(s.symbol, [...(bySymbol.get(s.symbol) ?? []), s.side]);
    for (const [sym, sides] of bySymbol) {
      t.ok(
        sides.every((side, i) => i === 0 || side !== sides[i - 1]),
        `${sym}: buys and sells alternate`,
      );
      t.equal(sides[0], 'buy', `${sym}: starts with a buy`);
    }
  },
);

t.test('every candle goes out signed by the feed, verifiable against its pinned key alone', async (t) => {
  const { candles } = await replay(300);
  t.equal(candles.length, 300);
  const verified = candles.map(({ key, value }) => {
    const c = verifyCandle(value, keys);
    t.equal(key, c.symbol, 'keyed by symbol');
    return c;
  });
  t.same(new Set(verified.map((c) => c.origin)), new Set(['feed-test']));
  t.ok(verified.every((c) => c.kid === signer.kid && c.timeframe === '1h'));
  t.ok(verified.every((c) => c.id === candleId('feed-test', c.symbol, '1h', c.time)));
  t.throws(() => verifyCandle(verified[0], KeyRing.of(exportPublicKey(generateSigner().publicKey))), {
    code: 'E_UNKNOWN_KEY',
  });
});

t.test('a restarted replay mints the very same signal ids for the same candles', async (t) => {
  const first = await replay(1500);
  const second = await replay(1500);
  t.same(
    second.signals.map((s) => s.id),
    first.signals.map((s) => s.id),
  );
  t.not(second.signals[0]!.sig, undefined);
});

t.test('a bad file ends the feed with its error, after the candles before it', async (t) => {
  const bus = new EmbeddedBus();
  const result = await runFeed({
    bus,
    signer,
    logger,
    stream: 's',
    origin: 'o',
    seed: 1000,
    ttlMs: 1000,
    costs: DEFAULT_FILL_COSTS,
    strategy: () => new EmaCrossVolumeStrategy(),
    source: { kind: 'replay', files: ['/nonexistent/binance_BTC-USDT_1h.csv'], speed: 'max' },
  });
  t.match(result.error, /^E_FILE: \/nonexistent\/binance_BTC-USDT_1h.csv: ENOENT/);
  t.equal(result.candles, 0);
});

function capturingLogger() {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'warn' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  return { log, lines };
}

const feedOptions = (bus: EmbeddedBus, log: pino.Logger) => ({
  bus,
  signer,
  logger: log,
  stream: 's',
  origin: 'o',
  seed: 1000,
  ttlMs: 1000,
  costs: DEFAULT_FILL_COSTS,
  strategy: () => new EmaCrossVolumeStrategy(),
});

t.test(
  'a file with another name replays with --symbol/--timeframe; its gaps are logged and it goes on',
  async (t) => {
    const HOUR = 3_600_000;
    const T0 = 1_699_999_200_000;
    const dir = mkdtempSync(join(tmpdir(), 'feed-'));
    const path = join(dir, 'prices.csv');
    const at = (h: number) => `${T0 + h * HOUR},1,2,0.5,1.5,10\n`;
    writeFileSync(path, 'time,open,high,low,close,volume\n' + at(0) + at(1) + at(4) + at(5));
    const { log, lines } = capturingLogger();
    const result = await runFeed({
      ...feedOptions(new EmbeddedBus(), log),
      source: { kind: 'replay', files: [path], speed: 'max', symbol: 'SOL/USDT', timeframe: '1h' },
    });
    t.equal(result.error, undefined);
    t.equal(result.candles, 4, 'the replay went on past the gap');
    t.equal(result.gaps, 1);
    t.equal(lines.length, 1);
    t.match(lines[0], {
      level: 40,
      msg: `${path}:4: gap: 2 1h candles missing between 2023-11-14T23:00:00.000Z and 2023-11-15T02:00:00.000Z; replay goes on`,
      file: path,
      symbol: 'SOL/USDT',
      after: '2023-11-14T23:00:00.000Z',
      before: '2023-11-15T02:00:00.000Z',
      missing: 2,
    });
  },
);

t.test('--symbol with several files ends the feed with a clear E_FILE before any candle', async (t) => {
  const { log } = capturingLogger();
  const result = await runFeed({
    ...feedOptions(new EmbeddedBus(), log),
    source: {
      kind: 'replay',
      files: [join(DATA, 'binance_BTC-USDT_1h.csv'), join(DATA, 'binance_ETH-USDT_1h.csv')],
      speed: 'max',
      symbol: 'BTC/USDT',
    },
  });
  t.equal(
    result.error,
    'E_FILE: --symbol BTC/USDT names the pair of one file, but 2 files were given: replay one file per --symbol, or name each file like binance_BTC-USDT_1h.csv',
  );
  t.equal(result.candles, 0);
});

t.test('an unsound candle is refused before it is published or any strategy sees it', async (t) => {
  const bus = new EmbeddedBus();
  const published: unknown[] = [];
  await bus.subscribe({ topic: TOPICS.candles, from: 'earliest', onMessage: (m) => void published.push(m) });
  const seen: number[] = [];
  const feed = new Datafeed({
    ...feedOptions(bus, logger),
    symbols: ['BTC/USDT'],
    timeframe: '1h',
    quote: 'USDT',
    strategy: () => ({ name: 'spy', version: 'spy/1', onCandle: (c) => (seen.push(c.time), null) }),
  });
  const T = 1_699_999_200_000;
  const good = { time: T, open: 1, high: 2, low: 0.5, close: 1.5, volume: 1 };
  const cases: [Candle, string][] = [
    [
      { ...good, high: 0.1 },
      `E_BAD_CANDLE: BTC/USDT candle at ${T}: low <= min(open, close) <= max(open, close) <= high does not hold`,
    ],
    [
      { ...good, time: 1_699_999_200 },
      'E_BAD_CANDLE: BTC/USDT candle at 1699999200: time 1699999200 is in seconds, not milliseconds (times must be ms since 1970; below 100000000000 is taken as seconds)',
    ],
    [{ ...good, close: Number.NaN }, `E_BAD_CANDLE: BTC/USDT candle at ${T}: close is not a finite number`],
  ];
  for (const [candle, expected] of cases)
    t.equal(await rejectionOf(feed.onCandle('BTC/USDT', candle)), expected);
  await feed.onCandle('BTC/USDT', good);
  t.equal(
    await rejectionOf(feed.onCandle('BTC/USDT', good)),
    `E_BAD_CANDLE: BTC/USDT candle at ${T} is not after the previous one at ${T}`,
  );
  // A later sound candle is the barrier: the bus keeps order, so once it has arrived anything
  // published for the refused ones would have arrived before it.
  const next = { ...good, time: T + 3_600_000 };
  await feed.onCandle('BTC/USDT', next);
  await waitFor(() => published.length >= 2, 'the barrier candle');
  t.same(seen, [T, next.time], 'the strategy saw only the sound candles');
  t.equal(published.length, 2, 'only the sound candles went out');
  t.equal(feed.stats().candles, 2);
});
