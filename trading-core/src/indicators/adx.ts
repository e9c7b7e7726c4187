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
 * tie counts for neither), each smoothed with `WilderAverage` (the mean of the first `period`
 * bars after the first, then Wilder's average), as is the true range: +DI and −DI come with bar
 * `period + 1`. DX = 100 × |+DI − −DI| / (+DI + −DI); the ADX is its Wilder average, seeded with
 * the mean of the first `period` DX values, so the first ADX comes with bar `2 × period`. This is
 * Wilder's own seeding and technicalindicators'; TA-Lib and tulind seed with `period − 1` values
 * instead (see the README). A bar without range gives DI 0 and a DX of 0, not 0 / 0.
 * `peek`/`replace` follow a forming candle as in `Rsi`.
 */
export class Adx {
  /** A number from the start (never undefined), so the engine keeps the field numeric: see `period.ts`. */
  readonly period: number = 0;
  #plusDm: WilderAverage;
  #minusDm: WilderAverage;
  #range: WilderAverage;
  #dx: WilderAverage;
  #hasPrevious = false;
  #high = 0;
  #low = 0;
  #close = 0;
  /** The previous bar before the last `update`, for `replace` (scalars: no allocation per step). */
  #hasBefore = false;
  #beforeHasPrevious = false;
  #beforeHigh = 0;
  #beforeLow = 0;
  #beforeClose = 0;
  /** Whether the last `update` fed the DX average (it depends on counts alone, never on prices). */
  #fedDx = false;

  constructor(period: number) {
    assertPeriod('Adx', period);
    this.period = period;
    this.#plusDm = new WilderAverage(period);
    this.#minusDm = new WilderAverage(period);
    this.#range = new WilderAverage(period);
    this.#dx = new WilderAverage(period);
  }

  get ready(): boolean {
    return this.#dx.ready;
  }

  /** +DI, from bar `period + 1` on. */
  get plusDi(): number | undefined {
    return this.#range.ready ? diOf(this.#plusDm.value!, this.#range.value!) : undefined;
  }

  /** −DI, from bar `period + 1` on. */
  get minusDi(): number | undefined {
    return this.#range.ready ? diOf(this.#minusDm.value!, this.#range.value!) : undefined;
  }

  /** DX, from bar `period + 1` on (before the ADX that smooths it). */
  get dx(): number | undefined {
    return this.#range.ready ? this.#currentDx() : undefined;
  }

  get value(): AdxValue | undefined {
    if (!this.#dx.ready) return undefined;
    const plusDi = diOf(this.#plusDm.value!, this.#range.value!);
    const minusDi = diOf(this.#minusDm.value!, this.#range.value!);
    return { adx: this.#dx.value!, plusDi, minusDi, dx: dxOf(plusDi, minusDi) };
  }

  /** Takes the next bar and returns the ADX (the readings are on `value` and the getters: no allocation here). */
  update(bar: Bar): number | undefined {
    this.push(bar);
    return this.#dx.value;
  }

  /**
   * `update` without its result, for a per-candle loop: test `ready`, then read `value` or the
   * getters. The averages take their values through `push`, which returns nothing, so no double
   * is boxed on the way whether or not the engine inlines them.
   */
  push(bar: Bar): void {
    assertBar('Adx', bar);
    this.#hasBefore = true;
    this.#beforeHasPrevious = this.#hasPrevious;
    this.#beforeHigh = this.#high;
    this.#beforeLow = this.#low;
    this.#beforeClose = this.#close;
    this.#fedDx = false;
    if (this.#hasPrevious) {
      const up = bar.high - this.#high;
      const down = this.#low - bar.low;
      this.#plusDm.push(plusDmOf(up, down));
      this.#minusDm.push(plusDmOf(down, up));
      this.#range.push(trueRange(bar, this.#close));
      if (this.#range.ready) {
        this.#fedDx = true;
        this.#dx.push(this.#currentDx());
      }
    }
    this.#remember(bar);
  }

  /** Every reading if the current candle ended as `bar` now; nothing changes. */
  peek(bar: Bar): AdxValue | undefined {
    assertBar('Adx.peek', bar);
    if (!this.#hasPrevious) return undefined;
    const up = bar.high - this.#high;
    const down = this.#low - bar.low;
    const range = this.#range.peek(trueRange(bar, this.#close));
    if (range === undefined) return undefined;
    const plusDi = diOf(this.#plusDm.peek(plusDmOf(up, down))!, range);
    const minusDi = diOf(this.#minusDm.peek(plusDmOf(down, up))!, range);
    const dx = dxOf(plusDi, minusDi);
    const adx = this.#dx.peek(dx);
    return adx === undefined ? undefined : { adx, plusDi, minusDi, dx };
  }

  /** Replaces the last bar given to `update` (the same candle, moved on); returns the ADX. */
  replace(bar: Bar): number | undefined {
    assertBar('Adx.replace', bar);
    if (!this.#hasBefore) throw new RangeError('Adx.replace: no bar to replace yet');
    if (this.#beforeHasPrevious) {
      const up = bar.high - this.#beforeHigh;
      const down = this.#beforeLow - bar.low;
      this.#plusDm.replace(plusDmOf(up, down));
      this.#minusDm.replace(plusDmOf(down, up));
      this.#range.replace(trueRange(bar, this.#beforeClose));
      if (this.#fedDx) this.#dx.replace(this.#currentDx());
    }
    this.#remember(bar);
    return this.#dx.value;
  }

  #currentDx(): number {
    const range = this.#range.value!;
    return dxOf(diOf(this.#plusDm.value!, range), diOf(this.#minusDm.value!, range));
  }

  #remember(bar: Bar): void {
    this.#hasPrevious = true;
    this.#high = bar.high;
    this.#low = bar.low;
    this.#close = bar.close;
  }

  toJSON(): AdxState {
    return {
      period: this.period,
      previous: this.#hasPrevious ? { high: this.#high, low: this.#low, close: this.#close } : null,
      plusDm: this.#plusDm.toJSON(),
      minusDm: this.#minusDm.toJSON(),
      range: this.#range.toJSON(),
      dx: this.#dx.toJSON(),
    };
  }

  /** Continues from a snapshot (`replace` needs an `update` after it); one no series could make is refused. */
  static fromJSON(state: AdxState): Adx {
    const where = 'Adx.fromJSON';
    const adx = new Adx(state.period);
    const parts = [state.plusDm, state.minusDm, state.range, state.dx];
    if (parts.some((p) => p.period !== state.period))
      throw new RangeError(`${where}: every average must have period ${state.period}`);
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
    adx.#plusDm = plusDm;
    adx.#minusDm = minusDm;
    adx.#range = range;
    adx.#dx = dx;
    if (state.previous !== null) adx.#remember(state.previous);
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
    tr += Math.max(h - l, Math.abs(h - c), Math.abs(l - c));
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
      tr = (tr * keep + Math.max(h - l, Math.abs(h - c), Math.abs(l - c))) / period;
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
