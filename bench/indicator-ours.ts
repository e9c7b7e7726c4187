/**
 * Our side of the indicator bench: for each indicator, trading-core's batch form, its streaming
 * class fed one bar at a time, and where there is one the bare floor (the least any streaming
 * object could do per bar). Loaded in a process of its own, which has loaded no peer library.
 */
import {
  Adx,
  adxSeries,
  Atr,
  atrSeries,
  Bollinger,
  bollingerSeries,
  Donchian,
  donchianSeries,
  Ema,
  emaSeries,
  Macd,
  macdSeries,
  RollingVwap,
  rollingVwapSeries,
  Rsi,
  rsiSeries,
  SessionVwap,
  sessionVwapSeries,
  Sma,
  smaSeries,
  trueRange,
  trueRangeSeries,
} from '@appliance/trading-core';
import { type Bar, barOf, type Columns, type IndicatorName, type Run } from './indicator-data.js';

/** Our ways of computing one indicator, each returning a checksum. */
export interface OurContestant {
  batch: Run<Columns>;
  stream: Run<Columns>;
  /**
   * The least a streaming object can do per value for this indicator (its operations alone: no
   * checks, no state kept for `replace`, a number for every bar rather than `undefined` while
   * warming up), on the peers' prefix: how far any `update` could go in this engine. Where it
   * computes the same values as ours, bench/test/indicator-floors.test.ts says so.
   */
  floor?: Run<Columns>;
  /**
   * Streaming as the strategies stream (`push` a bar, test `ready`, read `value`, or `Adx`'s
   * `adx`), on the peers' prefix: the same values as `stream`, but the getter read after `ready`
   * folds to a plain double, where `update`'s `number | undefined` is a tagged result the engine
   * boxes on every bar. bench/test/indicator-floors.test.ts checks it sums to what `stream` sums.
   */
  push?: Run<Columns>;
}

/**
 * An EMA as bare as a streaming object gets: one field, the same operations as `Ema`'s warm step
 * (so the same chain of dependent flops per value), seeded with the first value, nothing checked.
 */
class BareEma {
  value = 0;
  readonly alpha: number = 0;
  constructor(period: number) {
    this.alpha = 2 / (period + 1);
  }
  update(x: number): number {
    const v = this.value;
    this.value = v + this.alpha * (x - v);
    return this.value;
  }
}

/**
 * An ATR as bare as a streaming object gets: the true range and Wilder's step (the same
 * operations as `Atr`), 0 while warming up, no bar check, no state kept for `replace`.
 */
class BareAtr {
  count = 0;
  acc = 0;
  previousClose = Number.NaN;
  readonly period: number = 0;
  readonly keep: number = 0;
  constructor(period: number) {
    this.period = period;
    this.keep = period - 1;
  }
  update(bar: Bar): number {
    const high = bar.high;
    const low = bar.low;
    const c = this.previousClose;
    this.previousClose = bar.close;
    const range = Math.max(high, c) - Math.min(low, c);
    if (this.count === this.period) return (this.acc = (this.acc * this.keep + range) / this.period);
    if (c !== c) return 0; // the first bar: no previous close, no range
    this.acc += range;
    if (++this.count === this.period) return (this.acc /= this.period);
    return 0;
  }
}

/**
 * An ADX as bare as a streaming object gets: `Adx`'s operations in the same order (three Wilder
 * averages, the DIs, DX, the ADX's own Wilder average), 0 while warming up, no bar check, no state
 * kept for `replace`.
 */
class BareAdx {
  bars = 0;
  high = 0;
  low = 0;
  close = 0;
  plusDm = 0;
  minusDm = 0;
  range = 0;
  adx = 0;
  readonly period: number = 0;
  readonly keep: number = 0;
  constructor(period: number) {
    this.period = period;
    this.keep = period - 1;
  }
  // Kept small enough for the engine to inline into the caller's loop (a bar built for the call
  // is then never allocated), as `Adx` keeps its own warm step: warming up is a call of its own.
  update(bar: Bar): number {
    const n = ++this.bars;
    const period = this.period;
    if (n <= 2 * period) return this.warming(bar, n);
    const high = bar.high;
    const low = bar.low;
    const up = high - this.high;
    const down = this.low - low;
    const c = this.close;
    this.high = high;
    this.low = low;
    this.close = bar.close;
    const keep = this.keep;
    const plusDm = (this.plusDm * keep + (up > down && up > 0 ? up : 0)) / period;
    const minusDm = (this.minusDm * keep + (down > up && down > 0 ? down : 0)) / period;
    const r = (this.range * keep + (Math.max(high, c) - Math.min(low, c))) / period;
    this.plusDm = plusDm;
    this.minusDm = minusDm;
    this.range = r;
    const plusDi = r > 0 ? (plusDm * 100) / r : 0;
    const minusDi = r > 0 ? (minusDm * 100) / r : 0;
    const sum = plusDi + minusDi;
    const dx = sum > 0 ? (Math.abs(plusDi - minusDi) / sum) * 100 : 0;
    return (this.adx = (this.adx * keep + dx) / period);
  }

