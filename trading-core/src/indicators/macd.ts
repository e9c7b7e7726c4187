import { Ema, type EmaState } from './ema.js';
import { assertPeriod } from './period.js';

export interface MacdValue {
  /** Fast EMA − slow EMA. */
  macd: number;
  /** EMA of `macd` over `signal` values. */
  signal: number;
  /** `macd − signal`. */
  histogram: number;
}

export interface MacdOptions {
  fast: number;
  slow: number;
  signal: number;
}

export const DEFAULT_MACD: MacdOptions = { fast: 12, slow: 26, signal: 9 };

export interface MacdState {
  fast: EmaState;
  slow: EmaState;
  signal: EmaState;
}

/**
 * MACD (Appel): the fast EMA minus the slow EMA, its signal line (an EMA of it) and the
 * histogram, every EMA seeded with the SMA of its first values (TA-Lib, technicalindicators).
 * The signal line starts with the slow EMA's first value, so the first full value comes with
 * close `slow + signal − 1`. O(1) per close without allocation: `update` and `replace` return
 * the MACD line alone, and the getters `macd`, `signal` and `histogram` read every line (each
 * undefined until the signal line is warm, as `value`), while `value` and `peek` build a
 * `MacdValue` object (for display, not for a per-candle loop). `peek` and `replace` follow a
 * forming candle through all three EMAs.
 */
export class Macd {
  readonly options: MacdOptions;
  #fast: Ema;
  #slow: Ema;
  #signal: Ema;
  /** Whether the last `update` fed the signal line (so `replace` must replace there too). */
  #fedSignal = false;

  constructor(options: MacdOptions = DEFAULT_MACD) {
    const { fast, slow, signal } = options;
    if (!(fast < slow))
      throw new RangeError(`Macd: the fast period (${fast}) must be shorter than the slow one (${slow})`);
    this.options = { fast, slow, signal };
    this.#fast = new Ema(fast);
    this.#slow = new Ema(slow);
    this.#signal = new Ema(signal);
  }

  get ready(): boolean {
    return this.#signal.ready;
  }

  /** Fast EMA − slow EMA. */
  get macd(): number | undefined {
    return this.#signal.ready ? this.#fast.value! - this.#slow.value! : undefined;
  }

  /** The signal line, an EMA of `macd`. */
  get signal(): number | undefined {
    return this.#signal.value;
  }

  /** `macd − signal`. */
  get histogram(): number | undefined {
    return this.#signal.ready ? this.#fast.value! - this.#slow.value! - this.#signal.value! : undefined;
  }

  /** Every line as a fresh object (allocates: for display; a per-candle loop reads the getters). */
  get value(): MacdValue | undefined {
    const f = this.#fast.value;
    const s = this.#slow.value;
    const sig = this.#signal.value;
    if (f === undefined || s === undefined || sig === undefined) return undefined;
    return { macd: f - s, signal: sig, histogram: f - s - sig };
  }

