import { assertPeriod, assertSample } from './period.js';
import { WilderAverage } from './wilder.js';

/** A snapshot of an Rsi, enough to continue bit for bit where it stopped. */
export interface RsiState {
  period: number;
  /** Closes seen so far, capped at `period + 1` (after that only the averages matter). */
  count: number;
  previousClose: number | null;
  /** While warming up: the sums of the first gains and losses; once warm: Wilder's averages. */
  gain: number;
  loss: number;
}

/** Wilder's RSI from the average gain and loss: 100 when nothing was lost, 0 when nothing was gained. */
function rsiOf(gain: number, loss: number): number {
  if (loss === 0) return 100;
  if (gain === 0) return 0;
  return 100 - 100 / (1 + gain / loss);
}

/**
 * Relative strength index with Wilder's smoothing, O(1) per close and no allocation per step.
 *
 * The first value comes with the `period + 1`-th close: the average gain and loss of the first
 * `period` changes, as Wilder, TA-Lib and technicalindicators seed it; then
 * `avg = (avg * (period - 1) + change) / period`. Values are in [0, 100]; undefined until warm.
 *
 * The still-forming candle: `peek(close)` says what the RSI would be with that close without
 * changing anything, and `replace(close)` swaps the last close given to `update` for a newer
 * value of the same candle, so a live feed can follow a candle as it forms and commit it once.
 */
export class Rsi {
  /** A number from the start (never undefined), so the engine keeps the field numeric: see `period.ts`. */
  readonly period: number = 0;
  readonly #keep: number = 0;
  /**
   * The two `WilderAverage`s of gains and losses, kept here as plain fields so no double crosses
   * a call on the way (a call the engine does not inline boxes its double arguments and result):
   * changes seen, capped at `period` (both averages count alike), and each side's sum while
   * warming up, then its average. `#value` is the RSI once `#count === period`.
   */
  #count = 0;
  #gain = 0;
  #loss = 0;
  #value = 0;
  #hasPrevious = false;
  #previousClose = 0;
  /** The state before the last `update`, for `replace` (scalars: no allocation per step). */
  #hasBefore = false;
  #beforeHasPrevious = false;
  #beforePreviousClose = 0;
  #beforeCount = 0;
  #beforeGain = 0;
  #beforeLoss = 0;
  /** The close of the step under way. */
  #x = 0;

  constructor(period: number) {
    assertPeriod('Rsi', period);
    this.period = period;
    this.#keep = period - 1;
  }

  get ready(): boolean {
    return this.#count === this.period;
  }

  get value(): number | undefined {
    return this.#count === this.period ? this.#value : undefined;
  }

  update(close: number): number | undefined {
    this.push(close);
    return this.#count === this.period ? this.#value : undefined;
  }

