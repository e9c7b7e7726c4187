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
  readonly period: number;
  readonly #window: Float64Array;
  /** Slot the next value goes into; once full, it holds the oldest value. */
  #next = 0;
  #count = 0;
  #sum = 0;
  #compensation = 0;
  #value: number | undefined = undefined;

  constructor(period: number) {
    assertPeriod(new.target.name, period);
    this.period = period;
    this.#window = new Float64Array(period);
  }

  get value(): number | undefined {
    return this.#value;
  }

  get ready(): boolean {
    return this.#count === this.period;
  }

  update(x: number): number | undefined {
    if (!Number.isFinite(x)) assertSample(this.constructor.name, x);
    if (this.#count === this.period) this.#add(-this.#window[this.#next]!);
    else this.#count++;
    this.#window[this.#next] = x;
    if (++this.#next === this.period) this.#next = 0;
    this.#add(x);
    if (this.#count === this.period) this.#value = (this.#sum + this.#compensation) / this.period;
    return this.#value;
  }

  #add(x: number): void {
    const t = this.#sum + x;
    // The low-order bits lost by `sum + x` are recovered exactly from whichever operand is larger.
    if (Math.abs(this.#sum) >= Math.abs(x)) this.#compensation += this.#sum - t + x;
    else this.#compensation += x - t + this.#sum;
    this.#sum = t;
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
