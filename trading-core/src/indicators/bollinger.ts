import { assertPeriod, assertSample } from './period.js';

export interface BollingerValue {
  middle: number;
  upper: number;
  lower: number;
  /** Population standard deviation of the window (as TA-Lib and technicalindicators). */
  stdDev: number;
}

/** A snapshot: the window's values, oldest first (at most `period`). */
export interface BollingerState {
  period: number;
  multiplier: number;
  values: number[];
}

/**
 * Bollinger bands: the SMA of the last `period` values ± `multiplier` population standard
 * deviations. O(1) per update without allocation: the window's mean and squared deviations are
 * slid with Welford's updates (no sum of squares, which cancels catastrophically at prices of
 * 40,000 with small moves), and recomputed exactly from the window every `period` updates so
 * rounding cannot pile up, O(1) amortised. `peek` and `replace` follow a forming candle in O(1).
 * `update` and `replace` return the middle band alone; the getters `middle`, `upper`, `lower`
 * and `stdDev` read every line without allocating (one square root each for the last three),
 * while `value` and `peek` build a `BollingerValue` object (for display, not for a per-candle
 * loop).
 */
export class Bollinger {
  /** A number from the start (never undefined), so the engine keeps the field numeric: see `period.ts`. */
  readonly period: number = 0;
  readonly multiplier: number = 0;
  readonly #window: Float64Array;
  #n = 0;
  #mean = 0;
  /** Sum of squared deviations from the mean. */
  #m2 = 0;
  #sinceExact = 0;
  /** The state before the last `update`, for `replace` (scalars: no allocation per step). */
  #hasBefore = false;
  #beforeMean = 0;
  #beforeM2 = 0;
  #beforeSinceExact = 0;
  /** The value the last `update` overwrote in the ring. */
  #displaced = 0;
  /** The input of the step under way: doubles cross no call as arguments (they would be boxed). */
  #x = 0;
  /**
   * `#n >= period`, written once. A boolean field: a loop testing `ready` before reading the
   * getters lets the engine drop their `undefined` branch, so their doubles are not boxed.
   */
  #ready = false;

  constructor(period: number, multiplier = 2) {
    assertPeriod('Bollinger', period);
    if (!(Number.isFinite(multiplier) && multiplier > 0))
      throw new RangeError(`Bollinger: multiplier must be a positive number, got ${multiplier}`);
    this.period = period;
    this.multiplier = multiplier;
    this.#window = new Float64Array(period);
  }

  get ready(): boolean {
    return this.#ready === true;
  }

  /** The SMA of the window; undefined until `period` values were seen. */
  get middle(): number | undefined {
    return this.#ready === true ? this.#mean : undefined;
  }

  /** middle + multiplier × stdDev. */
  get upper(): number | undefined {
    return this.#ready === true
      ? this.#mean + this.multiplier * Math.sqrt(Math.max(0, this.#m2) / this.period)
      : undefined;
  }

  /** middle − multiplier × stdDev. */
  get lower(): number | undefined {
    return this.#ready === true
      ? this.#mean - this.multiplier * Math.sqrt(Math.max(0, this.#m2) / this.period)
      : undefined;
  }

  /** Population standard deviation of the window. */
  get stdDev(): number | undefined {
    return this.#ready === true ? Math.sqrt(Math.max(0, this.#m2) / this.period) : undefined;
  }

  /** Every line as a fresh object (allocates: for display; a per-candle loop reads the getters). */
  get value(): BollingerValue | undefined {
    return this.ready ? this.#bands(this.#mean, this.#m2) : undefined;
  }

  /** Takes the next value and returns the middle band (the others are on the getters: no allocation here). */
  update(x: number): number | undefined {
    this.push(x);
    return this.#ready === true ? this.#mean : undefined;
  }

  /**
   * `update` without its result, for a per-candle loop: test `ready`, then read the getters
   * (their `undefined` branch folds away and no double is boxed; an unused result of `update`
   * still costs a heap number, measured in test/no-allocation.test.ts).
   */
  push(x: number): void {
    if (!Number.isFinite(x)) assertSample('Bollinger', x);
    this.#hasBefore = true;
    this.#beforeMean = this.#mean;
    this.#beforeM2 = this.#m2;
    this.#beforeSinceExact = this.#sinceExact;
    this.#displaced = this.#window[this.#n % this.period]!;
    this.#x = x;
    this.#apply();
  }

