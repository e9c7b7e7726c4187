import { assertPeriod, assertSample } from './period.js';

export interface NadarayaWatsonOptions {
  /** Closes the kernel reads, newest included. Default 64: with bandwidth 8 the weight at lag 64 is e^-32. */
  window: number;
  /** Gaussian kernel bandwidth h, in candles. Default 8 (as in LuxAlgo's script). */
  bandwidth: number;
  /** Envelope half-width in mean absolute errors. Default 3 (as in LuxAlgo's script). */
  multiplier: number;
}

export const DEFAULT_NADARAYA_WATSON_OPTIONS: Readonly<NadarayaWatsonOptions> = Object.freeze({
  window: 64,
  bandwidth: 8,
  multiplier: 3,
});

export interface NadarayaWatsonValue {
  estimate: number;
  upper: number;
  lower: number;
  /** Mean absolute error of close against the estimate over the last `window` bars. */
  mae: number;
}

/** A snapshot: the last closes and the last absolute errors, oldest first. */
export interface NadarayaWatsonState {
  window: number;
  bandwidth: number;
  multiplier: number;
  /** At most `window`. */
  closes: number[];
  /** |close − estimate| of the last bars that had an estimate, at most `window`. */
  errors: number[];
}

/**
 * Nadaraya-Watson envelope, the causal (non-repainting) form a strategy can trade on.
 *
 * The estimate at bar t is a Gaussian-kernel regression of close that looks only backwards:
 * `Σ w_i · close[t−i] / Σ w_i` over lags i = 0 … window−1 with `w_i = exp(−i² / (2h²))`. That is
 * the endpoint of LuxAlgo's kernel, which never changes once the bar is closed; the chart version
 * that fits the whole window around every bar (and so redraws the past as bars arrive) is not
 * offered here, since a backtest on it trades on the future.
 *
 * Envelope: `estimate ± multiplier × mae`, where `mae` is the mean of |close − estimate| over the
 * last `window` bars (LuxAlgo's non-repainting mode: `sma(abs(src − out), n) × mult`). So the
 * first value comes with close `2 × window − 1`; before that everything is undefined.
 *
 * Cost: O(window) per close (the kernel sum and the error mean, each a fresh pass in time order,
 * so nothing drifts and a restored snapshot continues bit for bit), no allocation per `update`.
 * `peek`/`replace` follow a forming candle, each O(window).
 */
export class NadarayaWatson {
  /** A number from the start (never undefined), so the engine keeps the field numeric: see `period.ts`. */
  readonly window: number = 0;
  readonly bandwidth: number = 0;
  readonly multiplier: number = 0;
  /** Unnormalised kernel weights by lag, and their sum. */
  readonly #weights: Float64Array;
  readonly #weightSum: number = 0;
  /** Close of sequence number k lives in slot k % window; its error (if any) in the same slot. */
  readonly #closes: Float64Array;
  readonly #errors: Float64Array;
  /** Closes seen (sequence number of the next one). */
  #n = 0;
  /** Errors held, at most `window`. */
  #errorCount = 0;
  #estimate = 0;
  #mae = 0;
  /**
   * `#errorCount >= window`, written once. A boolean field: a strategy testing `ready` before
   * reading the getters lets the engine drop their `undefined` branch (one load, one test), so
   * the doubles they return are never boxed.
   */
  #ready = false;

  constructor(options: Partial<NadarayaWatsonOptions> = {}) {
    const o = { ...DEFAULT_NADARAYA_WATSON_OPTIONS, ...options };
    assertPeriod('NadarayaWatson', o.window);
    if (!(Number.isFinite(o.bandwidth) && o.bandwidth > 0))
      throw new RangeError(`NadarayaWatson: bandwidth must be a positive number, got ${o.bandwidth}`);
    if (!(Number.isFinite(o.multiplier) && o.multiplier >= 0))
      throw new RangeError(`NadarayaWatson: multiplier must be a number >= 0, got ${o.multiplier}`);
    this.window = o.window;
    this.bandwidth = o.bandwidth;
    this.multiplier = o.multiplier;
    this.#weights = new Float64Array(o.window);
    let sum = 0;
    for (let i = 0; i < o.window; i++) {
      this.#weights[i] = Math.exp(-(i * i) / (2 * o.bandwidth * o.bandwidth));
      sum += this.#weights[i]!;
    }
    this.#weightSum = sum;
    this.#closes = new Float64Array(o.window);
    this.#errors = new Float64Array(o.window);
  }

