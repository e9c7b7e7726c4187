import { assertPeriod, assertSample } from './period.js';

/** A snapshot of a WilderAverage, enough to continue bit for bit where it stopped. */
export interface WilderAverageState {
  period: number;
  /** Values seen so far, capped at `period` (after that only the average matters). */
  count: number;
  /** While warming up: the sum of the values seen; once warm: the average. */
  acc: number;
}

/**
 * Wilder's smoothing (his "running average", an EMA with alpha = 1 / period) seeded with the
 * simple average of the first `period` values: `avg = (avg * (period - 1) + x) / period`. The
 * one smoothing RSI, ATR and ADX share, so they round alike and match Wilder, TA-Lib's RSI/ATR
 * and technicalindicators. O(1) per update with no allocation: the state before the last
 * `update` is kept in scalars, so `replace` (a forming candle moved on) is exact.
 */
export class WilderAverage {
  /** A number from the start (never undefined), so the engine keeps the field numeric: see `period.ts`. */
  readonly period: number = 0;
  readonly #keep: number = 0;
  #count = 0;
  #acc = 0;
  #hasBefore = false;
  #beforeCount = 0;
  #beforeAcc = 0;

  constructor(period: number) {
    assertPeriod('WilderAverage', period);
    this.period = period;
    this.#keep = period - 1;
  }

  get ready(): boolean {
    return this.#count === this.period;
  }

  get value(): number | undefined {
    return this.#count === this.period ? this.#acc : undefined;
  }

  /** Values seen, capped at `period`. */
  get count(): number {
    return this.#count;
  }

  update(x: number): number | undefined {
    if (!Number.isFinite(x)) assertSample('WilderAverage', x);
    this.#hasBefore = true;
    this.#beforeCount = this.#count;
    this.#beforeAcc = this.#acc;
    this.#apply(x);
    return this.value;
  }

  /** The average if the last value were `x` now; nothing changes. */
  peek(x: number): number | undefined {
    if (!Number.isFinite(x)) assertSample('WilderAverage.peek', x);
    if (this.#count === this.period) return (this.#acc * this.#keep + x) / this.period;
    return this.#count + 1 === this.period ? (this.#acc + x) / this.period : undefined;
  }

  /** Replaces the last value given to `update`. */
  replace(x: number): number | undefined {
    if (!Number.isFinite(x)) assertSample('WilderAverage.replace', x);
    if (this.#hasBefore !== true) throw new RangeError('WilderAverage.replace: no value to replace yet');
    this.#count = this.#beforeCount;
    this.#acc = this.#beforeAcc;
    this.#apply(x);
    return this.value;
  }

  #apply(x: number): void {
    if (this.#count === this.period) {
      this.#acc = (this.#acc * this.#keep + x) / this.period;
      return;
    }
    this.#acc += x;
    if (++this.#count === this.period) this.#acc /= this.period;
  }

  toJSON(): WilderAverageState {
    return { period: this.period, count: this.#count, acc: this.#acc };
  }

  /** Continues from a snapshot (`replace` needs an `update` after it); `where` names the caller in errors. */
  static fromJSON(state: WilderAverageState, where = 'WilderAverage.fromJSON'): WilderAverage {
    const w = new WilderAverage(state.period);
    if (!Number.isSafeInteger(state.count) || state.count < 0 || state.count > state.period)
      throw new RangeError(`${where}: count must be an integer in [0, ${state.period}], got ${state.count}`);
    assertSample(where, state.acc);
    w.#count = state.count;
    w.#acc = state.acc;
    return w;
  }
}
