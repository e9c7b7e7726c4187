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

interface Moments {
  mean: number;
  /** Sum of squared deviations from the mean. */
  m2: number;
}

/**
 * Bollinger bands: the SMA of the last `period` values ± `multiplier` population standard
 * deviations. O(1) per update without allocation: the window's mean and squared deviations are
 * slid with Welford's updates (no sum of squares, which cancels catastrophically at prices of
 * 40,000 with small moves), and recomputed exactly from the window every `period` updates so
 * rounding cannot pile up, O(1) amortised. `peek` and `replace` follow a forming candle in O(1).
 */
export class Bollinger {
  readonly period: number;
  readonly multiplier: number;
  readonly #window: Float64Array;
  #n = 0;
  #m: Moments = { mean: 0, m2: 0 };
  #sinceExact = 0;

  constructor(period: number, multiplier = 2) {
    assertPeriod('Bollinger', period);
    if (!(Number.isFinite(multiplier) && multiplier > 0))
      throw new RangeError(`Bollinger: multiplier must be a positive number, got ${multiplier}`);
    this.period = period;
    this.multiplier = multiplier;
    this.#window = new Float64Array(period);
  }

  get ready(): boolean {
    return this.#n >= this.period;
  }

  get value(): BollingerValue | undefined {
    return this.ready ? this.#bands(this.#m) : undefined;
  }

  update(x: number): BollingerValue | undefined {
    if (!Number.isFinite(x)) assertSample('Bollinger', x);
    const slot = this.#n % this.period;
    if (this.#n < this.period) this.#m = add(this.#m, this.#n, x);
    else this.#m = swap(this.#m, this.period, this.#window[slot]!, x);
    this.#window[slot] = x;
    this.#n++;
    if (++this.#sinceExact >= this.period || nearlyFlat(this.#m, Math.min(this.#n, this.period)))
      this.#exact();
    return this.value;
  }

  /** The bands if the current candle closed at `x` now; nothing changes. */
  peek(x: number): BollingerValue | undefined {
    if (!Number.isFinite(x)) assertSample('Bollinger.peek', x);
    if (this.#n + 1 < this.period) return undefined;
    const slot = this.#n % this.period;
    const m =
      this.#n < this.period ? add(this.#m, this.#n, x) : swap(this.#m, this.period, this.#window[slot]!, x);
    return this.#bands(nearlyFlat(m, this.period) ? this.#moments(this.period, slot, x) : m);
  }

  /** Replaces the last value given to `update` (the same candle, moved on). */
  replace(x: number): BollingerValue | undefined {
    if (!Number.isFinite(x)) assertSample('Bollinger.replace', x);
    if (this.#n === 0) throw new RangeError('Bollinger.replace: no value to replace yet');
    const slot = (this.#n - 1) % this.period;
    const count = Math.min(this.#n, this.period);
    this.#m = swap(this.#m, count, this.#window[slot]!, x);
    this.#window[slot] = x;
    if (nearlyFlat(this.#m, count)) this.#exact();
    return this.value;
  }

  #bands(m: Moments): BollingerValue {
    const stdDev = Math.sqrt(Math.max(0, m.m2) / this.period);
    return {
      middle: m.mean,
      upper: m.mean + this.multiplier * stdDev,
      lower: m.mean - this.multiplier * stdDev,
      stdDev,
    };
  }

  /** Mean and squared deviations from the window itself, two passes. */
  #exact(): void {
    this.#m = this.#moments(Math.min(this.#n, this.period));
    this.#sinceExact = 0;
  }

  /** Two-pass moments of the first `count` slots, with slot `swapSlot` read as `x` if given. */
  #moments(count: number, swapSlot = -1, x = 0): Moments {
    const at = (i: number) => (i === swapSlot ? x : this.#window[i]!);
    let sum = 0;
    for (let i = 0; i < count; i++) sum += at(i);
    const mean = sum / count;
    let m2 = 0;
    for (let i = 0; i < count; i++) m2 += (at(i) - mean) ** 2;
    return { mean, m2 };
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
    b.#exact();
    return b;
  }
}

/**
 * A window whose deviation is under 1e-5 of its mean (a flat market, a stablecoin): there the
 * slid squared deviations are mostly rounding left over from larger moves, and the square root
 * magnifies it (a true 0 would read as 1e-9 of the price), so the moments are recomputed.
 */
function nearlyFlat(m: Moments, n: number): boolean {
  return m.m2 < n * (1e-5 * m.mean) ** 2;
}

/** Welford: `x` joins a window of `n` values. */
function add(m: Moments, n: number, x: number): Moments {
  const delta = x - m.mean;
  const mean = m.mean + delta / (n + 1);
  return { mean, m2: m.m2 + delta * (x - mean) };
}

/** `y` leaves a window of `n` values and `x` takes its place. */
function swap(m: Moments, n: number, y: number, x: number): Moments {
  const mean = m.mean + (x - y) / n;
  return { mean, m2: m.m2 + (x - y) * (x - mean + y - m.mean) };
}