  /** The bands if the current candle closed at `x` now, as a fresh object; nothing changes. */
  peek(x: number): BollingerValue | undefined {
    if (!Number.isFinite(x)) assertSample('Bollinger.peek', x);
    if (this.#n + 1 < this.period) return undefined;
    const slot = this.#n % this.period;
    let mean: number;
    let m2: number;
    if (this.#n < this.period) {
      const delta = x - this.#mean;
      mean = this.#mean + delta / (this.#n + 1);
      m2 = this.#m2 + delta * (x - mean);
    } else {
      const y = this.#window[slot]!;
      mean = this.#mean + (x - y) / this.period;
      m2 = this.#m2 + (x - y) * (x - mean + y - this.#mean);
    }
    if (nearlyFlat(m2, mean, this.period)) {
      mean = this.#windowMean(this.period, slot, x);
      m2 = this.#windowM2(this.period, mean, slot, x);
    }
    return this.#bands(mean, m2);
  }

  /**
   * Replaces the last value given to `update` (the same candle, moved on): exactly as if it had
   * been given. Returns the middle band.
   */
  replace(x: number): number | undefined {
    if (!Number.isFinite(x)) assertSample('Bollinger.replace', x);
    if (this.#hasBefore !== true) throw new RangeError('Bollinger.replace: no value to replace yet');
    this.#n--;
    this.#window[this.#n % this.period] = this.#displaced;
    this.#mean = this.#beforeMean;
    this.#m2 = this.#beforeM2;
    this.#sinceExact = this.#beforeSinceExact;
    this.#x = x;
    this.#apply();
    return this.#ready === true ? this.#mean : undefined;
  }

  /**
   * Welford's update while the window fills, then a slide (`y` leaves, `x` takes its place);
   * recomputed exactly every `period` updates and whenever the window is nearly flat.
   */
  #apply(): void {
    const x = this.#x;
    const slot = this.#n % this.period;
    if (this.#n < this.period) {
      const delta = x - this.#mean;
      const mean = this.#mean + delta / (this.#n + 1);
      this.#m2 += delta * (x - mean);
      this.#mean = mean;
    } else {
      const y = this.#window[slot]!;
      const mean = this.#mean + (x - y) / this.period;
      this.#m2 += (x - y) * (x - mean + y - this.#mean);
      this.#mean = mean;
    }
    this.#window[slot] = x;
    if (++this.#n === this.period) this.#ready = true;
    const count = this.#n < this.period ? this.#n : this.period;
    // nearlyFlat, inline (a call the engine does not inline boxes its double arguments).
    if (++this.#sinceExact >= this.period || this.#m2 < count * (1e-5 * this.#mean) ** 2) this.#exact(count);
  }

  #stdDev(m2: number): number {
    return Math.sqrt(Math.max(0, m2) / this.period);
  }

  #bands(mean: number, m2: number): BollingerValue {
    const stdDev = this.#stdDev(m2);
    return {
      middle: mean,
      upper: mean + this.multiplier * stdDev,
      lower: mean - this.multiplier * stdDev,
      stdDev,
    };
  }

  /** Mean and squared deviations from the window itself, two passes. */
  #exact(count: number): void {
    // `#windowMean` and `#windowM2` with no slot swapped, inline: no double crosses a call.
    const window = this.#window;
    let sum = 0;
    for (let i = 0; i < count; i++) sum += window[i]!;
    const mean = sum / count;
    let m2 = 0;
    for (let i = 0; i < count; i++) m2 += (window[i]! - mean) ** 2;
    this.#mean = mean;
    this.#m2 = m2;
    this.#sinceExact = 0;
  }

