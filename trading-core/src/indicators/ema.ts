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
  /** A number from the start (never undefined), so the engine keeps the field numeric: see `period.ts`. */
  readonly period: number = 0;
  readonly alpha: number = 0;
  #count = 0;
  /** `#count === period`, kept as its own field so that `ready` and `value` are one load. */
  #ready = false;
  #seedSum = 0;
  /**
   * The EMA once `#count` reaches `period` (0 before). Always a number, never undefined, so the
   * engine keeps the field a plain double and an update allocates nothing.
   */
  #value = 0;
  /**
   * The state before the last `push`, for `replace`: -1 before the first. Once warm only the
   * value moves, so a warm step saves two fields; the seed sum is saved while warming up.
   */
  #beforeCount = -1;
  #beforeSeedSum = 0;
  #beforeValue = 0;
  /** The input of a step `#coldPush` takes (see there). */
  #x = 0;

  constructor(period: number) {
    assertPeriod('Ema', period);
    this.period = period;
    this.alpha = 2 / (period + 1);
  }

  get value(): number | undefined {
    return this.#ready === true ? this.#value : undefined;
  }

  get ready(): boolean {
    return this.#ready === true;
  }

  update(x: number): number | undefined {
    this.push(x);
    return this.#ready === true ? this.#value : undefined;
  }

  /**
   * `update` without its result, for a per-candle loop: test `ready`, then read `value` (its
   * `undefined` branch folds away and no double is boxed; an unused result of `update` can still
   * cost a heap number, measured in test/no-allocation.test.ts).
   *
   * Only a warm step on a finite value is done here, so that `push` stays small enough for the
   * engine to inline into a strategy's per-candle code beside its other indicators; the rest
   * (warming up, refusing a bad value) is `#coldPush`.
   */
  push(x: number): void {
    if (this.#ready === true && Number.isFinite(x)) {
      const value = this.#value;
      this.#beforeCount = this.period;
      this.#beforeValue = value;
      this.#value = value + this.alpha * (x - value);
    } else {
      this.#x = x;
      this.#coldPush();
    }
  }

  /**
   * A step `push` does not take: refuses a value that is not finite, or takes one while warming
   * up. Its input comes through `#x`: a double argument of a call the engine does not inline is
   * boxed.
   */
  #coldPush(): void {
    const x = this.#x;
    if (!Number.isFinite(x)) assertSample('Ema', x);
    const count = this.#count + 1;
    const seedSum = this.#seedSum;
    this.#beforeCount = this.#count;
    this.#beforeValue = this.#value;
    this.#beforeSeedSum = seedSum;
    this.#count = count;
    if (count === this.period) {
      this.#value = (seedSum + x) / this.period;
      this.#seedSum = 0;
      this.#ready = true;
    } else this.#seedSum = seedSum + x;
  }

  /** The EMA if the current candle closed at `x` now; nothing changes. */
  peek(x: number): number | undefined {
    if (!Number.isFinite(x)) assertSample('Ema.peek', x);
    if (this.#ready === true) return this.#value + this.alpha * (x - this.#value);
    return this.#count + 1 === this.period ? (this.#seedSum + x) / this.period : undefined;
  }

  /** Replaces the last value given to `update` (the same candle, moved on). */
  replace(x: number): number | undefined {
    if (!Number.isFinite(x)) assertSample('Ema.replace', x);
    const before = this.#beforeCount;
    if (before < 0) throw new RangeError('Ema.replace: no value to replace yet');
    // A warm step changed only the value; a warming one the count and seed sum as well.
    if (before !== this.period) this.#seedSum = this.#beforeSeedSum;
    this.#count = before;
    this.#ready = before === this.period;
    this.#value = this.#beforeValue;
    this.push(x);
    return this.#ready === true ? this.#value : undefined;
  }

  toJSON(): EmaState {
    return { period: this.period, count: this.#count, seedSum: this.#seedSum, value: this.value ?? null };
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
    ema.#ready = state.count === state.period;
    ema.#seedSum = state.seedSum;
    ema.#value = state.value ?? 0;
    return ema;
  }
}

/**
 * EMA over a whole series at once: `NaN` while warming up (the first `period - 1` values). A
 * direct loop with the same operations as `Ema`, so equal to it bit for bit; values are not
 * checked.
 */
export function emaSeries(values: Float64Array, period: number): Float64Array {
  assertPeriod('emaSeries', period);
  const n = values.length;
  const out = new Float64Array(n);
  const alpha = 2 / (period + 1);
  const seedEnd = period - 1;
  out.fill(Number.NaN, 0, Math.min(n, seedEnd));
  if (n <= seedEnd) return out;
  let value = 0;
  for (let i = 0; i <= seedEnd; i++) value += values[i]!;
  value /= period;
  out[seedEnd] = value;
  for (let i = seedEnd + 1; i < n; i++) out[i] = value += alpha * (values[i]! - value);
  return out;
}