  get ready(): boolean {
    return this.#ready === true;
  }

  get estimate(): number | undefined {
    return this.#ready === true ? this.#estimate : undefined;
  }

  get upper(): number | undefined {
    return this.#ready === true ? this.#estimate + this.multiplier * this.#mae : undefined;
  }

  get lower(): number | undefined {
    return this.#ready === true ? this.#estimate - this.multiplier * this.#mae : undefined;
  }

  get value(): NadarayaWatsonValue | undefined {
    return this.ready ? this.#band(this.#estimate, this.#mae) : undefined;
  }

  /** Adds a close; returns the estimate (the envelope is `upper`/`lower`), undefined until ready. */
  update(close: number): number | undefined {
    this.push(close);
    return this.#ready === true ? this.#estimate : undefined;
  }

  /**
   * `update` without its result, for a per-candle loop: test `ready`, then read the getters
   * (their `undefined` branch folds away and no double is boxed; an unused result of `update`
   * still costs a heap number, measured in test/no-allocation.test.ts).
   */
  push(close: number): void {
    if (!Number.isFinite(close)) assertSample('NadarayaWatson', close);
    const s = this.#n++;
    this.#closes[s % this.window] = close;
    if (this.#errorCount < this.window && s >= this.window - 1 && ++this.#errorCount === this.window)
      this.#ready = true;
    this.#refresh();
  }

  /** The envelope if the current candle closed at `close` now; nothing changes. */
  peek(close: number): NadarayaWatsonValue | undefined {
    if (!Number.isFinite(close)) assertSample('NadarayaWatson.peek', close);
    const s = this.#n;
    const errors = s >= this.window - 1 ? Math.min(this.window, this.#errorCount + 1) : 0;
    if (errors < this.window) return undefined;
    const estimate = this.#kernel(s, close);
    return this.#band(estimate, this.#meanError(s, Math.abs(close - estimate)));
  }

  /** Replaces the last close given to `update` (the same candle, moved on); returns the estimate. */
  replace(close: number): number | undefined {
    if (!Number.isFinite(close)) assertSample('NadarayaWatson.replace', close);
    if (this.#n === 0) throw new RangeError('NadarayaWatson.replace: no close to replace yet');
    const s = this.#n - 1;
    this.#closes[s % this.window] = close;
    this.#refresh();
    return this.#ready === true ? this.#estimate : undefined;
  }

  /**
   * Recomputes the estimate, error and mean error of the newest close (sequence number `#n − 1`,
   * in the ring already). Doubles go in and out through fields and the ring, never as an argument
   * or result: a call the engine does not inline boxes those (16 bytes each). The same operations
   * as `#kernel` and `#meanError`, which `peek` uses.
   */
  #refresh(): void {
    const w = this.window;
    const s = this.#n - 1;
    if (s < w - 1) return;
    const weights = this.#weights;
    const closes = this.#closes;
    const errors = this.#errors;
    const at = s % w;
    const close = closes[at]!;
    let sum = weights[0]! * close;
    let i = 1;
    for (let slot = at - 1; slot >= 0; slot--) sum += weights[i++]! * closes[slot]!;
    for (let slot = w - 1; i < w; slot--) sum += weights[i++]! * closes[slot]!;
    const estimate = sum / this.#weightSum;
    this.#estimate = estimate;
    const error = Math.abs(close - estimate);
    errors[at] = error;
    if (this.#errorCount < w) return;
    let e = 0;
    for (let slot = at + 1; slot < w; slot++) e += errors[slot]!;
    for (let slot = 0; slot < at; slot++) e += errors[slot]!;
    this.#mae = (e + error) / w;
  }

  /** The kernel estimate at sequence number `s` with close `newest` there and the ring behind it. */
  #kernel(s: number, newest: number): number {
    const w = this.window;
    const weights = this.#weights;
    const closes = this.#closes;
    const at = s % w;
    // Lags 1 … w−1 in order, walking the ring backwards from `at` in two runs (no % per term).
    let sum = weights[0]! * newest;
    let i = 1;
    for (let slot = at - 1; slot >= 0; slot--) sum += weights[i++]! * closes[slot]!;
    for (let slot = w - 1; i < w; slot--) sum += weights[i++]! * closes[slot]!;
    return sum / this.#weightSum;
  }

  /** Mean of the errors of s − window + 1 … s − 1 from the ring, oldest first, and `newest`. */
  #meanError(s: number, newest: number): number {
    const w = this.window;
    const errors = this.#errors;
    const at = s % w;
    // Oldest first: slots at+1 … w−1, then 0 … at−1.
    let sum = 0;
    for (let slot = at + 1; slot < w; slot++) sum += errors[slot]!;
    for (let slot = 0; slot < at; slot++) sum += errors[slot]!;
    return (sum + newest) / w;
  }

  #band(estimate: number, mae: number): NadarayaWatsonValue {
    const half = this.multiplier * mae;
    return { estimate, upper: estimate + half, lower: estimate - half, mae };
  }

