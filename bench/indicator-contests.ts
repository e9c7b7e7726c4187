/**
 * The indicator bench's contestants: for each indicator, ours (batch and streaming) and the
 * peers' forms (technicalindicators batch and streaming, tulind batch), each returning a
 * checksum so no work can be dropped. The suite that times them is bench/indicators.ts.
 */
import ti from 'technicalindicators';
// @ts-expect-error tulind ships no types; its shape as used here is declared below.
import tulindModule from 'tulind';
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

/** The candles as columns: typed arrays for ours, plain arrays for the peers (which take only those). */
export interface Columns {
  n: number;
  time: Float64Array;
  high: Float64Array;
  low: Float64Array;
  close: Float64Array;
  volume: Float64Array;
}
export interface Plain {
  n: number;
  time: number[];
  high: number[];
  low: number[];
  close: number[];
  volume: number[];
}

export type Run<D> = (d: D) => number;

/** One indicator and every way of computing it that the bench times; each returns a checksum. */
export interface Contest {
  name: string;
  oursBatch: Run<Columns>;
  oursStream: Run<Columns>;
  tiBatch?: Run<Plain>;
  tiStream?: Run<Plain>;
  tulind?: Run<Plain>;
  /** What a peer computes when it is not exactly this indicator. */
  note?: string;
  /**
   * The least a streaming object can do per value for this indicator (its operations alone: no
   * checks, no state kept for `replace`, a number for every bar rather than `undefined` while
   * warming up), on the peers' prefix: how far any `update` could go in this engine. Where it
   * computes the same values as ours, bench/test/indicator-contests.test.ts says so.
   */
  floorStream?: Run<Columns>;
}

/**
 * An EMA as bare as a streaming object gets: one field, the same operations as `Ema`'s warm step
 * (so the same chain of dependent flops per value), seeded with the first value, nothing checked.
 */
class BareEma {
  value = 0;
  readonly alpha: number;
  constructor(period: number) {
    this.alpha = 2 / (period + 1);
  }
  update(x: number): number {
    const v = this.value;
    this.value = v + this.alpha * (x - v);
    return this.value;
  }
}

/** A bar as the bare objects below read it. */
interface BareBar {
  time: number;
  high: number;
  low: number;
  close: number;
  volume: number;
}

/**
 * An ATR as bare as a streaming object gets: the true range and Wilder's step (the same
 * operations as `Atr`), 0 while warming up, no bar check, no state kept for `replace`.
 */
