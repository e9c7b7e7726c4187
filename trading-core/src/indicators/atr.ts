import type { Candle } from '../candle.js';
import { assertPeriod, assertSample } from './period.js';

/** The bar an Atr reads: high, low and close. */
export type Bar = Pick<Candle, 'high' | 'low' | 'close'>;

/** A snapshot of an Atr, enough to continue bit for bit where it stopped. */
export interface AtrState {
  period: number;
  /** Bars seen so far, capped at `period + 1`. */
  count: number;
  previousClose: number | null;
  /** While warming up: the sum of the first true ranges; once warm: Wilder's average. */
  range: number;
}

interface Core {
  count: number;
  previousClose: number | undefined;
  range: number;
}

/**
 * True range of a bar after a close: the largest of high − low and the gaps from the previous
 * close, so an overnight jump counts as range.
 */
export function trueRange(bar: Bar, previousClose: number): number {
  return Math.max(bar.high - bar.low, Math.abs(bar.high - previousClose), Math.abs(bar.low - previousClose));
}

function assertBar(where: string, bar: Bar): void {
  for (const x of [bar.high, bar.low, bar.close]) assertSample(where, x);
  if (!(bar.low <= bar.close && bar.close <= bar.high))
    throw new RangeError(
      `${where}: low <= close <= high does not hold (${bar.low}, ${bar.close}, ${bar.high})`,
    );
}

/**
 * Average true range with Wilder's smoothing, O(1) per bar and no allocation per step. The first
 * bar has no true range (no previous close), as in TA-Lib and technicalindicators; the first
 * value is the mean of the next `period` true ranges, then `atr = (atr * (period - 1) + tr) / period`.
 * `peek` and `replace` follow a forming candle as in `Rsi`.
 */
export class Atr {
  readonly period: number;
  #core: Core = { count: 0, previousClose: undefined, range: 0 };
  #before: Core | undefined;

  constructor(period: number) {
    assertPeriod('Atr', period);
    this.period = period;
  }

  get ready(): boolean {
    return this.#core.count > this.period;
  }

  get value(): number | undefined {
    return this.ready ? this.#core.range : undefined;
  }

  update(bar: Bar): number | undefined {
    assertBar('Atr', bar);
    this.#before = { ...this.#core };
    this.#core = this.#step(this.#core, bar);
    return this.value;
  }

  /** The ATR if the current candle ended as `bar` now; nothing changes. */
  peek(bar: Bar): number | undefined {
    assertBar('Atr.peek', bar);
    const next = this.#step(this.#core, bar);
    return next.count > this.period ? next.range : undefined;
  }

  /** Replaces the last bar given to `update` (the same candle, moved on). */
  replace(bar: Bar): number | undefined {
    assertBar('Atr.replace', bar);
    if (this.#before === undefined) throw new RangeError('Atr.replace: no bar to replace yet');
    this.#core = this.#step(this.#before, bar);
    return this.value;
  }

  #step(c: Core, bar: Bar): Core {
    const count = Math.min(c.count + 1, this.period + 1);
    if (c.previousClose === undefined) return { count, previousClose: bar.close, range: 0 };
    const tr = trueRange(bar, c.previousClose);
    if (c.count < this.period) return { count, previousClose: bar.close, range: c.range + tr };
    if (c.count === this.period)
      return { count, previousClose: bar.close, range: (c.range + tr) / this.period };
    return { count, previousClose: bar.close, range: (c.range * (this.period - 1) + tr) / this.period };
  }

  toJSON(): AtrState {
    const c = this.#core;
    return { period: this.period, count: c.count, previousClose: c.previousClose ?? null, range: c.range };
  }

  static fromJSON(state: AtrState): Atr {
    const atr = new Atr(state.period);
    if (!Number.isSafeInteger(state.count) || state.count < 0 || state.count > state.period + 1)
      throw new RangeError(
        `Atr.fromJSON: count must be an integer in [0, ${state.period + 1}], got ${state.count}`,
      );
    if ((state.previousClose === null) !== (state.count === 0))
      throw new RangeError('Atr.fromJSON: previousClose must be set exactly when a bar was seen');
    assertSample('Atr.fromJSON', state.range);
    if (state.range < 0) throw new RangeError(`Atr.fromJSON: range is never negative, got ${state.range}`);
    if (state.previousClose !== null) assertSample('Atr.fromJSON', state.previousClose);
    atr.#core = { count: state.count, previousClose: state.previousClose ?? undefined, range: state.range };
    return atr;
  }
}

/** ATR over whole series at once: `NaN` while warming up (the first `period` bars). */
export function atrSeries(
  high: Float64Array,
  low: Float64Array,
  close: Float64Array,
  period: number,
): Float64Array {
  if (high.length !== low.length || low.length !== close.length)
    throw new RangeError(
      `atrSeries: high, low and close differ in length (${high.length}, ${low.length}, ${close.length})`,
    );
  const out = new Float64Array(close.length).fill(Number.NaN);
  const atr = new Atr(period);
  const bar = { high: 0, low: 0, close: 0 };
  for (let i = 0; i < close.length; i++) {
    bar.high = high[i]!;
    bar.low = low[i]!;
    bar.close = close[i]!;
    const v = atr.update(bar);
    if (v !== undefined) out[i] = v;
  }
  return out;
}
