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
import { DEFAULT_FILL_COSTS, EmaCrossVolumeStrategy } from '@appliance/trading-core';
import { runFeed } from '../src/index.js';

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
  await new Promise((r) => setTimeout(r, 50));
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