  /** Mean of the first `count` slots, slot `swapSlot` read as `x` (two numbers, no closure: no allocation). */
  #windowMean(count: number, swapSlot: number, x: number): number {
    let sum = 0;
    for (let i = 0; i < count; i++) sum += i === swapSlot ? x : this.#window[i]!;
    return sum / count;
  }

  #windowM2(count: number, mean: number, swapSlot: number, x: number): number {
    let m2 = 0;
    for (let i = 0; i < count; i++) m2 += ((i === swapSlot ? x : this.#window[i]!) - mean) ** 2;
    return m2;
  }

  toJSON(): BollingerState {
    const first = Math.max(0, this.#n - this.period);
    const values: number[] = [];
    for (let i = first; i < this.#n; i++) values.push(this.#window[i % this.period]!);
    return { period: this.period, multiplier: this.multiplier, values };
  }

  static fromJSON(state: BollingerState): Bollinger {
    const b = new Bollinger(state.period, state.multiplier);
    if (state.values.length > state.period)
      throw new RangeError(`Bollinger.fromJSON: at most ${state.period} values, got ${state.values.length}`);
    for (const x of state.values) b.update(x);
    // Exact moments for the restored window (an empty one has none: 0 / 0 would poison it).
    if (b.#n > 0) b.#exact(Math.min(b.#n, b.period));
    return b;
  }
}

/**
 * A window whose deviation is under 1e-5 of its mean (a flat market, a stablecoin): there the
 * slid squared deviations are mostly rounding left over from larger moves, and the square root
 * magnifies it (a true 0 would read as 1e-9 of the price), so the moments are recomputed.
 */
function nearlyFlat(m2: number, mean: number, n: number): boolean {
  return m2 < n * (1e-5 * mean) ** 2;
}

/** Bollinger bands over a whole series: four arrays, `NaN` while warming up. */
export interface BollingerSeries {
  middle: Float64Array;
  upper: Float64Array;
  lower: Float64Array;
  stdDev: Float64Array;
}

/**
 * Bollinger bands over a whole series at once: the same operations as `Bollinger` (Welford's
 * slide, exact recomputation from a ring in slot order), so equal to it bit for bit; values are
 * not checked.
 */
export function bollingerSeries(values: Float64Array, period: number, multiplier = 2): BollingerSeries {
  assertPeriod('bollingerSeries', period);
  if (!(Number.isFinite(multiplier) && multiplier > 0))
    throw new RangeError(`bollingerSeries: multiplier must be a positive number, got ${multiplier}`);
  const n = values.length;
  const middle = new Float64Array(n);
  const upper = new Float64Array(n);
  const lower = new Float64Array(n);
  const stdDev = new Float64Array(n);
  const warm = Math.min(n, period - 1);
  middle.fill(Number.NaN, 0, warm);
  upper.fill(Number.NaN, 0, warm);
  lower.fill(Number.NaN, 0, warm);
  stdDev.fill(Number.NaN, 0, warm);
  const ring = new Float64Array(period);
  let mean = 0;
  let m2 = 0;
  let sinceExact = 0;
  let slot = 0;
  for (let i = 0; i < n; i++) {
    const x = values[i]!;
    let count: number;
    if (i < period) {
      const delta = x - mean;
      const next = mean + delta / (i + 1);
      m2 += delta * (x - next);
      mean = next;
      count = i + 1;
    } else {
      const y = ring[slot]!;
      const next = mean + (x - y) / period;
      m2 += (x - y) * (x - next + y - mean);
      mean = next;
      count = period;
    }
    ring[slot] = x;
    if (++slot === period) slot = 0;
    if (++sinceExact >= period || m2 < count * (1e-5 * mean) ** 2) {
      let sum = 0;
      for (let j = 0; j < count; j++) sum += ring[j]!;
      mean = sum / count;
      m2 = 0;
      for (let j = 0; j < count; j++) m2 += (ring[j]! - mean) ** 2;
      sinceExact = 0;
    }
    if (count === period) {
      const sd = Math.sqrt(Math.max(0, m2) / period);
      middle[i] = mean;
      upper[i] = mean + multiplier * sd;
      lower[i] = mean - multiplier * sd;
      stdDev[i] = sd;
    }
  }
  return { middle, upper, lower, stdDev };
}
