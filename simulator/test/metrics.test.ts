import t from 'tap';
import {
  backtest,
  createStrategy,
  type BacktestTrade,
  type Candle,
  type Strategy,
} from '@appliance/trading-core';
import {
  YEAR_MS,
  buyAndHoldReturn,
  candleReturns,
  computeMetrics,
  profitFactor,
  roundTrips,
} from '../src/metrics.js';
import { near, throwsExactly } from './helpers/assert.js';

const HOUR = 3_600_000;
/** A quarter of a 365.25-day year: four candles make exactly one year, and sqrt(4) = 2. */
const QUARTER = YEAR_MS / 4;

const bar = (i: number, open: number, close: number, tf = HOUR): Candle => ({
  time: i * tf,
  open,
  high: Math.max(open, close),
  low: Math.min(open, close),
  close,
  volume: 1_000_000,
});

const trade = (
  side: 'buy' | 'sell',
  quantity: number,
  price: number,
  fee: number,
  time = 0,
): BacktestTrade => ({
  side,
  quantity,
  price,
  notional: quantity * price,
  fee,
  time,
});

t.test('ratios, CAGR and drawdown of a hand-made equity curve', async (t) => {
  // Seed 100, closes 110, 99, 99, 108.9: returns +0.1, -0.1, 0, +0.1 (the first against the seed).
  const equity = Float64Array.from([110, 99, 99, 108.9]);
  const candles = [
    bar(0, 1, 1, QUARTER),
    bar(1, 1, 1, QUARTER),
    bar(2, 1, 1, QUARTER),
    bar(3, 1, 1, QUARTER),
  ];
  const m = computeMetrics({
    candles,
    result: { trades: [], finalEquity: 108.9, exposure: 0.75, equity },
    seed: 100,
    costs: { slippageBps: 0, feeBps: 0 },
    timeframeMs: QUARTER,
  });
  const returns = [...candleReturns(100, equity)];
  [0.1, -0.1, 0, 0.1].forEach((r, i) => near(t, returns[i]!, r, `return ${i}`));

  // mean = (0.1 - 0.1 + 0 + 0.1) / 4 = 0.025
  // deviations 0.075, -0.125, -0.025, 0.075; squares 0.005625 + 0.015625 + 0.000625 + 0.005625 = 0.0275
  // sample stdev = sqrt(0.0275 / 3) = 0.0957427...; periods per year 4, so × sqrt(4) = 2
  near(t, m.sharpe, (0.025 / Math.sqrt(0.0275 / 3)) * 2, 'Sharpe = 0.025 / 0.0957427 × 2 = 0.52223');
  // downside: only -0.1 is negative: sqrt(0.01 / 4) = 0.05; 0.025 / 0.05 × 2 = 1
  near(t, m.sortino, 1, 'Sortino = 0.025 / 0.05 × 2');
  // four quarters are one year: CAGR = 108.9 / 100 - 1
  near(t, m.cagr, 0.089, 'CAGR over exactly one year is the total return');
  near(t, m.totalReturn, 0.089, 'total return');
  // peak 110, trough 99: 11 / 110
  near(t, m.maxDrawdown, 0.1, 'max drawdown');
  t.equal(m.exposure, 0.75, 'exposure is the backtest’s');
  t.equal(m.winRate, null, 'no round trips, no win rate');
  t.equal(m.profitFactor, null, 'no round trips, no profit factor');
  t.equal(m.returns.count, 4);
  t.equal(m.returns.periodsPerYear, 4);
});

t.test('CAGR compounds over fractions of a year', async (t) => {
  // Two quarters, +21%: years = 0.5, CAGR = 1.21^2 - 1 = 0.4641
  const m = computeMetrics({
    candles: [bar(0, 1, 1, QUARTER), bar(1, 1, 1, QUARTER)],
    result: { trades: [], finalEquity: 121, exposure: 1, equity: Float64Array.from([110, 121]) },
    seed: 100,
    costs: { slippageBps: 0, feeBps: 0 },
    timeframeMs: QUARTER,
  });
  near(t, m.cagr, 0.4641, 'CAGR');
  t.equal(m.sortino, Infinity, 'gains only: no downside, an infinite Sortino rather than NaN');
});

t.test('win rate, profit factor and fees over round trips net of both fees', async (t) => {
  const trades = [
    // 1: +110 - 0.11 - 100 - 0.1 = +9.79
    trade('buy', 1, 100, 0.1),
    trade('sell', 1, 110, 0.11),
    // 2: bought 2 at 50, sold in two parts: 45 - 0.045 + 44 - 0.044 - 100 - 0.1 = -11.189
    trade('buy', 2, 50, 0.1),
    trade('sell', 1, 45, 0.045),
    trade('sell', 1, 44, 0.044),
    // 3: 13 - 0.013 - 10 - 0.01 = +2.977
    trade('buy', 1, 10, 0.01),
    trade('sell', 1, 13, 0.013),
    // still open at the end: not a round trip
    trade('buy', 1, 20, 0.02),
  ];
  t.strictSame(roundTrips(trades), [9.79, -11.189, 2.977], 'exact to the atom');
  const m = computeMetrics({
    candles: [bar(0, 1, 1)],
    result: { trades, finalEquity: 100, exposure: 0, equity: Float64Array.from([100]) },
    seed: 100,
    costs: { slippageBps: 0, feeBps: 0 },
    timeframeMs: HOUR,
  });
  t.equal(m.roundTrips, 3);
  t.equal(m.trades, 8, 'every fill');
  near(t, m.winRate, 2 / 3, 'two of three trips won');
  // (9.79 + 2.977) / 11.189 = 12.767 / 11.189
  near(t, m.profitFactor, 12.767 / 11.189, 'profit factor');
  // 0.1 + 0.11 + 0.1 + 0.045 + 0.044 + 0.01 + 0.013 + 0.02
  t.equal(m.fees, 0.442, 'fees summed in atoms');
});