  /** Takes the next close and returns the MACD line (the others are on the getters: no allocation here). */
  update(close: number): number | undefined {
    const f = this.#fast.update(close);
    const s = this.#slow.update(close);
    this.#fedSignal = f !== undefined && s !== undefined;
    if (this.#fedSignal === true) this.#signal.update(f! - s!);
    return this.#signal.ready ? f! - s! : undefined;
  }

  /** MACD if the current candle closed at `close` now, as a fresh object; nothing changes. */
  peek(close: number): MacdValue | undefined {
    const f = this.#fast.peek(close);
    const s = this.#slow.peek(close);
    if (f === undefined || s === undefined) return undefined;
    const sig = this.#signal.peek(f - s);
    return sig === undefined ? undefined : { macd: f - s, signal: sig, histogram: f - s - sig };
  }

  /** Replaces the last close given to `update` (the same candle, moved on); returns the MACD line. */
  replace(close: number): number | undefined {
    const f = this.#fast.replace(close);
    const s = this.#slow.replace(close);
    // Whether the signal line was fed depends on counts alone, never on prices: the same as before.
    if (this.#fedSignal === true) this.#signal.replace(f! - s!);
    return this.#signal.ready ? f! - s! : undefined;
  }

  toJSON(): MacdState {
    return { fast: this.#fast.toJSON(), slow: this.#slow.toJSON(), signal: this.#signal.toJSON() };
  }

  /** Continues from a snapshot; one whose EMAs could not have come from one series is refused. */
  static fromJSON(state: MacdState): Macd {
    const m = new Macd({ fast: state.fast.period, slow: state.slow.period, signal: state.signal.period });
    const fast = Ema.fromJSON(state.fast);
    const slow = Ema.fromJSON(state.slow);
    const signal = Ema.fromJSON(state.signal);
    // The fast EMA sees every close the slow one does: it is warm first, with as many closes or more.
    if (slow.ready && !fast.ready)
      throw new RangeError('Macd.fromJSON: the slow EMA cannot be warm before the fast one');
    if (state.signal.count > 0 && !slow.ready)
      throw new RangeError('Macd.fromJSON: the signal line cannot start before the slow EMA is warm');
    m.#fast = fast;
    m.#slow = slow;
    m.#signal = signal;
    return m;
  }
}

/** MACD over a whole series: three arrays, `NaN` until the signal line is warm (as `Macd.value`). */
export interface MacdSeries {
  macd: Float64Array;
  signal: Float64Array;
  histogram: Float64Array;
}

/**
 * MACD over a whole series at once, in one pass with the three EMAs in scalars: the same
 * operations as `Macd`, so equal to it bit for bit; values are not checked.
 */
export function macdSeries(values: Float64Array, options: MacdOptions = DEFAULT_MACD): MacdSeries {
  const { fast, slow, signal } = options;
  assertPeriod('macdSeries', fast);
  assertPeriod('macdSeries', slow);
  assertPeriod('macdSeries', signal);
  if (!(fast < slow))
    throw new RangeError(`macdSeries: the fast period (${fast}) must be shorter than the slow one (${slow})`);
  const n = values.length;
  const macd = new Float64Array(n);
  const sig = new Float64Array(n);
  const histogram = new Float64Array(n);
  // The first full value comes with close slow + signal − 1 (index slow + signal − 2).
  const first = slow + signal - 2;
  macd.fill(Number.NaN, 0, Math.min(n, first));
  sig.fill(Number.NaN, 0, Math.min(n, first));
  histogram.fill(Number.NaN, 0, Math.min(n, first));
  if (n <= first) return { macd, signal: sig, histogram };
  const af = 2 / (fast + 1);
  const as = 2 / (slow + 1);
  const ag = 2 / (signal + 1);
  let f = 0;
  let s = 0;
  let i = 0;
  // Both EMAs seed with the sum of their first values; the fast one is warm first.
  for (; i < fast; i++) {
    f += values[i]!;
    s += values[i]!;
  }
  f /= fast;
  for (; i < slow; i++) {
    const x = values[i]!;
    f += af * (x - f);
    s += x;
  }
  s /= slow;
  // The signal line seeds with the sum of the first `signal` MACD values, from close `slow` on.
  let g = f - s;
  for (; i <= first; i++) {
    const x = values[i]!;
    f += af * (x - f);
    s += as * (x - s);
    g += f - s;
  }
  g /= signal;
  const m0 = f - s;
  macd[first] = m0;
  sig[first] = g;
  histogram[first] = m0 - g;
  for (; i < n; i++) {
    const x = values[i]!;
    f += af * (x - f);
    s += as * (x - s);
    const m = f - s;
    g += ag * (m - g);
    macd[i] = m;
    sig[i] = g;
    histogram[i] = m - g;
  }
  return { macd, signal: sig, histogram };
}
