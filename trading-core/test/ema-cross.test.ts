import t from 'tap';
import { backtest } from '../src/backtest.js';
import type { Candle } from '../src/candle.js';
import { DEFAULT_FILL_COSTS } from '../src/fill-model.js';
import { EMA_CROSS_VOLUME_VERSION, EmaCrossVolumeStrategy } from '../src/strategies/ema-cross.js';
import type { StrategyAction } from '../src/strategies/strategy.js';
import { loadCandles } from './helpers/ohlcv.js';
import { rangeError, throwsExactly } from './helpers/throws.js';

const HOUR = 3_600_000;
const candle = (i: number, close: number, volume: number): Candle => ({
  time: i * HOUR,
  open: close,
  high: close,
  low: close,
  close,
  volume,
});

// With fast 2 / slow 4 (alphas 2/3 and 2/5) both EMAs are seeded at 10 on index 3 (equal: not
// above); fast stays below until close 14 (index 6: 12.148 > 10.976) and drops back below at
// close 9 (index 8: 10.683 < 11.151).
const CLOSES = [10, 10, 10, 10, 9, 8, 14, 15, 9, 8, 7];
const small = (): EmaCrossVolumeStrategy =>
  new EmaCrossVolumeStrategy({ fastPeriod: 2, slowPeriod: 4, volumePeriod: 3 });

function run(strategy: EmaCrossVolumeStrategy, volumes: (i: number) => number): (StrategyAction | null)[] {
  return CLOSES.map((close, i) => strategy.onCandle(candle(i, close, volumes(i))));
}

t.test('a cross up on a candle with above-average volume is a buy, the cross down a sell', async (t) => {
  const actions = run(small(), (i) => (i === 6 ? 250 : 100));
  t.same(actions, [null, null, null, null, null, null, 'buy', null, 'sell', null, null]);
});

t.test('a cross up on a candle with average volume is not a buy, and the chance is gone', async (t) => {
  const actions = run(small(), () => 100);
  t.same(actions, [null, null, null, null, null, null, null, null, 'sell', null, null]);
});

t.test('a cross down is a sell however thin the volume', async (t) => {
  const actions = run(small(), (i) => (i === 6 ? 250 : i === 8 ? 0 : 100));
  t.equal(actions[8], 'sell');
});

t.test('the volume gate compares with the previous candles, not including this one', async (t) => {
  // Previous three: 400, 100, 100 (mean 200). 200 is not above that, though it is above the
  // mean of 100, 100, 200 that a window including this candle would give.
  const volumes = [100, 100, 100, 400, 100, 100, 200, 100, 100, 100, 100];
  const actions = run(small(), (i) => volumes[i]!);
  t.equal(actions[6], null);
  const justAbove = run(small(), (i) => (i === 6 ? 200.000001 : volumes[i]!));
  t.equal(justAbove[6], 'buy');
});

t.test('the strategy names its algorithm version', async (t) => {
  const s = new EmaCrossVolumeStrategy();
  t.equal(s.name, 'ema-cross-volume');
  t.equal(s.version, 'ema-cross-volume/1');
  t.equal(EMA_CROSS_VOLUME_VERSION, 'ema-cross-volume/1');
  t.same(s.options, { fastPeriod: 12, slowPeriod: 26, volumePeriod: 20 });
});

t.test("options are checked by the registry's schema, with errors that name them", async (t) => {
  // The same check createStrategy('ema-cross-volume', ...) makes (spec.ts), so both agree.
  const refused = (options: object, message: string) =>
    throwsExactly(t, () => new EmaCrossVolumeStrategy(options), {
      name: 'StrategyError',
      code: 'E_STRATEGY_PARAMS',
      message: `ema-cross-volume: ${message}`,
    });
  refused({ fastPeriod: 26, slowPeriod: 12 }, 'fastPeriod must be less than slowPeriod');
  refused({ fastPeriod: 12, slowPeriod: 12 }, 'fastPeriod must be less than slowPeriod');
  refused({ fastPeriod: 0 }, 'fastPeriod: Too small: expected number to be >=1');
  refused({ volumePeriod: 2.5 }, 'volumePeriod: Invalid input: expected int, received number');
  refused({ slow: 3 }, '(params): Unrecognized key: "slow"');
});

t.test('a bad candle never reaches the strategy: the backtest checks each one first', async (t) => {
  // Strategies trust their callers to check candles (strategy.ts), so the check that keeps a
  // strategy's state sound is the caller's: here the backtest's.
  const seen: number[] = [];
  const strategy = small();
  const spy = {
    name: strategy.name,
    version: strategy.version,
    onCandle: (c: Candle) => {
      seen.push(c.time);
      return strategy.onCandle(c);
    },
  };
  const candles = CLOSES.map((close, i) =>
    i === 5 ? { ...candle(i, close, 100), close: NaN } : candle(i, close, 100),
  );
  throwsExactly(
    t,
    () => backtest(candles, spy, { symbol: 'BTC/USDT', seed: 1000, costs: DEFAULT_FILL_COSTS }),
    rangeError('backtest: bad BTC/USDT candle at 18000000: close is not a finite number'),
  );
  t.same(
    seen,
    CLOSES.slice(0, 5).map((_, i) => candle(i, 1, 1).time),
    'the strategy saw the five candles before it and not the bad one',
  );
});

t.test('over the real BTC file it matches crossings computed independently', async (t) => {
  const btc = loadCandles('BTC');
  const strategy = new EmaCrossVolumeStrategy();
  const actions = btc.map((c) => strategy.onCandle(c));

  // Independent reference: whole-series EMAs and windowed volume means, then edges of fast > slow.
  const ema = (period: number): (number | undefined)[] => {
    const alpha = 2 / (period + 1);
    const out: (number | undefined)[] = [];
    let prev: number | undefined;
    btc.forEach((c, i) => {
      if (i + 1 === period) prev = btc.slice(0, period).reduce((s, x) => s + x.close, 0) / period;
      else if (prev !== undefined) prev = alpha * c.close + (1 - alpha) * prev;
      out.push(prev);
    });
    return out;
  };
  const fast = ema(12);
  const slow = ema(26);
  const expected = btc.map((c, i): StrategyAction | null => {
    if (i < 26) return null;
    const above = fast[i]! > slow[i]!;
    const wasAbove = fast[i - 1]! > slow[i - 1]!;
    if (above === wasAbove) return null;
    if (!above) return 'sell';
    const avg = btc.slice(i - 20, i).reduce((s, x) => s + x.volume, 0) / 20;
    return c.volume > avg ? 'buy' : null;
  });
  t.same(actions, expected);

  const buys = actions.filter((a) => a === 'buy').length;
  const sells = actions.filter((a) => a === 'sell').length;
  t.ok(buys > 10, `${buys} buys`);
  t.ok(sells > buys, `${sells} sells: every cross down sells, only loud crosses up buy`);

  let last: StrategyAction | null = null;
  let twoBuys = false;
  for (const a of actions) {
    if (a === 'buy' && last === 'buy') twoBuys = true;
    if (a !== null) last = a;
  }
  t.notOk(twoBuys, 'never two buys without a sell between them');
});
