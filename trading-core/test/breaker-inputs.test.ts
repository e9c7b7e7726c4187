import t from 'tap';
import { Breaker, MARKET, type BreakerConfigInput, type BreakerEvent } from '../src/breaker/index.js';
import { HOUR, QUIET, T0, feed, merge, trips, walk } from './helpers/breaker-series.js';

const SEC = 1000;

interface Row {
  input: string;
  config: BreakerConfigInput;
  /** Feeds a calm history, then the disturbance; returns every event. */
  run: (b: Breaker) => BreakerEvent[];
  scope: string;
  level: 'caution' | 'halt';
  reason: RegExp | string;
}

const ASSETS = ['BTC', 'ETH', 'SOL', 'BNB', 'XRP', 'ADA', 'DOGE'].map((a) => `${a}/USDT`);

const rows: Row[] = [
  {
    input: 'return',
    config: merge(QUIET, { returnZ: { caution: 3, halt: 4.5 } }),
    run: (b) => {
      const closes = walk(200, 0.005, 1);
      closes.push((closes.at(-1) as number) * 0.9);
      return feed(b, 'BTC/USDT', closes);
    },
    scope: 'BTC/USDT',
    level: 'halt',
    reason: /^BTC\/USDT fell \d+\.\d % in 2 h, \d+\.\d σ$/,
  },
  {
    input: 'return (a rise stops buying too)',
    config: merge(QUIET, { returnZ: { caution: 3, halt: 4.5 } }),
    run: (b) => {
      const closes = walk(200, 0.005, 2);
      closes.push((closes.at(-1) as number) * 1.12);
      return feed(b, 'ETH/USDT', closes);
    },
    scope: 'ETH/USDT',
    level: 'halt',
    reason: /^ETH\/USDT rose \d+\.\d % in 2 h, \d+\.\d σ$/,
  },
  {
    input: 'volatility',
    config: merge(QUIET, { volatility: { caution: { floor: 0.02 }, halt: { floor: 0.04 } } }),
    run: (b) => {
      const closes = walk(200, 0.005, 3);
      // One bar up 20 %: the return input would see it too, but it is turned off here.
      closes.push((closes.at(-1) as number) * 1.2);
      return feed(b, 'ETH/USDT', closes);
    },
    scope: 'ETH/USDT',
    level: 'halt',
    reason: /^ETH\/USDT realised volatility over 12 h is \d+\.?\d?× its usual 99th percentile$/,
  },
  {
    input: 'breadth',
    config: merge(QUIET, { breadth: { caution: { floor: 0.5 }, halt: { floor: 0.75 } } }),
    run: (b) => {
      const events: BreakerEvent[] = [];
      const series = ASSETS.map((_, i) => walk(200, 0.005, 10 + i));
      for (let bar = 0; bar < 201; bar++) {
        ASSETS.forEach((s, i) => {
          const c = series[i] as number[];
          const close = bar < 200 ? (c[bar] as number) : (c[199] as number) * 0.95;
          const time = T0 + bar * HOUR;
          events.push(...b.candle({ symbol: s, time, close, timeframeMs: HOUR }, time + HOUR));
        });
      }
      return events;
    },
    scope: MARKET,
    level: 'halt',
    // Caution at 4 of 7 (≥ 0.5), halt at 6 of 7 (≥ 0.75), while the bar's candles come in.
    reason: /^[A-Z]+\/USDT fell \d+\.\d % in 2 h, \d+\.\d σ; 6 of 7 assets down together$/,
  },
  {
    input: 'drawdown',
    config: QUIET,
    run: (b) => {
      const events: BreakerEvent[] = [];
      for (let i = 0; i < 200; i++) events.push(...b.houseEquity(10_000 + i, T0 + i * HOUR));
      events.push(...b.houseEquity(10_199 * 0.877, T0 + 200 * HOUR));
      return events;
    },
    scope: MARKET,
    level: 'halt',
    reason: 'house portfolio 12.3 % below its peak',
  },
  {
    input: 'venue-errors',
    config: QUIET,
    run: (b) => {
      const events: BreakerEvent[] = [];
      for (let i = 0; i < 100; i++)
        events.push(
          ...b.venue(
            { venue: 'binance', requests: 40, errors: i % 10 ? 0 : 1, latencyP99Ms: 200 },
            T0 + i * 10 * SEC,
          ),
        );
      events.push(
        ...b.venue({ venue: 'binance', requests: 40, errors: 25, latencyP99Ms: 200 }, T0 + 1000 * SEC),
      );
      return events;
    },
    scope: MARKET,
    level: 'halt',
    reason: 'venue binance: 63 % of 40 API calls failed',
  },
  {
    input: 'venue-errors (nothing answers at all)',
    config: QUIET,
    run: (b) => b.venue({ venue: 'binance', requests: 12, errors: 12, latencyP99Ms: null }, T0),
    scope: MARKET,
    level: 'halt',
    reason: 'venue binance: 100 % of 12 API calls failed',
  },
  {
    input: 'venue-latency',
    config: QUIET,
    run: (b) => {
      const events: BreakerEvent[] = [];
      for (let i = 0; i < 100; i++)
        events.push(
          ...b.venue(
            { venue: 'binance', requests: 40, errors: 0, latencyP99Ms: 600 + (i % 7) * 20 },
            T0 + i * 10 * SEC,
          ),
        );
      events.push(
        ...b.venue({ venue: 'binance', requests: 40, errors: 0, latencyP99Ms: 8200 }, T0 + 1000 * SEC),
      );
      return events;
    },
    scope: MARKET,
    level: 'halt',
    reason: 'venue binance: API latency p99 8.2 s, 12× usual',
  },
  {
    input: 'venue-silent',
    config: QUIET,
    run: (b) => {
      const events: BreakerEvent[] = [];
      for (let i = 0; i < 20; i++)
        events.push(
          ...b.venue({ venue: 'binance', requests: 40, errors: 0, latencyP99Ms: 200 }, T0 + i * 10 * SEC),
        );
      events.push(...b.tick(T0 + 19 * 10 * SEC + 25 * SEC));
      events.push(...b.tick(T0 + 19 * 10 * SEC + 180 * SEC));
      return events;
    },
    scope: MARKET,
    level: 'halt',
    reason: 'venue binance: no report for 3 min (usually every 10 s)',
  },
  {
    input: 'stale',
    config: merge(QUIET, { stale: { caution: { floor: 120_000 } } }),
    run: (b) => {
      const events = feed(b, 'SOL/USDT', walk(30, 0.005, 4));
      // Another asset keeps coming, so the market is not stale as a whole.
      events.push(...feed(b, 'BTC/USDT', walk(37, 0.005, 9)));
      // Replay-style ticks at each bar's close never look stale...
      events.push(...b.tick(T0 + 30 * HOUR));
      // ...seven hours without a candle does.
      events.push(...b.tick(T0 + 37 * HOUR));
      return events;
    },
    scope: 'SOL/USDT',
    level: 'halt',
    reason: 'SOL/USDT: no candle for 7 h (usually one every 1 h)',
  },
  {
    input: 'peg',
    config: QUIET,
    run: (b) => {
      const events: BreakerEvent[] = [];
      for (let i = 0; i < 100; i++) events.push(...b.peg(1 + ((i % 5) - 2) * 0.0001, T0 + i * 60 * SEC));
      events.push(...b.peg(0.9712, T0 + 100 * 60 * SEC));
      return events;
    },
    scope: MARKET,
    level: 'halt',
    reason: 'quote stablecoin at 0.9712 against the second stablecoin, 2.9 % off its peg',
  },
];