  toJSON(): NadarayaWatsonState {
    const closes: number[] = [];
    for (let k = Math.max(0, this.#n - this.window); k < this.#n; k++)
      closes.push(this.#closes[k % this.window]!);
    const errors: number[] = [];
    for (let k = this.#n - this.#errorCount; k < this.#n; k++) errors.push(this.#errors[k % this.window]!);
    return { window: this.window, bandwidth: this.bandwidth, multiplier: this.multiplier, closes, errors };
  }

  /**
   * Continues from a snapshot, bit for bit. Refused: more than `window` closes or errors, errors
   * before the window filled, a non-finite or negative value, or a newest error that is not
   * |close − estimate| of the closes given (the errors belong to other closes).
   */
  static fromJSON(state: NadarayaWatsonState): NadarayaWatson {
    const nw = new NadarayaWatson({
      window: state.window,
      bandwidth: state.bandwidth,
      multiplier: state.multiplier,
    });
    const { closes, errors } = state;
    if (
      !Array.isArray(closes) ||
      !Array.isArray(errors) ||
      closes.length > nw.window ||
      errors.length > nw.window
    )
      throw new RangeError(`NadarayaWatson.fromJSON: closes and errors are arrays of at most ${nw.window}`);
    if (errors.length > 0 && closes.length < nw.window)
      throw new RangeError('NadarayaWatson.fromJSON: errors before the window of closes filled');
    for (const x of closes) assertSample('NadarayaWatson.fromJSON', x);
    for (const x of errors) {
      assertSample('NadarayaWatson.fromJSON', x);
      if (x < 0) throw new RangeError(`NadarayaWatson.fromJSON: errors are never negative, got ${x}`);
    }
    if (closes.length === nw.window && errors.length === 0)
      throw new RangeError('NadarayaWatson.fromJSON: a full window of closes has at least one error');
    // Closes take sequence numbers 0 … c−1; the errors belong to the last of them.
    closes.forEach((x, k) => (nw.#closes[k] = x));
    const c = closes.length;
    errors.forEach((x, j) => (nw.#errors[(c - errors.length + j) % nw.window] = x));
    nw.#n = c;
    nw.#errorCount = errors.length;
    nw.#ready = errors.length >= nw.window;
    if (c === nw.window) {
      const s = c - 1;
      const estimate = nw.#kernel(s, closes[s]!);
      if (Math.abs(closes[s]! - estimate) !== errors[errors.length - 1])
        throw new RangeError('NadarayaWatson.fromJSON: the newest error is not that of the closes given');
      nw.#estimate = estimate;
      if (nw.ready) nw.#mae = nw.#meanError(s, errors[errors.length - 1]!);
    }
    return nw;
  }
}

export interface NadarayaWatsonSeries {
  estimate: Float64Array;
  upper: Float64Array;
  lower: Float64Array;
}

/** The envelope over a whole series at once: `NaN` while warming up (the first `2 × window − 2` closes). */
export function nadarayaWatsonSeries(
  closes: Float64Array,
  options: Partial<NadarayaWatsonOptions> = {},
): NadarayaWatsonSeries {
  const nw = new NadarayaWatson(options);
  const estimate = new Float64Array(closes.length).fill(Number.NaN);
  const upper = new Float64Array(closes.length).fill(Number.NaN);
  const lower = new Float64Array(closes.length).fill(Number.NaN);
  for (let i = 0; i < closes.length; i++) {
    const e = nw.update(closes[i]!);
    if (e === undefined) continue;
    estimate[i] = e;
    upper[i] = nw.upper!;
    lower[i] = nw.lower!;
  }
  return { estimate, upper, lower };
}
