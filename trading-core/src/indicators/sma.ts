import { assertPeriod, assertSample } from './period.js';

/** A snapshot of an Sma, enough to continue bit for bit where it stopped. */
export interface SmaState {
  period: number;
  /** The last `period` (or fewer, while warming up) values, oldest first. */
  values: number[];
  sum: number;
  compensation: number;
}

/**
 * Simple moving average over the last `period` values, O(1) per update.
 *
 * A plain running sum drifts: every add and subtract rounds, and over a long series (or when
 * prices fall by orders of magnitude, as volumes do hour to hour) the error piles up. The sum is
 * kept with Neumaier compensation, which carries the bits each operation loses, so the value
 * stays within a few ulps of summing the window from scratch, however long it runs.
 */
export class Sma {
  /** A number from the start (never undefined), so the engine keeps the field numeric: see `period.ts`. */
  readonly period: number = 0;
  readonly #window: Float64Array;
  /** Slot the next value goes into; once full, it holds the oldest value. */
  #next = 0;
  #count = 0;
  #sum = 0;
  #compensation = 0;
  /** The mean once warm (0 before): always a number, so the field stays a plain double. */
  #value = 0;
  /** The state before the last `update`, for `replace` (scalars: no allocation per step). */
  #hasBefore = false;
  #beforeCount = 0;
  #beforeSum = 0;
  #beforeCompensation = 0;
  #beforeValue = 0;
  /** The value the last `update` overwrote in the ring (the one that left the window). */
  #displaced = 0;
  /** The input of the step under way (see `#step`). */
  #x = 0;

  constructor(period: number) {
    assertPeriod(new.target.name, period);
    this.period = period;
    this.#window = new Float64Array(period);
  }

  get value(): number | undefined {
    return this.#count === this.period ? this.#value : undefined;
  }

  get ready(): boolean {
    return this.#count === this.period;
  }

  update(x: number): number | undefined {
    this.push(x);
    return this.#count === this.period ? this.#value : undefined;
  }

  /**
   * `update` without its result, for a per-candle loop: test `ready`, then read `value` (its
   * `undefined` branch folds away and no double is boxed; an unused result of `update` can still
   * cost a heap number, measured in test/no-allocation.test.ts).
   */
  push(x: number): void {
    if (!Number.isFinite(x)) assertSample(this.constructor.name, x);
    this.#x = x;
    this.#step();
  }

  /**
   * `update`'s work on the input in `#x`. Doubles go in and out through fields, never as an
   * argument or result: a call the engine does not inline boxes those (16 bytes each).
   */
  #step(): void {
    this.#hasBefore = true;
    this.#beforeCount = this.#count;
    this.#beforeSum = this.#sum;
    this.#beforeCompensation = this.#compensation;
    this.#beforeValue = this.#value;
    this.#displaced = this.#window[this.#next]!;
    this.#apply();
  }

  /** The mean if the current candle closed at `x` now; nothing changes. Same operations as `update`. */
  peek(x: number): number | undefined {
    if (!Number.isFinite(x)) assertSample(`${this.constructor.name}.peek`, x);
    if (this.#count + 1 < this.period) return undefined;
    let sum = this.#sum;
    let c = this.#compensation;
    if (this.#count === this.period) {
      const y = -this.#window[this.#next]!;
      const t = sum + y;
      c += Math.abs(sum) >= Math.abs(y) ? sum - t + y : y - t + sum;
      sum = t;
    }
    const t = sum + x;
    c += Math.abs(sum) >= Math.abs(x) ? sum - t + x : x - t + sum;
    return (t + c) / this.period;
  }

  /** Replaces the last value given to `update` (the same candle, moved on). */
  replace(x: number): number | undefined {
    if (!Number.isFinite(x)) assertSample(`${this.constructor.name}.replace`, x);
    if (!this.#hasBefore) throw new RangeError(`${this.constructor.name}.replace: no value to replace yet`);
    this.#next = this.#next === 0 ? this.period - 1 : this.#next - 1;
    this.#window[this.#next] = this.#displaced;
    this.#count = this.#beforeCount;
    this.#sum = this.#beforeSum;
    this.#compensation = this.#beforeCompensation;
    this.#value = this.#beforeValue;
    this.#x = x;
    this.#apply();
    return this.#count === this.period ? this.#value : undefined;
  }

  /** Takes in `#x`, self-contained (no call, see `#step`). */
  #apply(): void {
    const x = this.#x;
    const p = this.period;
    let sum = this.#sum;
    let c = this.#compensation;
    // Neumaier: the low-order bits lost by `sum + y` are recovered exactly from whichever operand
    // is larger (the value leaving the window first, once full, then the one entering).
    if (this.#count === p) {
      const y = -this.#window[this.#next]!;
      const t = sum + y;
      c += Math.abs(sum) >= Math.abs(y) ? sum - t + y : y - t + sum;
      sum = t;
    } else this.#count++;
    this.#window[this.#next] = x;
    if (++this.#next === p) this.#next = 0;
    const t = sum + x;
    c += Math.abs(sum) >= Math.abs(x) ? sum - t + x : x - t + sum;
    this.#sum = t;
    this.#compensation = c;
    if (this.#count === p) this.#value = (t + c) / p;
  }

  toJSON(): SmaState {
    const values: number[] = [];
    const start = this.#count === this.period ? this.#next : 0;
    for (let i = 0; i < this.#count; i++) values.push(this.#window[(start + i) % this.period]!);
    return { period: this.period, values, sum: this.#sum, compensation: this.#compensation };
  }

  /** Continues from a snapshot; `VolumeAverage.fromJSON` returns a VolumeAverage. */
  static fromJSON<T extends Sma>(this: new (period: number) => T, state: SmaState): T {
    const sma = new this(state.period);
    const name = sma.constructor.name;
    if (!Array.isArray(state.values) || state.values.length > state.period) {
      throw new RangeError(`${name}.fromJSON: values must be an array of at most ${state.period} numbers`);
    }
    for (const v of [...state.values, state.sum, state.compensation]) assertSample(`${name}.fromJSON`, v);
    state.values.forEach((v, i) => (sma.#window[i] = v));
    sma.#count = state.values.length;
    sma.#next = sma.#count === sma.period ? 0 : sma.#count;
    sma.#sum = state.sum;
    sma.#compensation = state.compensation;
    if (sma.ready) sma.#value = (sma.#sum + sma.#compensation) / sma.period;
    return sma;
  }
}

/**
 * SMA over a whole series at once: `NaN` while warming up (the first `period - 1` values). A
 * direct loop with the same compensated operations as `Sma`, so equal to it bit for bit; values
 * are not checked.
 */
export function smaSeries(values: Float64Array, period: number): Float64Array {
  assertPeriod('smaSeries', period);
  const n = values.length;
  const out = new Float64Array(n);
  const warm = Math.min(n, period - 1);
  out.fill(Number.NaN, 0, warm);
  let sum = 0;
  let c = 0;
  for (let i = 0; i < warm; i++) {
    const x = values[i]!;
    const t = sum + x;
    c += Math.abs(sum) >= Math.abs(x) ? sum - t + x : x - t + sum;
    sum = t;
  }
  for (let i = warm; i < n; i++) {
    if (i >= period) {
      const y = -values[i - period]!;
      const t = sum + y;
      c += Math.abs(sum) >= Math.abs(y) ? sum - t + y : y - t + sum;
      sum = t;
    }
    const x = values[i]!;
    const t = sum + x;
    c += Math.abs(sum) >= Math.abs(x) ? sum - t + x : x - t + sum;
    sum = t;
    out[i] = (sum + c) / period;
  }
  return out;
}
