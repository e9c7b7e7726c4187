import { assertPeriod, assertSample } from './period.js';

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

interface Core {
  count: number;
  previousClose: number | undefined;
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
  readonly period: number;
  #core: Core = { count: 0, previousClose: undefined, gain: 0, loss: 0 };
  /** The state before the last `update`, for `replace`. */
  #before: Core | undefined;

  constructor(period: number) {
    assertPeriod('Rsi', period);
    this.period = period;
  }

  get ready(): boolean {
    return this.#core.count > this.period;
  }

  get value(): number | undefined {
    return this.ready ? rsiOf(this.#core.gain, this.#core.loss) : undefined;
  }

  update(close: number): number | undefined {
    if (!Number.isFinite(close)) assertSample('Rsi', close);
    this.#before = { ...this.#core };
    this.#core = this.#step(this.#core, close);
    return this.value;
  }

  /** The RSI if the current candle closed at `close` now; nothing changes. */
  peek(close: number): number | undefined {
    if (!Number.isFinite(close)) assertSample('Rsi.peek', close);
    const next = this.#step(this.#core, close);
    return next.count > this.period ? rsiOf(next.gain, next.loss) : undefined;
  }

  /** Replaces the last close given to `update` (the same candle, moved on) and returns the new RSI. */
  replace(close: number): number | undefined {
    if (!Number.isFinite(close)) assertSample('Rsi.replace', close);
    if (this.#before === undefined) throw new RangeError('Rsi.replace: no close to replace yet');
    this.#core = this.#step(this.#before, close);
    return this.value;
  }

  #step(c: Core, close: number): Core {
    const count = Math.min(c.count + 1, this.period + 1);
    if (c.previousClose === undefined) return { count, previousClose: close, gain: 0, loss: 0 };
    const change = close - c.previousClose;
    const up = change > 0 ? change : 0;
    const down = change < 0 ? -change : 0;
    if (c.count <= this.period) {
      // Warming up: sums of the first `period` changes, averaged once the last arrives.
      let gain = c.gain + up;
      let loss = c.loss + down;
      if (c.count === this.period) {
        gain /= this.period;
        loss /= this.period;
      }
      return { count, previousClose: close, gain, loss };
    }
    const keep = this.period - 1;
    return {
      count,
      previousClose: close,
      gain: (c.gain * keep + up) / this.period,
      loss: (c.loss * keep + down) / this.period,
    };
  }

  toJSON(): RsiState {
    const c = this.#core;
    return {
      period: this.period,
      count: c.count,
      previousClose: c.previousClose ?? null,
      gain: c.gain,
      loss: c.loss,
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
    rsi.#core = {
      count: state.count,
      previousClose: state.previousClose ?? undefined,
      gain: state.gain,
      loss: state.loss,
    };
    return rsi;
  }
}

/** RSI over a whole series at once: `NaN` while warming up (the first `period` closes). */
export function rsiSeries(closes: Float64Array, period: number): Float64Array {
  const out = new Float64Array(closes.length).fill(Number.NaN);
  const rsi = new Rsi(period);
  for (let i = 0; i < closes.length; i++) {
    const v = rsi.update(closes[i]!);
    if (v !== undefined) out[i] = v;
  }
  return out;
}
