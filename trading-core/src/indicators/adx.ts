import { type Bar, trueRange } from './atr.js';
import { assertBar, assertPeriod, assertSameLength } from './period.js';
import { WilderAverage, type WilderAverageState } from './wilder.js';

/** Wilder's directional movement: the ADX and the readings it is made of, each in [0, 100]. */
export interface AdxValue {
  adx: number;
  /** +DI: 100 × smoothed +DM / smoothed true range. */
  plusDi: number;
  /** −DI: 100 × smoothed −DM / smoothed true range. */
  minusDi: number;
  /** DX: 100 × |+DI − −DI| / (+DI + −DI), the value the ADX smooths. */
  dx: number;
}

/** A snapshot of an Adx, enough to continue bit for bit where it stopped. */
export interface AdxState {
  period: number;
  /** The last bar seen; null before the first. */
  previous: { high: number; low: number; close: number } | null;
  plusDm: WilderAverageState;
  minusDm: WilderAverageState;
  range: WilderAverageState;
  dx: WilderAverageState;
}

/** +DM of a bar: the rise of the high, when it is larger than the fall of the low (ties count for neither). */
function plusDmOf(up: number, down: number): number {
  return up > down && up > 0 ? up : 0;
}

/** 100 × a smoothed movement over the smoothed true range; 0 when nothing moved (no range at all). */
function diOf(dm: number, range: number): number {
  return range > 0 ? (dm * 100) / range : 0;
}

/** 100 × |+DI − −DI| / (+DI + −DI); 0 when neither moved. */
function dxOf(plusDi: number, minusDi: number): number {
  const sum = plusDi + minusDi;
  return sum > 0 ? (Math.abs(plusDi - minusDi) / sum) * 100 : 0;
}

/**
 * Wilder's ADX and directional indicators, O(1) per bar without allocation beyond the value
 * returned. +DM = rise of the high when it beats the fall of the low (and −DM the other way; a
 * tie counts for neither), each smoothed with Wilder's average (`WilderAverage`: the mean of the
 * first `period` bars after the first, then `avg = (avg × (period − 1) + x) / period`), as is the
 * true range: +DI and −DI come with bar `period + 1`. DX = 100 × |+DI − −DI| / (+DI + −DI); the
 * ADX is its Wilder average, seeded with the mean of the first `period` DX values, so the first
 * ADX comes with bar `2 × period`. This is Wilder's own seeding and technicalindicators'; TA-Lib
 * and tulind seed with `period − 1` values instead (see the README). A bar without range gives
 * DI 0 and a DX of 0, not 0 / 0. `peek`/`replace` follow a forming candle as in `Rsi`.
 *
 * The four averages are kept here in scalars, with `WilderAverage`'s operations written out,
 * rather than in four `WilderAverage`s: a double passed to or returned from a call the engine
 * does not inline is boxed, and an ADX step made a dozen such calls (twice the time per bar).
 */
export class Adx {
  /** A number from the start (never undefined), so the engine keeps the field numeric: see `period.ts`. */
  readonly period: number = 0;
  readonly #keep: number = 0;
  /** Bars the three directional averages have taken (+DM, −DM, true range), capped at `period`. */
  #count = 0;
  /** While warming up: sums of +DM, −DM and the true range; once warm: their Wilder averages. */
  #plusDm = 0;
  #minusDm = 0;
  #range = 0;
  /** DX values the ADX has taken, capped at `period`, and their sum, then the ADX. */
  #dxCount = 0;
  #adx = 0;
  #hasPrevious = false;
  #high = 0;
  #low = 0;
  #close = 0;
  /** The whole state before the last `update`, for `replace` (scalars: no allocation per step). */
  #hasBefore = false;
  #beforeHasPrevious = false;
  #beforeHigh = 0;
  #beforeLow = 0;
  #beforeClose = 0;
  #beforeCount = 0;
  #beforePlusDm = 0;
  #beforeMinusDm = 0;
  #beforeRange = 0;
  #beforeDxCount = 0;
  #beforeAdx = 0;

  constructor(period: number) {
    assertPeriod('Adx', period);
    this.period = period;
    this.#keep = period - 1;
  }

  get ready(): boolean {
    return this.#dxCount === this.period;
  }