class BareAtr {
  count = 0;
  acc = 0;
  previousClose = Number.NaN;
  readonly period: number;
  readonly keep: number;
  constructor(period: number) {
    this.period = period;
    this.keep = period - 1;
  }
  update(bar: BareBar): number {
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
  readonly period: number;
  readonly keep: number;
  constructor(period: number) {
    this.period = period;
    this.keep = period - 1;
  }
  update(bar: BareBar): number {
    const high = bar.high;
    const low = bar.low;
    const up = high - this.high;
    const down = this.low - low;
    const c = this.close;
    this.high = high;
    this.low = low;
    this.close = bar.close;
    const n = ++this.bars;
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
    if (n > 2 * period) return (this.adx = (this.adx * keep + dx) / period);
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
  update(bar: BareBar): number {
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

type TulindFn = (inputs: number[][], options: number[], cb: (err: unknown, out: number[][]) => void) => void;
const tulind = tulindModule as {
  indicators: Record<string, { indicator: TulindFn }>;
};

/** tulind's callback runs before `indicator` returns; the last value of its first output. */
function tulip(name: string, inputs: number[][], options: number[]): number {
  let last = Number.NaN;
  tulind.indicators[name]!.indicator(inputs, options, (err, out) => {
    if (err) throw new Error(`tulind ${name}: ${String(err)}`);
    last = out[0]!.at(-1) ?? Number.NaN;
  });
  return last;
}

/**
 * A new bar object per update, as a live feed hands them over and as the peers get theirs
 * (`tick`, the same fields): what the engine makes of it (it may never allocate one) is part of
 * the indicator's cost, for ours and the peers alike.
 */
const barOf = (d: Columns, i: number) => ({
  time: d.time[i]!,
  high: d.high[i]!,
  low: d.low[i]!,
  close: d.close[i]!,
  volume: d.volume[i]!,
});

/**
 * `barOf` for the peers, the same fields: technicalindicators' streaming form keeps the previous
 * tick object, so each bar is a new one.
 */
const tick = (d: Plain, i: number) => ({
  time: d.time[i]!,
  high: d.high[i]!,
  low: d.low[i]!,
  close: d.close[i]!,
  volume: d.volume[i]!,
});

/** technicalindicators' typings say some `nextValue`s take a number; their code reads a candle. */
function candleStream<T>(next: (x: never) => T): (c: ReturnType<typeof tick>) => T {
  return next as (c: ReturnType<typeof tick>) => T;
}

const last = (a: Float64Array): number => a[a.length - 1]!;

// Each contest has its own loops (no shared helper taking a callback), so every call site sees
// one indicator and the JIT can inline it, for ours and the peers alike.
export const CONTESTS: Contest[] = [
  {
    name: 'SMA(20)',
    oursBatch: (d) => last(smaSeries(d.close, 20)),
    oursStream: (d) => {
      const sma = new Sma(20);
      let sum = 0;
      for (let i = 0; i < d.n; i++) sum += sma.update(d.close[i]!) ?? 0;
      return sum;
    },
    tiBatch: (d) => ti.SMA.calculate({ period: 20, values: d.close }).at(-1)!,
    tiStream: (d) => {
      const sma = new ti.SMA({ period: 20, values: [] });
      let sum = 0;
      for (let i = 0; i < d.n; i++) sum += sma.nextValue(d.close[i]!) ?? 0;
      return sum;
    },
    tulind: (d) => tulip('sma', [d.close], [20]),
  },
  {
    name: 'EMA(20)',
    oursBatch: (d) => last(emaSeries(d.close, 20)),
    oursStream: (d) => {
      const ema = new Ema(20);
      let sum = 0;
      for (let i = 0; i < d.n; i++) sum += ema.update(d.close[i]!) ?? 0;
      return sum;
    },
    tiBatch: (d) => ti.EMA.calculate({ period: 20, values: d.close }).at(-1)!,
    tiStream: (d) => {
      const ema = new ti.EMA({ period: 20, values: [] });
      let sum = 0;
      for (let i = 0; i < d.n; i++) sum += ema.nextValue(d.close[i]!) ?? 0;
      return sum;
    },
    tulind: (d) => tulip('ema', [d.close], [20]),
    floorStream: (d) => {
      const ema = new BareEma(20);
      ema.value = d.close[0] ?? 0;
      let sum = 0;
      for (let i = 0; i < d.n; i++) sum += ema.update(d.close[i]!);
      return sum;
    },
  },
  {
    name: 'RSI(14)',
    oursBatch: (d) => last(rsiSeries(d.close, 14)),
    oursStream: (d) => {
      const rsi = new Rsi(14);
      let sum = 0;
      for (let i = 0; i < d.n; i++) sum += rsi.update(d.close[i]!) ?? 0;
      return sum;
    },
    tiBatch: (d) => ti.RSI.calculate({ period: 14, values: d.close }).at(-1)!,
    tiStream: (d) => {
      const rsi = new ti.RSI({ period: 14, values: [] });
      let sum = 0;
      for (let i = 0; i < d.n; i++) sum += rsi.nextValue(d.close[i]!) ?? 0;
      return sum;
    },
    tulind: (d) => tulip('rsi', [d.close], [14]),
  },
  {
    name: 'MACD(12,26,9)',
    oursBatch: (d) => last(macdSeries(d.close).histogram),
    oursStream: (d) => {
      const macd = new Macd();
      let sum = 0;
      for (let i = 0; i < d.n; i++) {
        macd.update(d.close[i]!);
        sum += macd.histogram ?? 0;
      }
      return sum;
    },
    tiBatch: (d) =>
      ti.MACD.calculate({
        values: d.close,
        fastPeriod: 12,
        slowPeriod: 26,
        signalPeriod: 9,
        SimpleMAOscillator: false,
        SimpleMASignal: false,
      }).at(-1)!.MACD!,
    tiStream: (d) => {
      const macd = new ti.MACD({
        values: [],
        fastPeriod: 12,
        slowPeriod: 26,
        signalPeriod: 9,
        SimpleMAOscillator: false,
        SimpleMASignal: false,
      });
      let sum = 0;
      for (let i = 0; i < d.n; i++) sum += macd.nextValue(d.close[i]!)?.histogram ?? 0;
      return sum;
    },
    tulind: (d) => tulip('macd', [d.close], [12, 26, 9]),
  },
  {
    name: 'Bollinger(20,2)',
    oursBatch: (d) => last(bollingerSeries(d.close, 20, 2).upper),
    oursStream: (d) => {
      const bb = new Bollinger(20, 2);
      let sum = 0;
      for (let i = 0; i < d.n; i++) {
        bb.update(d.close[i]!);
        sum += bb.upper ?? 0;
      }
      return sum;
    },
    tiBatch: (d) => ti.BollingerBands.calculate({ period: 20, stdDev: 2, values: d.close }).at(-1)!.upper,
    tiStream: (d) => {
      const bb = new ti.BollingerBands({ period: 20, stdDev: 2, values: [] });
      let sum = 0;
      for (let i = 0; i < d.n; i++) sum += bb.nextValue(d.close[i]!)?.upper ?? 0;
      return sum;
    },
    tulind: (d) => tulip('bbands', [d.close], [20, 2]),
  },
  {
    name: 'TrueRange',
    oursBatch: (d) => last(trueRangeSeries(d.high, d.low, d.close)),
    oursStream: (d) => {
      let sum = 0;
      for (let i = 1; i < d.n; i++) sum += trueRange(barOf(d, i), d.close[i - 1]!);
      return sum;
    },
    tiBatch: (d) => ti.TrueRange.calculate({ high: d.high, low: d.low, close: d.close }).at(-1)!,
    tiStream: (d) => {
      const tr = new ti.TrueRange({ high: [], low: [], close: [] });
      let sum = 0;
      for (let i = 0; i < d.n; i++) sum += tr.nextValue(tick(d, i)) ?? 0;
      return sum;
    },
    tulind: (d) => tulip('tr', [d.high, d.low, d.close], []),
  },
  {
    name: 'ATR(14)',
    oursBatch: (d) => last(atrSeries(d.high, d.low, d.close, 14)),
    oursStream: (d) => {
      const atr = new Atr(14);
      let sum = 0;
      for (let i = 0; i < d.n; i++) sum += atr.update(barOf(d, i)) ?? 0;
      return sum;
    },
    tiBatch: (d) => ti.ATR.calculate({ period: 14, high: d.high, low: d.low, close: d.close }).at(-1)!,
    tiStream: (d) => {
      const atr = new ti.ATR({ period: 14, high: [], low: [], close: [] });
      let sum = 0;
      for (let i = 0; i < d.n; i++) sum += atr.nextValue(tick(d, i)) ?? 0;
      return sum;
    },
    tulind: (d) => tulip('atr', [d.high, d.low, d.close], [14]),
    floorStream: (d) => {
      const atr = new BareAtr(14);
      let sum = 0;
      for (let i = 0; i < d.n; i++) sum += atr.update(barOf(d, i));
      return sum;
    },
  },
  {
    name: 'ADX(14)',
    oursBatch: (d) => last(adxSeries(d.high, d.low, d.close, 14).adx),
    oursStream: (d) => {
      const adx = new Adx(14);
      let sum = 0;
      for (let i = 0; i < d.n; i++) sum += adx.update(barOf(d, i)) ?? 0;
      return sum;
    },
    tiBatch: (d) => ti.ADX.calculate({ period: 14, high: d.high, low: d.low, close: d.close }).at(-1)!.adx,
    tiStream: (d) => {
      const adx = new ti.ADX({ period: 14, high: [], low: [], close: [] });
      const next = candleStream(adx.nextValue.bind(adx));
      let sum = 0;
      for (let i = 0; i < d.n; i++) sum += next(tick(d, i))?.adx ?? 0;
      return sum;
    },
    tulind: (d) => tulip('adx', [d.high, d.low, d.close], [14]),
    floorStream: (d) => {
      const adx = new BareAdx(14);
      let sum = 0;
      for (let i = 0; i < d.n; i++) sum += adx.update(barOf(d, i));
      return sum;
    },
  },
  {
    name: 'Donchian(20)',
    oursBatch: (d) => last(donchianSeries(d.high, d.low, 20).middle),
    oursStream: (d) => {
      const dc = new Donchian(20);
      let sum = 0;
      for (let i = 0; i < d.n; i++) sum += dc.update(barOf(d, i)) ?? 0;
      return sum;
    },
    tulind: (d) => tulip('max', [d.high], [20]) + tulip('min', [d.low], [20]),
    note: 'tulind: max of highs + min of lows (two calls); technicalindicators has no Donchian',
  },
  {
    name: 'VWAP session',
    oursBatch: (d) => last(sessionVwapSeries(d.time, d.high, d.low, d.close, d.volume)),
    oursStream: (d) => {
      const vwap = new SessionVwap();
      let sum = 0;
      for (let i = 0; i < d.n; i++) sum += vwap.update(barOf(d, i)) ?? 0;
      return sum;
    },
    tiBatch: (d) => ti.VWAP.calculate({ high: d.high, low: d.low, close: d.close, volume: d.volume }).at(-1)!,
    tiStream: (d) => {
      const vwap = new ti.VWAP({ high: [], low: [], close: [], volume: [] });
      const next = candleStream(vwap.nextValue.bind(vwap));
      let sum = 0;
      for (let i = 0; i < d.n; i++) sum += next(tick(d, i)) ?? 0;
      return sum;
    },
    floorStream: (d) => {
      const vwap = new BareSessionVwap();
      let sum = 0;
      for (let i = 0; i < d.n; i++) sum += vwap.update(barOf(d, i));
      return sum;
    },
    note: 'technicalindicators: one cumulative VWAP (no session reset); tulind has none',
  },
  {
    name: 'VWAP rolling(24)',
    oursBatch: (d) => last(rollingVwapSeries(d.high, d.low, d.close, d.volume, 24)),
    oursStream: (d) => {
      const vwap = new RollingVwap(24);
      let sum = 0;
      for (let i = 0; i < d.n; i++) sum += vwap.update(barOf(d, i)) ?? 0;
      return sum;
    },
    tulind: (d) => tulip('vwma', [d.close, d.volume], [24]),
    note: 'tulind: vwma (weighs the close, not the typical price); technicalindicators has none',
  },
];
