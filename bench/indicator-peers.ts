/**
 * The peers' side of the indicator bench: technicalindicators (batch `calculate`, streaming
 * `nextValue`) and tulind (batch, native C) for each indicator they have. Loaded in a process of
 * its own, which has loaded neither trading-core nor the other side.
 */
import ti from 'technicalindicators';
// @ts-expect-error tulind ships no types; its shape as used here is declared below.
import tulindModule from 'tulind';
import { type Bar, barOf, type IndicatorName, type Plain, type Run } from './indicator-data.js';

/** The peers' ways of computing one indicator, each returning a checksum; absent where a peer lacks it. */
export interface PeerContestant {
  tiBatch?: Run<Plain>;
  tiStream?: Run<Plain>;
  tulind?: Run<Plain>;
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

/** technicalindicators' typings say some `nextValue`s take a number; their code reads a candle. */
function candleStream<T>(next: (x: never) => T): (c: Bar) => T {
  return next as (c: Bar) => T;
}

export const PEERS: Record<IndicatorName, PeerContestant> = {
  'SMA(20)': {
    tiBatch: (d) => ti.SMA.calculate({ period: 20, values: d.close }).at(-1)!,
    tiStream: (d) => {
      const sma = new ti.SMA({ period: 20, values: [] });
      let sum = 0;
      for (let i = 0; i < d.n; i++) sum += sma.nextValue(d.close[i]!) ?? 0;
      return sum;
    },
    tulind: (d) => tulip('sma', [d.close], [20]),
  },
  'EMA(20)': {
    tiBatch: (d) => ti.EMA.calculate({ period: 20, values: d.close }).at(-1)!,
    tiStream: (d) => {
      const ema = new ti.EMA({ period: 20, values: [] });
      let sum = 0;
      for (let i = 0; i < d.n; i++) sum += ema.nextValue(d.close[i]!) ?? 0;
      return sum;
    },
    tulind: (d) => tulip('ema', [d.close], [20]),
  },
  'RSI(14)': {
    tiBatch: (d) => ti.RSI.calculate({ period: 14, values: d.close }).at(-1)!,
    tiStream: (d) => {
      const rsi = new ti.RSI({ period: 14, values: [] });
      let sum = 0;
      for (let i = 0; i < d.n; i++) sum += rsi.nextValue(d.close[i]!) ?? 0;
      return sum;
    },
    tulind: (d) => tulip('rsi', [d.close], [14]),
  },
  'MACD(12,26,9)': {
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
  'Bollinger(20,2)': {
    tiBatch: (d) => ti.BollingerBands.calculate({ period: 20, stdDev: 2, values: d.close }).at(-1)!.upper,
    tiStream: (d) => {
      const bb = new ti.BollingerBands({ period: 20, stdDev: 2, values: [] });
      let sum = 0;
      for (let i = 0; i < d.n; i++) sum += bb.nextValue(d.close[i]!)?.upper ?? 0;
      return sum;
    },
    tulind: (d) => tulip('bbands', [d.close], [20, 2]),
  },
  TrueRange: {
    tiBatch: (d) => ti.TrueRange.calculate({ high: d.high, low: d.low, close: d.close }).at(-1)!,
    tiStream: (d) => {
      const tr = new ti.TrueRange({ high: [], low: [], close: [] });
      let sum = 0;
      for (let i = 0; i < d.n; i++) sum += tr.nextValue(barOf(d, i)) ?? 0;
      return sum;
    },
    tulind: (d) => tulip('tr', [d.high, d.low, d.close], []),
  },
  'ATR(14)': {
    tiBatch: (d) => ti.ATR.calculate({ period: 14, high: d.high, low: d.low, close: d.close }).at(-1)!,
    tiStream: (d) => {
      const atr = new ti.ATR({ period: 14, high: [], low: [], close: [] });
      let sum = 0;
      for (let i = 0; i < d.n; i++) sum += atr.nextValue(barOf(d, i)) ?? 0;
      return sum;
    },
    tulind: (d) => tulip('atr', [d.high, d.low, d.close], [14]),
  },
  'ADX(14)': {
    tiBatch: (d) => ti.ADX.calculate({ period: 14, high: d.high, low: d.low, close: d.close }).at(-1)!.adx,
    tiStream: (d) => {
      const adx = new ti.ADX({ period: 14, high: [], low: [], close: [] });
      const next = candleStream(adx.nextValue.bind(adx));
      let sum = 0;
      for (let i = 0; i < d.n; i++) sum += next(barOf(d, i))?.adx ?? 0;
      return sum;
    },
    tulind: (d) => tulip('adx', [d.high, d.low, d.close], [14]),
  },
  'Donchian(20)': {
    tulind: (d) => tulip('max', [d.high], [20]) + tulip('min', [d.low], [20]),
  },
  'VWAP session': {
    tiBatch: (d) => ti.VWAP.calculate({ high: d.high, low: d.low, close: d.close, volume: d.volume }).at(-1)!,
    tiStream: (d) => {
      const vwap = new ti.VWAP({ high: [], low: [], close: [], volume: [] });
      const next = candleStream(vwap.nextValue.bind(vwap));
      let sum = 0;
      for (let i = 0; i < d.n; i++) sum += next(barOf(d, i)) ?? 0;
      return sum;
    },
  },
  'VWAP rolling(24)': {
    tulind: (d) => tulip('vwma', [d.close, d.volume], [24]),
  },
};