  /** The first `2 × period` bars, while any of the averages still warms up. */
  warming(bar: Bar, n: number): number {
    const high = bar.high;
    const low = bar.low;
    const up = high - this.high;
    const down = this.low - low;
    const c = this.close;
    this.high = high;
    this.low = low;
    this.close = bar.close;
    if (n === 1) return 0;
    const period = this.period;
    const keep = this.keep;
    const plus = up > down && up > 0 ? up : 0;
    const minus = down > up && down > 0 ? down : 0;
    const range = Math.max(high, c) - Math.min(low, c);
    if (n > period + 1) {
      this.plusDm = (this.plusDm * keep + plus) / period;
      this.minusDm = (this.minusDm * keep + minus) / period;
      this.range = (this.range * keep + range) / period;
    } else {
      this.plusDm += plus;
      this.minusDm += minus;
      this.range += range;
      if (n < period + 1) return 0;
      this.plusDm /= period;
      this.minusDm /= period;
      this.range /= period;
    }
    const r = this.range;
    const plusDi = r > 0 ? (this.plusDm * 100) / r : 0;
    const minusDi = r > 0 ? (this.minusDm * 100) / r : 0;
    const sum = plusDi + minusDi;
    const dx = sum > 0 ? (Math.abs(plusDi - minusDi) / sum) * 100 : 0;
    this.adx += dx;
    return n === 2 * period ? (this.adx /= period) : 0;
  }
}

/**
 * A session VWAP as bare as a streaming object gets: `SessionVwap`'s operations (the session from
 * the bar's time, a reset at each new one, the typical price, two sums and their quotient), 0
 * before any volume, no bar check, no state kept for `replace`.
 */
class BareSessionVwap {
  session = Number.NaN;
  pv = 0;
  v = 0;
  readonly sessionMs = 86_400_000;
  update(bar: Bar): number {
    const session = Math.floor(bar.time / this.sessionMs);
    if (session !== this.session) {
      this.session = session;
      this.pv = 0;
      this.v = 0;
    }
    const volume = bar.volume;
    const v = (this.v += volume);
    const pv = (this.pv += ((bar.high + bar.low + bar.close) / 3) * volume);
    return v > 0 ? pv / v : 0;
  }
}

const last = (a: Float64Array): number => a[a.length - 1]!;