for (const row of rows) {
  t.test(`${row.input} alone trips ${row.scope} to ${row.level} and says why`, async (t) => {
    const b = new Breaker(row.config);
    const events = row.run(b);
    const tripped = trips(events);
    t.ok(tripped.length > 0, 'it trips');
    t.ok(
      tripped.every((e) => e.scope === row.scope),
      'only its scope trips',
    );
    const trip = tripped.at(-1);
    if (!trip) return;
    t.equal(trip.to, row.level);
    t.equal(trip.multiplier, row.level === 'halt' ? 0 : 0.5);
    if (typeof row.reason === 'string') t.equal(trip.reason, row.reason);
    else t.match(trip.reason, row.reason);
    const inputName = row.input.split(' ')[0];
    t.ok(
      tripped.every((e) => e.inputs.length > 0 && e.inputs.every((r) => r.input === inputName)),
      'only this input is named',
    );
    t.equal(b.level(row.scope).level, row.level);
    if (row.input === 'breadth') t.match(b.level(MARKET).reason, /; 7 of 7 assets down together$/);
    // It happened on the last step, not before: the calm history tripped nothing.
    t.equal(tripped[0]?.at, Math.max(...events.map((e) => e.at)));
  });
}

t.test('when every asset is stale at halt, the market halts too', async (t) => {
  const b = new Breaker(merge(QUIET, { stale: { caution: { floor: 120_000 } } }));
  feed(b, 'BTC/USDT', walk(30, 0.005, 5));
  feed(b, 'ETH/USDT', walk(28, 0.005, 6));
  t.same(trips(b.tick(T0 + 30 * HOUR)), [], 'fresh at the bar close');
  const ev = trips(b.tick(T0 + 35 * HOUR));
  t.same(
    ev.map((e) => [e.scope, e.to]),
    [
      ['BTC/USDT', 'caution'],
      ['ETH/USDT', 'halt'],
    ],
    'ETH (7 h) halts, BTC (5 h) is at caution, the market not yet',
  );
  const all = trips(b.tick(T0 + 37 * HOUR));
  const market = all.find((e) => e.scope === MARKET);
  t.equal(market?.to, 'halt');
  t.equal(market?.reason, 'no candles from any of 2 assets for 7 h');
  // One asset comes back: the market's stale input no longer asks for anything.
  b.candle({ symbol: 'BTC/USDT', time: T0 + 36 * HOUR, close: 100, timeframeMs: HOUR }, T0 + 37 * HOUR);
  t.equal(b.snapshot().market.readings.find((r) => r.input === 'stale')?.wants, 'normal');
});

t.test(
  'a venue that reports nothing at all is not silent, and requests = 0 gives no error reading',
  async (t) => {
    const b = new Breaker(QUIET);
    t.same(b.tick(T0 + 10 * HOUR), []);
    b.venue({ venue: 'binance', requests: 0, errors: 0, latencyP99Ms: null }, T0);
    t.same(
      b.snapshot().market.readings.map((r) => r.input),
      ['venue-silent'],
    );
  },
);