  /**
   * `update` without its result, for a per-candle loop: test `ready`, then read `value` (its
   * `undefined` branch folds away and no double is boxed; an unused result of `update` can still
   * cost a heap number, measured in test/no-allocation.test.ts).
   */
  push(close: number): void {
    if (!Number.isFinite(close)) assertSample('Rsi', close);
    this.#hasBefore = true;
    this.#beforeHasPrevious = this.#hasPrevious;
    this.#beforePreviousClose = this.#previousClose;
    this.#beforeCount = this.#count;
    this.#beforeGain = this.#gain;
    this.#beforeLoss = this.#loss;
    this.#x = close;
    if (this.#hasPrevious === true) this.#apply();
    this.#hasPrevious = true;
    this.#previousClose = close;
  }

  /** Smooths in the change from `#previousClose` to `#x` (`WilderAverage`'s operations, inline). */
  #apply(): void {
    const change = this.#x - this.#previousClose;
    const up = change > 0 ? change : 0;
    const down = change < 0 ? -change : 0;
    if (this.#count === this.period) {
      this.#gain = (this.#gain * this.#keep + up) / this.period;
      this.#loss = (this.#loss * this.#keep + down) / this.period;
    } else {
      this.#gain += up;
      this.#loss += down;
      if (++this.#count !== this.period) return;
      this.#gain /= this.period;
      this.#loss /= this.period;
    }
    // rsiOf, inline.
    const gain = this.#gain;
    const loss = this.#loss;
    this.#value = loss === 0 ? 100 : gain === 0 ? 0 : 100 - 100 / (1 + gain / loss);
  }

  /** The RSI if the current candle closed at `close` now; nothing changes. */
  peek(close: number): number | undefined {
    if (!Number.isFinite(close)) assertSample('Rsi.peek', close);
    if (this.#hasPrevious !== true) return undefined;
    const change = close - this.#previousClose;
    const up = change > 0 ? change : 0;
    const down = change < 0 ? -change : 0;
    if (this.#count === this.period)
      return rsiOf(
        (this.#gain * this.#keep + up) / this.period,
        (this.#loss * this.#keep + down) / this.period,
      );
    if (this.#count + 1 !== this.period) return undefined;
    return rsiOf((this.#gain + up) / this.period, (this.#loss + down) / this.period);
  }

  /** Replaces the last close given to `update` (the same candle, moved on) and returns the new RSI. */
  replace(close: number): number | undefined {
    if (!Number.isFinite(close)) assertSample('Rsi.replace', close);
    if (this.#hasBefore !== true) throw new RangeError('Rsi.replace: no close to replace yet');
    if (this.#beforeHasPrevious === true) {
      this.#count = this.#beforeCount;
      this.#gain = this.#beforeGain;
      this.#loss = this.#beforeLoss;
      this.#previousClose = this.#beforePreviousClose;
      this.#x = close;
      this.#apply();
    }
    this.#previousClose = close;
    return this.#count === this.period ? this.#value : undefined;
  }

  toJSON(): RsiState {
    return {
      period: this.period,
      count: this.#hasPrevious === true ? this.#count + 1 : 0,
      previousClose: this.#hasPrevious === true ? this.#previousClose : null,
      gain: this.#gain,
      loss: this.#loss,
    };
  }

  /** Continues from a snapshot (`replace` needs an `update` after it). Bad snapshots are refused. */
  static fromJSON(state: RsiState): Rsi {
    const rsi = new Rsi(state.period);
    if (!Number.isSafeInteger(state.count) || state.count < 0 || state.count > state.period + 1)
      throw new RangeError(
        `Rsi.fromJSON: count must be an integer in [0, ${state.period + 1}], got ${state.count}`,
      );
    if ((state.previousClose === null) !== (state.count === 0))
      throw new RangeError('Rsi.fromJSON: previousClose must be set exactly when a close was seen');
    for (const x of [state.gain, state.loss]) {
      assertSample('Rsi.fromJSON', x);
      if (x < 0) throw new RangeError(`Rsi.fromJSON: gain and loss are never negative, got ${x}`);
    }
    if (state.previousClose !== null) assertSample('Rsi.fromJSON', state.previousClose);
    const count = Math.max(0, state.count - 1);
    // The same checks as the WilderAverages it continues.
    const gain = WilderAverage.fromJSON(
      { period: state.period, count, acc: state.gain },
      'Rsi.fromJSON',
    ).toJSON();
    const loss = WilderAverage.fromJSON(
      { period: state.period, count, acc: state.loss },
      'Rsi.fromJSON',
    ).toJSON();
    rsi.#count = gain.count;
    rsi.#gain = gain.acc;
    rsi.#loss = loss.acc;
    if (rsi.#count === rsi.period) rsi.#value = rsiOf(rsi.#gain, rsi.#loss);
    rsi.#hasPrevious = state.previousClose !== null;
    rsi.#previousClose = state.previousClose ?? 0;
    return rsi;
  }
}

/**
 * RSI over a whole series at once: `NaN` while warming up (the first `period` closes). A direct
 * loop with the same operations as `Rsi`, so equal to it bit for bit. Values are not checked: a
 * NaN in `closes` spreads to every later value.
 */
export function rsiSeries(closes: Float64Array, period: number): Float64Array {
  assertPeriod('rsiSeries', period);
  const n = closes.length;
  const out = new Float64Array(n);
  out.fill(Number.NaN, 0, Math.min(n, period + 1));
  if (n <= period) return out;
  const keep = period - 1;
  let gain = 0;
  let loss = 0;
  for (let i = 1; i <= period; i++) {
    const change = closes[i]! - closes[i - 1]!;
    // Adding the other side's 0 changes no bit of a sum that is never -0: skipped.
    if (change > 0) gain += change;
    else if (change < 0) loss -= change;
  }
  gain /= period;
  loss /= period;
  out[period] = rsiOf(gain, loss);
  for (let i = period + 1; i < n; i++) {
    const change = closes[i]! - closes[i - 1]!;
    gain = (gain * keep + (change > 0 ? change : 0)) / period;
    loss = (loss * keep + (change < 0 ? -change : 0)) / period;
    out[i] = rsiOf(gain, loss);
  }
  return out;
}