// Each contestant has its own loops (no shared helper taking a callback), so every call site sees
// one indicator and the JIT can inline it.
export const OURS: Record<IndicatorName, OurContestant> = {
  'SMA(20)': {
    batch: (d) => last(smaSeries(d.close, 20)),
    stream: (d) => {
      const sma = new Sma(20);
      let sum = 0;
      for (let i = 0; i < d.n; i++) sum += sma.update(d.close[i]!) ?? 0;
      return sum;
    },
    push: (d) => {
      const sma = new Sma(20);
      let sum = 0;
      for (let i = 0; i < d.n; i++) {
        sma.push(d.close[i]!);
        if (sma.ready) sum += sma.value!;
      }
      return sum;
    },
  },
  'EMA(20)': {
    batch: (d) => last(emaSeries(d.close, 20)),
    stream: (d) => {
      const ema = new Ema(20);
      let sum = 0;
      for (let i = 0; i < d.n; i++) sum += ema.update(d.close[i]!) ?? 0;
      return sum;
    },
    push: (d) => {
      const ema = new Ema(20);
      let sum = 0;
      for (let i = 0; i < d.n; i++) {
        ema.push(d.close[i]!);
        if (ema.ready) sum += ema.value!;
      }
      return sum;
    },
    floor: (d) => {
      const ema = new BareEma(20);
      ema.value = d.close[0] ?? 0;
      let sum = 0;
      for (let i = 0; i < d.n; i++) sum += ema.update(d.close[i]!);
      return sum;
    },
  },
  'RSI(14)': {
    batch: (d) => last(rsiSeries(d.close, 14)),
    stream: (d) => {
      const rsi = new Rsi(14);
      let sum = 0;
      for (let i = 0; i < d.n; i++) sum += rsi.update(d.close[i]!) ?? 0;
      return sum;
    },
    push: (d) => {
      const rsi = new Rsi(14);
      let sum = 0;
      for (let i = 0; i < d.n; i++) {
        rsi.push(d.close[i]!);
        if (rsi.ready) sum += rsi.value!;
      }
      return sum;
    },
  },
  'MACD(12,26,9)': {
    batch: (d) => last(macdSeries(d.close).histogram),
    stream: (d) => {
      const macd = new Macd();
      let sum = 0;
      for (let i = 0; i < d.n; i++) {
        macd.update(d.close[i]!);
        sum += macd.histogram ?? 0;
      }
      return sum;
    },
  },
  'Bollinger(20,2)': {
    batch: (d) => last(bollingerSeries(d.close, 20, 2).upper),
    stream: (d) => {
      const bb = new Bollinger(20, 2);
      let sum = 0;
      for (let i = 0; i < d.n; i++) {
        bb.update(d.close[i]!);
        sum += bb.upper ?? 0;
      }
      return sum;
    },
  },
  TrueRange: {
    batch: (d) => last(trueRangeSeries(d.high, d.low, d.close)),
    stream: (d) => {
      let sum = 0;
      for (let i = 1; i < d.n; i++) sum += trueRange(barOf(d, i), d.close[i - 1]!);
      return sum;
    },
  },
  'ATR(14)': {
    batch: (d) => last(atrSeries(d.high, d.low, d.close, 14)),
    stream: (d) => {
      const atr = new Atr(14);
      let sum = 0;
      for (let i = 0; i < d.n; i++) sum += atr.update(barOf(d, i)) ?? 0;
      return sum;
    },
    push: (d) => {
      const atr = new Atr(14);
      let sum = 0;
      for (let i = 0; i < d.n; i++) {
        atr.push(barOf(d, i));
        if (atr.ready) sum += atr.value!;
      }
      return sum;
    },
    floor: (d) => {
      const atr = new BareAtr(14);
      let sum = 0;
      for (let i = 0; i < d.n; i++) sum += atr.update(barOf(d, i));
      return sum;
    },
  },
  'ADX(14)': {
    batch: (d) => last(adxSeries(d.high, d.low, d.close, 14).adx),
    stream: (d) => {
      const adx = new Adx(14);
      let sum = 0;
      for (let i = 0; i < d.n; i++) sum += adx.update(barOf(d, i)) ?? 0;
      return sum;
    },
    push: (d) => {
      const adx = new Adx(14);
      let sum = 0;
      for (let i = 0; i < d.n; i++) {
        adx.push(barOf(d, i));
        if (adx.ready) sum += adx.adx!;
      }
      return sum;
    },
    floor: (d) => {
      const adx = new BareAdx(14);
      let sum = 0;
      for (let i = 0; i < d.n; i++) sum += adx.update(barOf(d, i));
      return sum;
    },
  },
  'Donchian(20)': {
    batch: (d) => last(donchianSeries(d.high, d.low, 20).middle),
    stream: (d) => {
      const dc = new Donchian(20);
      let sum = 0;
      for (let i = 0; i < d.n; i++) sum += dc.update(barOf(d, i)) ?? 0;
      return sum;
    },
  },
  'VWAP session': {
    batch: (d) => last(sessionVwapSeries(d.time, d.high, d.low, d.close, d.volume)),
    stream: (d) => {
      const vwap = new SessionVwap();
      let sum = 0;
      for (let i = 0; i < d.n; i++) sum += vwap.update(barOf(d, i)) ?? 0;
      return sum;
    },
    push: (d) => {
      const vwap = new SessionVwap();
      let sum = 0;
      for (let i = 0; i < d.n; i++) {
        vwap.push(barOf(d, i));
        if (vwap.ready) sum += vwap.value!;
      }
      return sum;
    },
    floor: (d) => {
      const vwap = new BareSessionVwap();
      let sum = 0;
      for (let i = 0; i < d.n; i++) sum += vwap.update(barOf(d, i));
      return sum;
    },
  },
  'VWAP rolling(24)': {
    batch: (d) => last(rollingVwapSeries(d.high, d.low, d.close, d.volume, 24)),
    stream: (d) => {
      const vwap = new RollingVwap(24);
      let sum = 0;
      for (let i = 0; i < d.n; i++) sum += vwap.update(barOf(d, i)) ?? 0;
      return sum;
    },
  },
};
