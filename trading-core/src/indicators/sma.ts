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
  /** `#count === period`, kept as its own field so that `ready` is one load. */
  #ready = false;
  #sum = 0;
  #compensation = 0;
  /**
   * The state before the last `push`, for `replace`: -1 before the first (scalars: no
   * allocation per step). The slot and the mean follow from the rest.
   */
  #beforeCount = -1;
  #beforeSum = 0;
  #beforeCompensation = 0;
  /** The value the last `push` overwrote in the ring (the one that left the window). */
  #displaced = 0;
  /** The input of a step `#step` takes (see there). */
  #x = 0;

  constructor(period: number) {
    assertPeriod(new.target.name, period);
    this.period = period;
    this.#window = new Float64Array(period);
  }

  /**
   * The mean is worked out when read, not stored on every push: a strategy that reads it only on
   * the candles where it decides (a volume gate at a cross) does the division only there. The
   * same operations as before, so the same bits.
   */
  get value(): number | undefined {
    return this.#ready === true ? (this.#sum + this.#compensation) / this.period : undefined;
  }

  get ready(): boolean {
    return this.#ready === true;
  }

  update(x: number): number | undefined {
    this.push(x);
    return this.value;
  }

  /**
   * `update` without its result, for a per-candle loop: test `ready`, then read `value` (its
   * `undefined` branch folds away and no double is boxed; an unused result of `update` can still
   * cost a heap number, measured in test/no-allocation.test.ts).
   *
   * Only a step of the full window on a finite value is done here, so that `push` stays small
   * enough for the engine to inline into a strategy's per-candle code beside its other
   * indicators; the rest (filling the window, refusing a bad value) is `#step`.
   */
  push(x: number): void {
    if (this.#ready === true && Number.isFinite(x)) {
      const window = this.#window;
      const next = this.#next;
      const sum = this.#sum;
      const c = this.#compensation;
      const y = -window[next]!;
      this.#beforeCount = this.period;
      this.#beforeSum = sum;
      this.#beforeCompensation = c;
      this.#displaced = -y;
      window[next] = x;
      this.#next = next + 1 === this.period ? 0 : next + 1;
      // The value leaving the window taken out, then `x` added, each with the low-order bits
      // the addition loses recovered exactly.
      const t1 = sum + y;
      const c1 = c + twoSumError(sum, y, t1);
      const t = t1 + x;
      const c2 = c1 + twoSumError(t1, x, t);
      this.#sum = t;
      this.#compensation = c2;
    } else {
      this.#x = x;
      this.#step();
    }
  }

  /**
   * A whole step on the input in `#x`: what `push` does, for the steps `push` leaves to it
   * (refusing a value that is not finite, filling the window) and for `replace`. Its input comes
   * through `#x` because a double argument of a call the engine does not inline is boxed.
   */
  #step(): void {
    const x = this.#x;
    if (!Number.isFinite(x)) assertSample(this.constructor.name, x);
    const window = this.#window;
    const next = this.#next;
    let sum = this.#sum;
    let c = this.#compensation;
    const displaced = window[next]!;
    this.#beforeCount = this.#count;
    this.#beforeSum = sum;
    this.#beforeCompensation = c;
    this.#displaced = displaced;
    window[next] = x;
    this.#next = next + 1 === this.period ? 0 : next + 1;
    // The same operations as push's: the value leaving a full window taken out first.
    if (this.#ready === true) {
      const y = -displaced;
      const t1 = sum + y;
      c += twoSumError(sum, y, t1);
      sum = t1;
    }
    const t = sum + x;
    c += twoSumError(sum, x, t);
    this.#sum = t;
    this.#compensation = c;
    if (this.#ready !== true && ++this.#count === this.period) this.#ready = true;
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
      c += twoSumError(sum, y, t);
      sum = t;
    }
    const t = sum + x;
    c += twoSumError(sum, x, t);
    return (t + c) / this.period;
  }

  /** Replaces the last value given to `update` (the same candle, moved on). */
  replace(x: number): number | undefined {
    if (!Number.isFinite(x)) assertSample(`${this.constructor.name}.replace`, x);
    const before = this.#beforeCount;
    if (before < 0) throw new RangeError(`${this.constructor.name}.replace: no value to replace yet`);
    this.#next = this.#next === 0 ? this.period - 1 : this.#next - 1;
    this.#window[this.#next] = this.#displaced;
    this.#count = before;
    this.#ready = before === this.period;
    this.#sum = this.#beforeSum;
    this.#compensation = this.#beforeCompensation;
    this.#x = x;
    this.#step();
    return this.value;
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
    sma.#ready = sma.#count === sma.period;
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
    c += twoSumError(sum, x, t);
    sum = t;
  }
  for (let i = warm; i < n; i++) {
    if (i >= period) {
      const y = -values[i - period]!;
      const t = sum + y;
      c += twoSumError(sum, y, t);
      sum = t;
    }
    const x = values[i]!;
    const t = sum + x;
    c += twoSumError(sum, x, t);
    sum = t;
    out[i] = (sum + c) / period;
  }
  return out;
}

/**
 * The rounding error of `t = a + b`, exactly: Knuth's TwoSum. It gives the same error as
 * Neumaier's two-branch form (both are exact) without the branch on which operand is larger,
 * which volumes, swinging by orders of magnitude, mispredict about half the time. Small enough
 * that the engine inlines it, so its doubles are never boxed.
 */
function twoSumError(a: number, b: number, t: number): number {
  const bVirtual = t - a;
  return a - (t - bVirtual) + (b - bVirtual);
}
