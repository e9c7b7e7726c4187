import {
  fromAtoms,
  toAtoms,
  type BacktestResult,
  type Candle,
  type FillCosts,
} from '@appliance/trading-core';

/**
 * What one backtest over one window is judged by. Every figure is defined here and in the
 * Metrics section of simulator/README.md; the two say the same.
 */
export interface RunMetrics {
  /** finalEquity / seed - 1, from the ledger's exact final equity (an open position marked at the last close). */
  totalReturn: number;
  /** (finalEquity / seed)^(1 / years) - 1, years = candles × timeframe / 365.25 days. */
  cagr: number;
  /** Annualised: mean / sample stdev of per-candle returns × sqrt(periods per year); risk-free 0. */
  sharpe: number;
  /** Annualised: mean / downside deviation of per-candle returns × sqrt(periods per year). */
  sortino: number;
  /** Largest fall of close-marked equity from a running peak (the seed is the first), in [0, 1]. */
  maxDrawdown: number;
  /** Share of round trips with a PnL > 0, in [0, 1]; null without round trips. */
  winRate: number | null;
  /** Gross winning PnL / gross losing PnL over round trips; see `profitFactor`. */
  profitFactor: number | null;
  /** Share of candles that closed with a position held, in [0, 1]. */
  exposure: number;
  /** Fills booked. */
  trades: number;
  /** Positions opened from flat and closed back to flat within the window. */
  roundTrips: number;
  /** Sum of every fill's fee, in quote. */
  fees: number;
  /** The same seed bought at the window's first open and held; see `buyAndHoldReturn`. */
  buyAndHold: { totalReturn: number };
  /** The per-candle returns the ratios come from, for the deflated Sharpe ratio. */
  returns: ReturnMoments;
}

/** Moments of the per-candle returns, not annualised. */
export interface ReturnMoments {
  /** How many returns: one per candle. */
  count: number;
  /** 365.25 days / timeframe. */
  periodsPerYear: number;
  mean: number;
  /** Sample standard deviation (n - 1). */
  stdev: number;
  /** Third standardised moment, population form (m3 / m2^1.5); 0 when the returns do not vary. */
  skewness: number;
  /** Fourth standardised moment, population form, not excess (a normal distribution has 3); 3 when the returns do not vary. */
  kurtosis: number;
}

export interface MetricsInput {
  /** The candles the backtest ran over: the window. */
  candles: readonly Candle[];
  /** The backtest's result, run with `equityCurve: true`. */
  result: Pick<BacktestResult, 'trades' | 'finalEquity' | 'exposure' | 'equity'>;
  seed: number;
  costs: FillCosts;
  /** The candles' timeframe in ms (one hour for 1h candles). */
  timeframeMs: number;
}

const DAY_MS = 86_400_000;
/** A year of 365.25 days, so that leap years count on average. */
export const YEAR_MS = 365.25 * DAY_MS;
const BPS = 10_000;

/** Every metric of one backtest over one window; see RunMetrics. */
export function computeMetrics(input: MetricsInput): RunMetrics {
  const { candles, result, seed, costs, timeframeMs } = input;
  if (!(seed > 0 && Number.isFinite(seed)))
    throw new RangeError(`computeMetrics: seed must be > 0, got ${seed}`);
  if (!(timeframeMs > 0 && Number.isFinite(timeframeMs)))
    throw new RangeError(`computeMetrics: timeframeMs must be > 0, got ${timeframeMs}`);
  if (candles.length === 0)
    throw new RangeError('computeMetrics: no candles (an empty window has no metrics)');
  const equity = result.equity;
  if (equity === undefined) throw new RangeError('computeMetrics: run the backtest with equityCurve: true');
  if (equity.length !== candles.length)
    throw new RangeError(
      `computeMetrics: equity curve has ${equity.length} points for ${candles.length} candles`,
    );

  const periodsPerYear = YEAR_MS / timeframeMs;
  const returns = candleReturns(seed, equity);
  const moments = returnMoments(returns, periodsPerYear);
  const annualise = Math.sqrt(periodsPerYear);
  const trips = roundTrips(result.trades);
  const years = (candles.length * timeframeMs) / YEAR_MS;

  return {
    totalReturn: (result.finalEquity - seed) / seed,
    cagr: Math.pow(result.finalEquity / seed, 1 / years) - 1,
    sharpe: ratio(moments.mean, moments.stdev) * annualise,
    sortino: ratio(moments.mean, downsideDeviation(returns)) * annualise,
    maxDrawdown: maxDrawdown(seed, equity),
    winRate: trips.length === 0 ? null : trips.filter((pnl) => pnl > 0).length / trips.length,
    profitFactor: profitFactor(trips),
    exposure: result.exposure,
    trades: result.trades.length,
    roundTrips: trips.length,
    fees: fromAtoms(result.trades.reduce((sum, t) => sum + toAtoms(t.fee), 0n)),
    buyAndHold: { totalReturn: buyAndHoldReturn(candles, costs) },
    returns: moments,
  };
}

