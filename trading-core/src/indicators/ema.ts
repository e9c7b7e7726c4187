import { assertPeriod, assertSample } from './period.js';

/** A snapshot of an Ema, enough to continue bit for bit where it stopped. */
export interface EmaState {
  period: number;
  /** Values seen so far, capped at `period` (after that only the EMA matters). */
  count: number;
  /** Sum of the first values while warming up; 0 once warm. */
  seedSum: number;
  value: number | null;
}

/**
 * Exponential moving average, alpha = 2 / (period + 1), O(1) per update.
 *
 * Seeded with the simple average of the first `period` values, as technicalindicators and
 * TA-Lib do, so its values match theirs from the first one on; undefined until then.
 */
export class Ema {
  readonly period: number;
  readonly alpha: number;
  #count = 0;
  #seedSum = 0;
  #value: number | undefined = undefined;
  /** The state before the last `update`, for `replace` (scalars: no allocation per step). */
  #hasBefore = false;
  #beforeCount = 0;
  #beforeSeedSum = 0;
  #beforeValue: number | undefined = undefined;

  constructor(period: number) {
    assertPeriod('Ema', period);
    this.period = period;
    this.alpha = 2 / (period + 1);
  }

  get value(): number | undefined {
    return this.#value;
  }

  get ready(): boolean {
    return this.#value !== undefined;
  }

  update(x: number): number | undefined {
    if (!Number.isFinite(x)) assertSample('Ema', x);
    this.#hasBefore = true;
    this.#beforeCount = this.#count;
    this.#beforeSeedSum = this.#seedSum;
    this.#beforeValue = this.#value;
    return this.#apply(x);
  }

  /** The EMA if the current candle closed at `x` now; nothing changes. */
  peek(x: number): number | undefined {
    if (!Number.isFinite(x)) assertSample('Ema.peek', x);
    if (this.#value !== undefined) return this.#value + this.alpha * (x - this.#value);
    return this.#count + 1 === this.period ? (this.#seedSum + x) / this.period : undefined;
  }

  /** Replaces the last value given to `update` (the same candle, moved on). */
  replace(x: number): number | undefined {
    if (!Number.isFinite(x)) assertSample('Ema.replace', x);
    if (!this.#hasBefore) throw new RangeError('Ema.replace: no value to replace yet');
    this.#count = this.#beforeCount;
    this.#seedSum = this.#beforeSeedSum;
    this.#value = this.#beforeValue;
    return this.#apply(x);
  }

  #apply(x: number): number | undefined {
    if (this.#value !== undefined) {
      this.#value += this.alpha * (x - this.#value);
      return this.#value;
    }
    this.#seedSum += x;
    if (++this.#count === this.period) {
      this.#value = this.#seedSum / this.period;
      this.#seedSum = 0;
    }
    return this.#value;
  }

  toJSON(): EmaState {
    return { period: this.period, count: this.#count, seedSum: this.#seedSum, value: this.#value ?? null };
  }

  static fromJSON(state: EmaState): Ema {
    const ema = new Ema(state.period);
    const warm = state.value !== null;
    if (!Number.isSafeInteger(state.count) || state.count < 0 || state.count > state.period) {
      throw new RangeError(
        `Ema.fromJSON: count must be an integer in [0, ${state.period}], got ${state.count}`,
      );
    }
    if (warm !== (state.count === state.period)) {
      throw new RangeError('Ema.fromJSON: value must be set exactly when count reaches period');
    }
    assertSample('Ema.fromJSON', state.seedSum);
    if (state.value !== null) assertSample('Ema.fromJSON', state.value);
    ema.#count = state.count;
    ema.#seedSum = state.seedSum;
    ema.#value = state.value ?? undefined;
    return ema;
  }
}
