import { z } from 'zod';
import type { Candle } from '../candle.js';
import { Rsi } from '../indicators/rsi.js';
import { SessionVwap } from '../indicators/vwap.js';
import type { StrategySpec } from './spec.js';
import { bounded, candles, checkParams, lessThan } from './spec.js';
import type { Strategy, StrategyAction } from './strategy.js';

export const RSI_DIVERGENCE_VWAP_NAME = 'rsi-divergence-vwap';

const PARAMS = z.strictObject({
  rsiPeriod: candles(14, 'RSI period (Wilder), candles', 2, 1_000),
  pivotBars: candles(3, 'candles on each side a swing low (high) must be strictly below (above)', 1, 100),
  maxPivotGap: candles(48, 'most candles between the two swings a divergence compares', 2, 1_000),
  armBars: candles(
    24,
    'candles after a bullish divergence is confirmed during which a VWAP reclaim buys',
    0,
    1_000,
  ),
  rsiOverbought: bounded(70, 'RSI at or above which a position is sold', 50, 100),
});

export type RsiDivergenceVwapParams = z.infer<typeof PARAMS>;

export const RSI_DIVERGENCE_VWAP_SPEC: StrategySpec = {
  name: RSI_DIVERGENCE_VWAP_NAME,
  description:
    'buys when, after a bullish RSI divergence (lower low, higher RSI), the close reclaims the session VWAP from below; sells on a bearish divergence, RSI overbought, or a close below the divergence low',
  params: PARAMS,
  check: (p) => lessThan(p, 'pivotBars', 'maxPivotGap'),
  create: (p) => new RsiDivergenceVwapStrategy(p),
};

/**
 * RSI divergence confirmed by a VWAP bounce. RSI is Wilder's of close; VWAP the UTC-day session
 * VWAP (`SessionVwap`), both including the current candle.
 *
 * Swings: candle j is a swing low when its low is strictly below the lows of the `pivotBars`
 * candles on each side; it is known `pivotBars` candles later (on candle j + pivotBars), never
 * sooner, so nothing is decided on the future. Swing highs likewise with highs. A swing whose RSI
 * is not yet defined is ignored.
 *
 * Bullish divergence: a swing low below the previous swing low, at most `maxPivotGap` candles
 * after it, with a higher RSI. It arms the strategy from the confirming candle for `armBars`
 * more candles; any other swing low disarms it. Buy (flat, armed): the previous close was at or
 * below its VWAP and this close is above this VWAP. The stop is the divergence's low.
 *
 * Sell (long): close < that low (the divergence failed), or RSI >= `rsiOverbought`, or a
 * bearish divergence is confirmed on this candle (a swing high above the previous one, at most
 * `maxPivotGap` candles later, with a lower RSI). Flat and long are what its own signals imply.
 */
export class RsiDivergenceVwapStrategy implements Strategy {
  readonly name = RSI_DIVERGENCE_VWAP_NAME;
  readonly version = `${RSI_DIVERGENCE_VWAP_NAME}/1`;
  readonly params: Readonly<RsiDivergenceVwapParams>;
  readonly #rsi: Rsi;
  readonly #vwap = new SessionVwap();
  /** The last 2 × pivotBars + 1 candles' lows, highs and RSIs (NaN while warming up). */
  readonly #lows: Float64Array;
  readonly #highs: Float64Array;
  readonly #rsis: Float64Array;
  #t = 0;
  #lastLowAt = -1;
  #lastLow = Number.NaN;
  #lastLowRsi = Number.NaN;
  #lastHighAt = -1;
  #lastHigh = Number.NaN;
  #lastHighRsi = Number.NaN;
  /** Last candle index a VWAP reclaim may buy at; −1 when not armed. */
  #armedUntil = -1;
  #divergenceLow = Number.NaN;
  #previousClose = Number.NaN;
  #previousVwap = Number.NaN;
  #long = false;
  #stop = Number.NaN;

  constructor(params: Partial<RsiDivergenceVwapParams> = {}) {
    this.params = checkParams(RSI_DIVERGENCE_VWAP_SPEC, params) as RsiDivergenceVwapParams;
    this.#rsi = new Rsi(this.params.rsiPeriod);
    const span = 2 * this.params.pivotBars + 1;
    this.#lows = new Float64Array(span);
    this.#highs = new Float64Array(span);
    this.#rsis = new Float64Array(span);
  }

  onCandle(candle: Candle): StrategyAction | null {
    const t = this.#t++;
    // `push`, `ready`, then `value`: no heap number per candle (test/no-allocation.test.ts).
    const rsiIndicator = this.#rsi;
    const vwapIndicator = this.#vwap;
    rsiIndicator.push(candle.close);
    vwapIndicator.push(candle);
    let rsi = Number.NaN;
    if (rsiIndicator.ready) rsi = rsiIndicator.value!;
    let vwap = Number.NaN;
    if (vwapIndicator.ready) vwap = vwapIndicator.value!;
    const span = this.#lows.length;
    this.#lows[t % span] = candle.low;
    this.#highs[t % span] = candle.high;
    this.#rsis[t % span] = rsi;
    const bearish = t + 1 >= span && this.#swings(t);

    const previousClose = this.#previousClose;
    const previousVwap = this.#previousVwap;
    this.#previousClose = candle.close;
    this.#previousVwap = vwap;
    if (this.#long !== true) {
      if (t > this.#armedUntil || !(previousClose <= previousVwap && candle.close > vwap)) return null;
      this.#long = true;
      this.#stop = this.#divergenceLow;
      this.#armedUntil = -1;
      return 'buy';
    }
    if (candle.close < this.#stop || rsi >= this.params.rsiOverbought || bearish) {
      this.#long = false;
      return 'sell';
    }
    return null;
  }

  /** Looks at the candle `pivotBars` back; arms on a bullish divergence, says whether it is bearish. */
  #swings(t: number): boolean {
    const p = this.params.pivotBars;
    const span = this.#lows.length;
    const j = t - p;
    const at = j % span;
    const rsi = this.#rsis[at]!;
    if (Number.isNaN(rsi)) return false;
    const low = this.#lows[at]!;
    const high = this.#highs[at]!;
    let isLow = true;
    let isHigh = true;
    for (let k = 0; k < span; k++) {
      if (k === at) continue;
      if (this.#lows[k]! <= low) isLow = false;
      if (this.#highs[k]! >= high) isHigh = false;
    }
    const gap = this.params.maxPivotGap;
    if (isLow) {
      const bullish =
        this.#lastLowAt >= 0 && j - this.#lastLowAt <= gap && low < this.#lastLow && rsi > this.#lastLowRsi;
      this.#armedUntil = bullish ? t + this.params.armBars : -1;
      if (bullish) this.#divergenceLow = low;
      this.#lastLowAt = j;
      this.#lastLow = low;
      this.#lastLowRsi = rsi;
    }
    let bearish = false;
    if (isHigh) {
      bearish =
        this.#lastHighAt >= 0 &&
        j - this.#lastHighAt <= gap &&
        high > this.#lastHigh &&
        rsi < this.#lastHighRsi;
      this.#lastHighAt = j;
      this.#lastHigh = high;
      this.#lastHighRsi = rsi;
    }
    return bearish;
  }
}
