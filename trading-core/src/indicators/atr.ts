import type { Candle } from '../candle.js';
import { assertBar, assertPeriod, assertSameLength, assertSample } from './period.js';
import { WilderAverage } from './wilder.js';

/** The bar an Atr reads: high, low and close. */
export type Bar = Pick<Candle, 'high' | 'low' | 'close'>;

/** A snapshot of an Atr, enough to continue bit for bit where it stopped. */
export interface AtrState {
  period: number;
  /** Bars seen so far, capped at `period + 1`. */
  count: number;
  previousClose: number | null;
  /** While warming up: the sum of the first true ranges; once warm: Wilder's average. */
  range: number;
}

/**
 * True range of a bar after a close: the largest of high − low and the gaps from the previous
 * close, so an overnight jump counts as range. Worked out as the span from the lower of the low
 * and the previous close to the higher of the high and it, which for a bar with low ≤ high is
 * the same subtraction of the same two numbers as the largest of the three, so equal bit for bit
 * (test/atr.test.ts), and about a tenth faster. The bar is not checked here (`Atr` and `Adx`
 * check theirs): one whose high is below its low has no true range.
 */
export function trueRange(bar: Bar, previousClose: number): number {
  return Math.max(bar.high, previousClose) - Math.min(bar.low, previousClose);
}

/**
 * Average true range with Wilder's smoothing, O(1) per bar and no allocation per step. The first
 * bar has no true range (no previous close), as in TA-Lib and technicalindicators; the first
 * value is the mean of the next `period` true ranges, then `atr = (atr * (period - 1) + tr) / period`.
 * `peek` and `replace` follow a forming candle as in `Rsi`.
 */
export class Atr {
  /** A number from the start (never undefined), so the engine keeps the field numeric: see `period.ts`. */
  readonly period: number = 0;
  readonly #keep: number = 0;
  /**
   * Wilder's smoothing of the true range, kept here rather than in a `WilderAverage` so no double
   * crosses a call on the way (a call the engine does not inline boxes its double arguments and
   * result): true ranges seen, capped at `period`, and their sum while warming up, then the ATR.
   */
  #count = 0;
  #acc = 0;
  #hasPrevious = false;
  #previousClose = 0;
  /** The state before the last `update`, for `replace` (scalars: no allocation per step). */
  #hasBefore = false;
  #beforeHasPrevious = false;
  #beforePreviousClose = 0;
  #beforeCount = 0;
  #beforeAcc = 0;

  constructor(period: number) {
    assertPeriod('Atr', period);
    this.period = period;
    this.#keep = period - 1;
  }

  get ready(): boolean {
    return this.#count === this.period;
  }

  get value(): number | undefined {
    return this.#count === this.period ? this.#acc : undefined;
  }

  update(bar: Bar): number | undefined {
    this.push(bar);
    return this.#count === this.period ? this.#acc : undefined;
  }

