import { assertPeriod, assertSample } from './period.js';
import { WilderAverage } from './wilder.js';

/** A snapshot of an Rsi, enough to continue bit for bit where it stopped. */
export interface RsiState {
  period: number;
  /** Closes seen so far, capped at `period + 1` (after that only the averages matter). */
  count: number;
  previousClose: number | null;
  /** While warming up: the sums of the first gains and losses; once warm: Wilder's averages. */
  gain: number;
  loss: number;
}

/** Wilder's RSI from the average gain and loss: 100 when nothing was lost, 0 when nothing was gained. */
function rsiOf(gain: number, loss: number): number {
  if (loss === 0) return 100;
  if (gain === 0) return 0;
  return 100 - 100 / (1 + gain / loss);
}

/**
 * Relative strength index with Wilder's smoothing, O(1) per close and no allocation per step.
 *
 * The first value comes with the `period + 1`-th close: the average gain and loss of the first
 * `period` changes, as Wilder, TA-Lib and technicalindicators seed it; then
 * `avg = (avg * (period - 1) + change) / period`. Values are in [0, 100]; undefined until warm.
 *
 * The still-forming candle: `peek(close)` says what the RSI would be with that close without
 * changing anything, and `replace(close)` swaps the last close given to `update` for a newer
 * value of the same candle, so a live feed can follow a candle as it forms and commit it once.
 */
export class Rsi {
  /** A number from the start (never undefined), so the engine keeps the field numeric: see `period.ts`. */
  readonly period: number = 0;
  #gain: WilderAverage;
  #loss: WilderAverage;
  #hasPrevious = false;
  #previousClose = 0;
  /** The previous close before the last `update`, for `replace` (scalars: no allocation per step). */
  #hasBefore = false;
  #beforeHasPrevious = false;
  #beforePreviousClose = 0;

  constructor(period: number) {
    assertPeriod('Rsi', period);
    this.period = period;
    this.#gain = new WilderAverage(period);
    this.#loss = new WilderAverage(period);
  }

  get ready(): boolean {
    return this.#gain.ready;
  }

  get value(): number | undefined {
    return this.#gain.ready ? rsiOf(this.#gain.value!, this.#loss.value!) : undefined;
  }

  update(close: number): number | undefined {
    if (!Number.isFinite(close)) assertSample('Rsi', close);
    this.#hasBefore = true;
    this.#beforeHasPrevious = this.#hasPrevious;
    this.#beforePreviousClose = this.#previousClose;
    if (this.#hasPrevious) {
      const change = close - this.#previousClose;
      this.#gain.update(change > 0 ? change : 0);
      this.#loss.update(change < 0 ? -change : 0);
    }
    this.#hasPrevious = true;
    this.#previousClose = close;
    return this.value;
  }

  /** The RSI if the current candle closed at `close` now; nothing changes. */
  peek(close: number): number | undefined {
    if (!Number.isFinite(close)) assertSample('Rsi.peek', close);
    if (!this.#hasPrevious) return undefined;
    const change = close - this.#previousClose;
    const gain = this.#gain.peek(change > 0 ? change : 0);
    return gain === undefined ? undefined : rsiOf(gain, this.#loss.peek(change < 0 ? -change : 0)!);
  }

  /** Replaces the last close given to `update` (the same candle, moved on) and returns the new RSI. */
  replace(close: number): number | undefined {
    if (!Number.isFinite(close)) assertSample('Rsi.replace', close);
    if (!this.#hasBefore) throw new RangeError('Rsi.replace: no close to replace yet');
    if (this.#beforeHasPrevious) {
      const change = close - this.#beforePreviousClose;
      this.#gain.replace(change > 0 ? change : 0);
      this.#loss.replace(change < 0 ? -change : 0);
    }
    this.#previousClose = close;
    return this.value;
  }

  toJSON(): RsiState {
    return {
      period: this.period,
      count: this.#hasPrevious ? this.#gain.count + 1 : 0,
      previousClose: this.#hasPrevious ? this.#previousClose : null,
      gain: this.#gain.toJSON().acc,
      loss: this.#loss.toJSON().acc,
    };
  }

  /** Continues from a snapshot (`replace` needs an `update` after it). Bad snapshots are refused. */
  static fromJSON(state: RsiState): Rsi {
    const rsi = new Rsi(state.period);
    if (!Number.isSafeInteger(state.count) || state.count < 0 || state.count > state.period + 1)
      throw new RangeError(
        `Rsi.fromJSON: count must be an integer in [0, ${state.period + 1}], got ${state.count}`,
      );
    if ((state.previousClose === null) !== (state.count === 0))
      throw new RangeError('Rsi.fromJSON: previousClose must be set exactly when a close was seen');
    for (const x of [state.gain, state.loss]) {
      assertSample('Rsi.fromJSON', x);
      if (x < 0) throw new RangeError(`Rsi.fromJSON: gain and loss are never negative, got ${x}`);
    }
    if (state.previousClose !== null) assertSample('Rsi.fromJSON', state.previousClose);
    const count = Math.max(0, state.count - 1);
    rsi.#gain = WilderAverage.fromJSON({ period: state.period, count, acc: state.gain }, 'Rsi.fromJSON');
    rsi.#loss = WilderAverage.fromJSON({ period: state.period, count, acc: state.loss }, 'Rsi.fromJSON');
    rsi.#hasPrevious = state.previousClose !== null;
    rsi.#previousClose = state.previousClose ?? 0;
    return rsi;
  }
}

/**
 * RSI over a whole series at once: `NaN` while warming up (the first `period` closes). A direct
 * loop with the same operations as `Rsi`, so equal to it bit for bit. Values are not checked: a
 * NaN in `closes` spreads to every later value.
 */
export function rsiSeries(closes: Float64Array, period: number): Float64Array {
  assertPeriod('rsiSeries', period);
  const n = closes.length;
  const out = new Float64Array(n);
  out.fill(Number.NaN, 0, Math.min(n, period + 1));
  if (n <= period) return out;
  const keep = period - 1;
  let gain = 0;
  let loss = 0;
  for (let i = 1; i <= period; i++) {
    const change = closes[i]! - closes[i - 1]!;
    // Adding the other side's 0 changes no bit of a sum that is never -0: skipped.
    if (change > 0) gain += change;
    else if (change < 0) loss -= change;
  }
  gain /= period;
  loss /= period;
  out[period] = rsiOf(gain, loss);
  for (let i = period + 1; i < n; i++) {
    const change = closes[i]! - closes[i - 1]!;
    gain = (gain * keep + (change > 0 ? change : 0)) / period;
    loss = (loss * keep + (change < 0 ? -change : 0)) / period;
    out[i] = rsiOf(gain, loss);
  }
  return out;
}