t.test('profit factor edge cases', async (t) => {
  t.equal(profitFactor([]), null, 'no round trips');
  t.equal(profitFactor([1, 2]), Infinity, 'wins and no losses');
  t.equal(profitFactor([-1, 0]), 0, 'no wins');
  t.equal(profitFactor([0, 0]), 0, 'break-even trips are neither wins nor losses');
  t.equal(profitFactor([3, -1, 0]), 3);
});

t.test('a curve that never moves has Sharpe and Sortino 0, not NaN', async (t) => {
  const m = computeMetrics({
    candles: [bar(0, 1, 1), bar(1, 1, 1), bar(2, 1, 1)],
    result: { trades: [], finalEquity: 100, exposure: 0, equity: Float64Array.from([100, 100, 100]) },
    seed: 100,
    costs: { slippageBps: 0, feeBps: 0 },
    timeframeMs: HOUR,
  });
  t.equal(m.sharpe, 0);
  t.equal(m.sortino, 0);
  t.equal(m.maxDrawdown, 0);
  t.equal(m.cagr, 0);
});

t.test('buy-and-hold is the price ratio less fees, exactly', async (t) => {
  // 25% fee, no slippage: 250 / 100 / 1.25 - 1 = 2 - 1 = 1
  t.equal(buyAndHoldReturn([bar(0, 100, 120), bar(1, 130, 250)], { slippageBps: 0, feeBps: 2500 }), 1);
  // 25% slippage and 25% fee: 312.5 / 100 / (1.25 × 1.25) - 1 = 3.125 / 1.5625 - 1 = 1
  t.equal(buyAndHoldReturn([bar(0, 100, 90), bar(1, 200, 312.5)], { slippageBps: 2500, feeBps: 2500 }), 1);
  t.equal(buyAndHoldReturn([bar(0, 100, 75)], { slippageBps: 0, feeBps: 0 }), -0.25, 'one candle, no costs');
  // With the default costs: 5 bps of slippage and 10 of fee, the same float expression.
  const candles = [bar(0, 42_000, 41_000), bar(1, 41_000, 43_500.5)];
  t.equal(
    buyAndHoldReturn(candles, { slippageBps: 5, feeBps: 10 }),
    43_500.5 / 42_000 / (1.0005 * 1.001) - 1,
  );
  t.equal(
    buyAndHoldReturn(candles, { slippageBps: 5, feeBps: 10, impactBps: 50 }),
    43_500.5 / 42_000 / (1.0005 * 1.001) - 1,
    'impact is not applied',
  );
});

t.test(
  'buy-and-hold agrees with the backtest buying at the same open and holding, to the atom',
  async (t) => {
    // A strategy that buys at the first close fills at the second open; the closes equal the next
    // opens, so sizing at the close and filling at the open see the same price.
    const closes = [100, 101, 97.5, 103.25, 108, 104.5, 111];
    const candles = closes.map((c, i) => bar(i, i === 0 ? 100 : closes[i - 1]!, c));
    let first = true;
    const buyOnce: Strategy = {
      name: 'buy-once',
      version: 'test/1',
      onCandle: () => (first ? ((first = false), 'buy') : null),
    };
    const costs = { slippageBps: 5, feeBps: 10 };
    const r = backtest(candles, buyOnce, { symbol: 'BTC/USDT', seed: 10_000, costs, equityCurve: true });
    const hold = buyAndHoldReturn(candles.slice(1), costs);
    t.ok(Math.abs(r.totalReturn - hold) < 1e-7, `backtest ${r.totalReturn} vs formula ${hold}`);
  },
);

t.test('metrics of a real backtest agree with the backtest’s own figures', async (t) => {
  const closes = Array.from({ length: 600 }, (_, i) => 100 + 20 * Math.sin(i / 15) + i / 20);
  const candles = closes.map((c, i) => bar(i, i === 0 ? c : closes[i - 1]!, c));
  const costs = { slippageBps: 5, feeBps: 10 };
  const strategy = createStrategy('ema-cross-volume');
  const r = backtest(candles, strategy, { symbol: 'BTC/USDT', seed: 10_000, costs, equityCurve: true });
  const m = computeMetrics({ candles, result: r, seed: 10_000, costs, timeframeMs: HOUR });
  t.equal(m.totalReturn, r.totalReturn);
  t.equal(m.maxDrawdown, r.maxDrawdown, 'the same drawdown from the same curve');
  t.equal(m.trades, r.fills);
  t.equal(m.exposure, r.exposure);
  t.ok(m.roundTrips <= r.fills / 2);
});

t.test('bad input is refused with a clear message', async (t) => {
  const result = { trades: [], finalEquity: 100, exposure: 0 };
  const base = {
    candles: [bar(0, 1, 1)],
    seed: 100,
    costs: { slippageBps: 0, feeBps: 0 },
    timeframeMs: HOUR,
  };
  throwsExactly(t, () => computeMetrics({ ...base, result }), {
    message: 'computeMetrics: run the backtest with equityCurve: true',
  });
  throwsExactly(
    t,
    () => computeMetrics({ ...base, candles: [], result: { ...result, equity: new Float64Array(0) } }),
    {
      message: 'computeMetrics: no candles (an empty window has no metrics)',
    },
  );
  throwsExactly(t, () => computeMetrics({ ...base, result: { ...result, equity: new Float64Array(2) } }), {
    message: 'computeMetrics: equity curve has 2 points for 1 candles',
  });
});