/**
 * One simple return per candle from the close-marked equity curve: the first against the seed
 * (so a fill on the first candle counts), each other against the close before.
 */
export function candleReturns(seed: number, equity: ArrayLike<number>): Float64Array {
  const out = new Float64Array(equity.length);
  let before = seed;
  for (let i = 0; i < equity.length; i++) {
    const now = equity[i]!;
    out[i] = now / before - 1;
    before = now;
  }
  return out;
}

export function returnMoments(returns: ArrayLike<number>, periodsPerYear: number): ReturnMoments {
  const n = returns.length;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += returns[i]!;
  const mean = n === 0 ? 0 : sum / n;
  let m2 = 0;
  let m3 = 0;
  let m4 = 0;
  for (let i = 0; i < n; i++) {
    const d = returns[i]! - mean;
    const d2 = d * d;
    m2 += d2;
    m3 += d2 * d;
    m4 += d2 * d2;
  }
  const stdev = n < 2 ? 0 : Math.sqrt(m2 / (n - 1));
  const varies = n > 0 && m2 > 0;
  return {
    count: n,
    periodsPerYear,
    mean,
    stdev,
    skewness: varies ? m3 / n / Math.pow(m2 / n, 1.5) : 0,
    kurtosis: varies ? m4 / n / Math.pow(m2 / n, 2) : 3,
  };
}

/** sqrt of the mean of squared negative returns, over all periods (a gain counts as 0). */
export function downsideDeviation(returns: ArrayLike<number>): number {
  if (returns.length === 0) return 0;
  let sum = 0;
  for (let i = 0; i < returns.length; i++) {
    const r = returns[i]!;
    if (r < 0) sum += r * r;
  }
  return Math.sqrt(sum / returns.length);
}

/**
 * mean / deviation, where a deviation of 0 (a curve that never moves, or never falls) gives 0
 * for a zero mean and ±Infinity otherwise, rather than NaN: a report can sort and print it.
 */
function ratio(mean: number, deviation: number): number {
  if (deviation > 0) return mean / deviation;
  return mean === 0 ? 0 : mean > 0 ? Infinity : -Infinity;
}

function maxDrawdown(seed: number, equity: ArrayLike<number>): number {
  let peak = seed;
  let worst = 0;
  for (let i = 0; i < equity.length; i++) {
    const e = equity[i]!;
    if (e > peak) peak = e;
    else worst = Math.max(worst, (peak - e) / peak);
  }
  return worst;
}

/**
 * The PnL of each round trip, in quote: from a buy that opens a position while flat to the sell
 * that brings it back to flat (a partial sell leaves it open), sells' proceeds less their fees
 * minus buys' cost plus their fees. Summed in ledger atoms, so a trip that breaks even is 0. A
 * position still open at the end is not a round trip.
 */
export function roundTrips(trades: BacktestResult['trades']): number[] {
  const pnls: number[] = [];
  let held = 0n;
  let pnl = 0n;
  for (const t of trades) {
    const quantity = toAtoms(t.quantity);
    const notional = toAtoms(t.notional);
    const fee = toAtoms(t.fee);
    if (t.side === 'buy') {
      if (held === 0n) pnl = 0n;
      held += quantity;
      pnl -= notional + fee;
    } else {
      held -= quantity;
      pnl += notional - fee;
      if (held <= 0n) {
        pnls.push(fromAtoms(pnl));
        held = 0n;
      }
    }
  }
  return pnls;
}

/**
 * Gross winning PnL / gross losing PnL (as a positive number). Infinity when there are wins and
 * no losses, 0 when there are no wins (break-even trips are neither), null without round trips.
 * JSON has no Infinity: a report writing it must say so itself (JSON.stringify writes null).
 */
export function profitFactor(pnls: readonly number[]): number | null {
  if (pnls.length === 0) return null;
  let wins = 0;
  let losses = 0;
  for (const p of pnls) {
    if (p > 0) wins += p;
    else losses -= p;
  }
  if (wins === 0) return 0;
  return losses === 0 ? Infinity : wins / losses;
}

/**
 * The return of buying at the first candle's open and holding to the last close:
 *
 *     (close_last / open_first) / ((1 + slippage) × (1 + fee)) - 1
 *
 * exactly this float expression. The buy pays the fixed slippage and the fee as a backtest's
 * market buy does (impact and volume caps are left out: it is a benchmark, not an order), and
 * the position is marked at the last close without a sell, as the backtest marks a position
 * still open at the end, so a strategy holding all the way scores the same way. Not rounded to
 * ledger atoms: rounding would only move it by atoms and would make the formula inexact.
 */
export function buyAndHoldReturn(
  candles: readonly Pick<Candle, 'open' | 'close'>[],
  costs: FillCosts,
): number {
  const first = candles[0];
  const last = candles[candles.length - 1];
  if (first === undefined || last === undefined) throw new RangeError('buyAndHoldReturn: no candles');
  return last.close / first.open / ((1 + costs.slippageBps / BPS) * (1 + costs.feeBps / BPS)) - 1;
}