  /**
   * `update` without its result, for a per-candle loop: test `ready`, then read `value` (its
   * `undefined` branch folds away and no double is boxed; a bar in, nothing out).
   */
  push(bar: Bar): void {
    assertBar('Atr', bar);
    this.#hasBefore = true;
    this.#beforeHasPrevious = this.#hasPrevious;
    this.#beforePreviousClose = this.#previousClose;
    this.#beforeCount = this.#count;
    this.#beforeAcc = this.#acc;
    if (this.#hasPrevious === true) this.#apply(bar);
    this.#hasPrevious = true;
    this.#previousClose = bar.close;
  }

  /** Smooths in the true range of `bar` after `#previousClose` (`trueRange`'s operations, inline). */
  #apply(bar: Bar): void {
    const high = bar.high;
    const low = bar.low;
    const close = this.#previousClose;
    const range = Math.max(high, close) - Math.min(low, close);
    if (this.#count === this.period) {
      this.#acc = (this.#acc * this.#keep + range) / this.period;
      return;
    }
    this.#acc += range;
    if (++this.#count === this.period) this.#acc /= this.period;
  }

  /** The ATR if the current candle ended as `bar` now; nothing changes. */
  peek(bar: Bar): number | undefined {
    assertBar('Atr.peek', bar);
    if (this.#hasPrevious !== true) return undefined;
    const range = trueRange(bar, this.#previousClose);
    if (this.#count === this.period) return (this.#acc * this.#keep + range) / this.period;
    return this.#count + 1 === this.period ? (this.#acc + range) / this.period : undefined;
  }

  /** Replaces the last bar given to `update` (the same candle, moved on). */
  replace(bar: Bar): number | undefined {
    assertBar('Atr.replace', bar);
    if (this.#hasBefore !== true) throw new RangeError('Atr.replace: no bar to replace yet');
    if (this.#beforeHasPrevious === true) {
      this.#count = this.#beforeCount;
      this.#acc = this.#beforeAcc;
      this.#previousClose = this.#beforePreviousClose;
      this.#apply(bar);
    }
    this.#previousClose = bar.close;
    return this.#count === this.period ? this.#acc : undefined;
  }

  toJSON(): AtrState {
    return {
      period: this.period,
      count: this.#hasPrevious === true ? this.#count + 1 : 0,
      previousClose: this.#hasPrevious === true ? this.#previousClose : null,
      range: this.#acc,
    };
  }

  static fromJSON(state: AtrState): Atr {
    const atr = new Atr(state.period);
    if (!Number.isSafeInteger(state.count) || state.count < 0 || state.count > state.period + 1)
      throw new RangeError(
        `Atr.fromJSON: count must be an integer in [0, ${state.period + 1}], got ${state.count}`,
      );
    if ((state.previousClose === null) !== (state.count === 0))
      throw new RangeError('Atr.fromJSON: previousClose must be set exactly when a bar was seen');
    assertSample('Atr.fromJSON', state.range);
    if (state.range < 0) throw new RangeError(`Atr.fromJSON: range is never negative, got ${state.range}`);
    if (state.previousClose !== null) assertSample('Atr.fromJSON', state.previousClose);
    // The same checks as the WilderAverage it continues.
    const range = WilderAverage.fromJSON(
      { period: state.period, count: Math.max(0, state.count - 1), acc: state.range },
      'Atr.fromJSON',
    ).toJSON();
    atr.#count = range.count;
    atr.#acc = range.acc;
    atr.#hasPrevious = state.previousClose !== null;
    atr.#previousClose = state.previousClose ?? 0;
    return atr;
  }
}

/** True range of every bar after the first (`NaN`: it has no previous close). */
export function trueRangeSeries(high: Float64Array, low: Float64Array, close: Float64Array): Float64Array {
  assertSameLength('trueRangeSeries', 'high, low and close', high, low, close);
  const n = close.length;
  const out = new Float64Array(n);
  if (n > 0) out[0] = Number.NaN;
  for (let i = 1; i < n; i++) {
    const h = high[i]!;
    const l = low[i]!;
    const c = close[i - 1]!;
    out[i] = Math.max(h, c) - Math.min(l, c);
  }
  return out;
}

/**
 * ATR over whole series at once: `NaN` while warming up (the first `period` bars). A direct loop
 * with the same operations as `Atr`, so equal to it bit for bit; values are not checked.
 */
export function atrSeries(
  high: Float64Array,
  low: Float64Array,
  close: Float64Array,
  period: number,
): Float64Array {
  assertSameLength('atrSeries', 'high, low and close', high, low, close);
  assertPeriod('atrSeries', period);
  const n = close.length;
  const out = new Float64Array(n);
  out.fill(Number.NaN, 0, Math.min(n, period + 1));
  if (n <= period) return out;
  const keep = period - 1;
  let range = 0;
  for (let i = 1; i <= period; i++) {
    const h = high[i]!;
    const l = low[i]!;
    const c = close[i - 1]!;
    range += Math.max(h, c) - Math.min(l, c);
  }
  range /= period;
  out[period] = range;
  for (let i = period + 1; i < n; i++) {
    const h = high[i]!;
    const l = low[i]!;
    const c = close[i - 1]!;
    out[i] = range = (range * keep + (Math.max(h, c) - Math.min(l, c))) / period;
  }
  return out;
}