  /** The ADX, from bar `2 × period` on: what `update` returns, read after `push` without a boxed result. */
  get adx(): number | undefined {
    return this.#dxCount === this.period ? this.#adx : undefined;
  }

  /** +DI, from bar `period + 1` on. */
  get plusDi(): number | undefined {
    return this.#count === this.period ? diOf(this.#plusDm, this.#range) : undefined;
  }

  /** −DI, from bar `period + 1` on. */
  get minusDi(): number | undefined {
    return this.#count === this.period ? diOf(this.#minusDm, this.#range) : undefined;
  }

  /** DX, from bar `period + 1` on (before the ADX that smooths it). */
  get dx(): number | undefined {
    return this.#count === this.period ? this.#currentDx() : undefined;
  }

  get value(): AdxValue | undefined {
    if (this.#dxCount !== this.period) return undefined;
    const plusDi = diOf(this.#plusDm, this.#range);
    const minusDi = diOf(this.#minusDm, this.#range);
    return { adx: this.#adx, plusDi, minusDi, dx: dxOf(plusDi, minusDi) };
  }

  /** Takes the next bar and returns the ADX (the readings are on `value` and the getters: no allocation here). */
  update(bar: Bar): number | undefined {
    this.push(bar);
    return this.#dxCount === this.period ? this.#adx : undefined;
  }

  /** `update` without its result, for a per-candle loop: test `ready`, then read `value` or the getters. */
  push(bar: Bar): void {
    assertBar('Adx', bar);
    this.#hasBefore = true;
    this.#beforeHasPrevious = this.#hasPrevious;
    this.#beforeHigh = this.#high;
    this.#beforeLow = this.#low;
    this.#beforeClose = this.#close;
    this.#beforeCount = this.#count;
    this.#beforePlusDm = this.#plusDm;
    this.#beforeMinusDm = this.#minusDm;
    this.#beforeRange = this.#range;
    this.#beforeDxCount = this.#dxCount;
    this.#beforeAdx = this.#adx;
    this.#step(bar);
  }

  /** Every reading if the current candle ended as `bar` now; nothing changes. */
  peek(bar: Bar): AdxValue | undefined {
    assertBar('Adx.peek', bar);
    if (this.#hasPrevious !== true) return undefined;
    const up = bar.high - this.#high;
    const down = this.#low - bar.low;
    const range = this.#peekAverage(this.#count, this.#range, trueRange(bar, this.#close));
    if (range === undefined) return undefined;
    const plusDi = diOf(this.#peekAverage(this.#count, this.#plusDm, plusDmOf(up, down))!, range);
    const minusDi = diOf(this.#peekAverage(this.#count, this.#minusDm, plusDmOf(down, up))!, range);
    const dx = dxOf(plusDi, minusDi);
    const adx = this.#peekAverage(this.#dxCount, this.#adx, dx);
    return adx === undefined ? undefined : { adx, plusDi, minusDi, dx };
  }

  /** Replaces the last bar given to `update` (the same candle, moved on); returns the ADX. */
  replace(bar: Bar): number | undefined {
    assertBar('Adx.replace', bar);
    if (this.#hasBefore !== true) throw new RangeError('Adx.replace: no bar to replace yet');
    this.#hasPrevious = this.#beforeHasPrevious;
    this.#high = this.#beforeHigh;
    this.#low = this.#beforeLow;
    this.#close = this.#beforeClose;
    this.#count = this.#beforeCount;
    this.#plusDm = this.#beforePlusDm;
    this.#minusDm = this.#beforeMinusDm;
    this.#range = this.#beforeRange;
    this.#dxCount = this.#beforeDxCount;
    this.#adx = this.#beforeAdx;
    this.#step(bar);
    return this.#dxCount === this.period ? this.#adx : undefined;
  }

  /**
   * One bar into the averages once all four are warm, the step of nearly every bar:
   * `WilderAverage`'s, `plusDmOf`'s, `trueRange`'s, `diOf`'s and `dxOf`'s operations written out
   * (called, as `#warmingStep` calls them, they cost a boxed double a bar: measured in
   * test/no-allocation.test.ts), then the bar remembered as the previous one. Kept under V8's size limit for inlining a function (460 bytes of bytecode;
   * with the warm-up in it, it was over), so `push` takes it whole, and a caller's loop can take
   * `push` when its own inlining budget allows (then a bar built for the call is not even
   * allocated); warming up is `#warmingStep`. The bar has been checked.
   */
  #step(bar: Bar): void {
    const period = this.period;
    // The ADX starts only once the other three are warm, so a warm ADX means all four are.
    if (this.#dxCount !== period || this.#hasPrevious !== true) {
      this.#warmingStep(bar);
      return;
    }
    const high = bar.high;
    const low = bar.low;
    const close = bar.close;
    const up = high - this.#high;
    const down = this.#low - low;
    const previousClose = this.#close;
    const keep = this.#keep;
    const plusDm = (this.#plusDm * keep + (up > down && up > 0 ? up : 0)) / period;
    const minusDm = (this.#minusDm * keep + (down > up && down > 0 ? down : 0)) / period;
    const range =
      (this.#range * keep + (Math.max(high, previousClose) - Math.min(low, previousClose))) / period;
    this.#plusDm = plusDm;
    this.#minusDm = minusDm;
    this.#range = range;
    const plusDi = range > 0 ? (plusDm * 100) / range : 0;
    const minusDi = range > 0 ? (minusDm * 100) / range : 0;
    const sum = plusDi + minusDi;
    this.#adx = (this.#adx * keep + (sum > 0 ? (Math.abs(plusDi - minusDi) / sum) * 100 : 0)) / period;
    this.#high = high;
    this.#low = low;
    this.#close = close;
  }

  /** `#step` for a bar while any average still warms up (the first `2 × period` bars), in full. */
  #warmingStep(bar: Bar): void {
    if (this.#hasPrevious === true) {
      const up = bar.high - this.#high;
      const down = this.#low - bar.low;
      const plusDm = plusDmOf(up, down);
      const minusDm = plusDmOf(down, up);
      const range = trueRange(bar, this.#close);
      const period = this.period;
      if (this.#count === period) {
        const keep = this.#keep;
        this.#plusDm = (this.#plusDm * keep + plusDm) / period;
        this.#minusDm = (this.#minusDm * keep + minusDm) / period;
        this.#range = (this.#range * keep + range) / period;
      } else {
        this.#plusDm += plusDm;
        this.#minusDm += minusDm;
        this.#range += range;
        if (++this.#count === period) {
          this.#plusDm /= period;
          this.#minusDm /= period;
          this.#range /= period;
        }
      }
      if (this.#count === period) {
        const dx = this.#currentDx();
        if (this.#dxCount === period) this.#adx = (this.#adx * this.#keep + dx) / period;
        else {
          this.#adx += dx;
          if (++this.#dxCount === period) this.#adx /= period;
        }
      }
    }
    this.#hasPrevious = true;
    this.#high = bar.high;
    this.#low = bar.low;
    this.#close = bar.close;
  }

  /** `WilderAverage.peek` on one of the averages: its value after `x`, or undefined while it would still warm up. */
  #peekAverage(count: number, acc: number, x: number): number | undefined {
    if (count === this.period) return (acc * this.#keep + x) / this.period;
    return count + 1 === this.period ? (acc + x) / this.period : undefined;
  }

  #currentDx(): number {
    return dxOf(diOf(this.#plusDm, this.#range), diOf(this.#minusDm, this.#range));
  }

  toJSON(): AdxState {
    const average = (count: number, acc: number): WilderAverageState => ({ period: this.period, count, acc });
    return {
      period: this.period,
      previous: this.#hasPrevious === true ? { high: this.#high, low: this.#low, close: this.#close } : null,
      plusDm: average(this.#count, this.#plusDm),
      minusDm: average(this.#count, this.#minusDm),
      range: average(this.#count, this.#range),
      dx: average(this.#dxCount, this.#adx),
    };
  }

  /** Continues from a snapshot (`replace` needs an `update` after it); one no series could make is refused. */
  static fromJSON(state: AdxState): Adx {
    const where = 'Adx.fromJSON';
    const adx = new Adx(state.period);
    const parts = [state.plusDm, state.minusDm, state.range, state.dx];
    if (parts.some((p) => p.period !== state.period))
      throw new RangeError(`${where}: every average must have period ${state.period}`);
    // Each average checked as a WilderAverage would check its own snapshot.
    const [plusDm, minusDm, range, dx] = parts.map((p) => WilderAverage.fromJSON(p, where)) as [
      WilderAverage,
      WilderAverage,
      WilderAverage,
      WilderAverage,
    ];
    if (plusDm.count !== range.count || minusDm.count !== range.count)
      throw new RangeError(`${where}: +DM, −DM and the true range must have seen as many bars`);
    if (state.previous === null && range.count > 0)
      throw new RangeError(`${where}: previous must be set once a bar was seen`);
    if (dx.count > 0 && !range.ready)
      throw new RangeError(`${where}: the DX average cannot start before the true range is warm`);
    for (const p of parts)
      if (p.acc < 0) throw new RangeError(`${where}: averages are never negative, got ${p.acc}`);
    if (state.previous !== null) assertBar(where, state.previous);
    adx.#count = range.count;
    adx.#plusDm = state.plusDm.acc;
    adx.#minusDm = state.minusDm.acc;
    adx.#range = state.range.acc;
    adx.#dxCount = dx.count;
    adx.#adx = state.dx.acc;
    if (state.previous !== null) {
      adx.#hasPrevious = true;
      adx.#high = state.previous.high;
      adx.#low = state.previous.low;
      adx.#close = state.previous.close;
    }
    return adx;
  }
}

/** ADX over whole series: four arrays, `NaN` while warming up (DI and DX from bar `period + 1`). */
export interface AdxSeries {
  adx: Float64Array;
  plusDi: Float64Array;
  minusDi: Float64Array;
  dx: Float64Array;
}

/**
 * ADX over whole series at once: one pass with every average in scalars and the same operations
 * as `Adx`, so equal to it bit for bit; values are not checked.
 */
export function adxSeries(
  high: Float64Array,
  low: Float64Array,
  close: Float64Array,
  period: number,
): AdxSeries {
  assertSameLength('adxSeries', 'high, low and close', high, low, close);
  assertPeriod('adxSeries', period);
  const n = close.length;
  const adx = new Float64Array(n);
  const plusDi = new Float64Array(n);
  const minusDi = new Float64Array(n);
  const dxs = new Float64Array(n);
  adx.fill(Number.NaN, 0, Math.min(n, 2 * period));
  plusDi.fill(Number.NaN, 0, Math.min(n, period + 1));
  minusDi.fill(Number.NaN, 0, Math.min(n, period + 1));
  dxs.fill(Number.NaN, 0, Math.min(n, period + 1));
  if (n <= period) return { adx, plusDi, minusDi, dx: dxs };
  const keep = period - 1;
  let pdm = 0;
  let mdm = 0;
  let tr = 0;
  for (let i = 1; i <= period; i++) {
    const h = high[i]!;
    const l = low[i]!;
    const c = close[i - 1]!;
    const up = h - high[i - 1]!;
    const down = low[i - 1]! - l;
    pdm += up > down && up > 0 ? up : 0;
    mdm += down > up && down > 0 ? down : 0;
    tr += Math.max(h, c) - Math.min(l, c);
  }
  pdm /= period;
  mdm /= period;
  tr /= period;
  let acc = 0;
  let count = 0;
  for (let i = period; i < n; i++) {
    if (i > period) {
      const h = high[i]!;
      const l = low[i]!;
      const c = close[i - 1]!;
      const up = h - high[i - 1]!;
      const down = low[i - 1]! - l;
      pdm = (pdm * keep + (up > down && up > 0 ? up : 0)) / period;
      mdm = (mdm * keep + (down > up && down > 0 ? down : 0)) / period;
      tr = (tr * keep + (Math.max(h, c) - Math.min(l, c))) / period;
    }
    const p = tr > 0 ? (pdm * 100) / tr : 0;
    const m = tr > 0 ? (mdm * 100) / tr : 0;
    const sum = p + m;
    const dx = sum > 0 ? (Math.abs(p - m) / sum) * 100 : 0;
    plusDi[i] = p;
    minusDi[i] = m;
    dxs[i] = dx;
    if (count === period) adx[i] = acc = (acc * keep + dx) / period;
    else {
      acc += dx;
      if (++count === period) adx[i] = acc /= period;
    }
  }
  return { adx, plusDi, minusDi, dx: dxs };
}
