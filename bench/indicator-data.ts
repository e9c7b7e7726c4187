/**
 * What both sides of the indicator bench share: the indicators' names, the candle columns and
 * how they are loaded. It imports no indicator library, so a process that loads it and one side
 * (`indicator-ours.ts` or `indicator-peers.ts`) has loaded that side's library alone.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Every indicator the bench times, in table order. */
export const INDICATORS = [
  'SMA(20)',
  'EMA(20)',
  'RSI(14)',
  'MACD(12,26,9)',
  'Bollinger(20,2)',
  'TrueRange',
  'ATR(14)',
  'ADX(14)',
  'Donchian(20)',
  'VWAP session',
  'VWAP rolling(24)',
] as const;
export type IndicatorName = (typeof INDICATORS)[number];

/** What a peer computes when it is not exactly the indicator. */
export const NOTES: Partial<Record<IndicatorName, string>> = {
  'Donchian(20)': 'tulind: max of highs + min of lows (two calls); technicalindicators has no Donchian',
  'VWAP session': 'technicalindicators: one cumulative VWAP (no session reset); tulind has none',
  'VWAP rolling(24)': 'tulind: vwma (weighs the close, not the typical price); technicalindicators has none',
};

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

/** A bar as both sides' streaming forms take it: the same fields for ours and the peers. */
export interface Bar {
  time: number;
  high: number;
  low: number;
  close: number;
  volume: number;
}

/**
 * A new bar object per streaming update, as a live feed hands them over, built the same way on
 * both sides: what the engine makes of it (it may never allocate one) is part of each side's
 * cost. technicalindicators' streaming forms keep the previous tick object, so each must be new.
 */
export const barOf = (d: Columns | Plain, i: number): Bar => ({
  time: d.time[i]!,
  high: d.high[i]!,
  low: d.low[i]!,
  close: d.close[i]!,
  volume: d.volume[i]!,
});

/** One way of computing an indicator over the data, returning a checksum so no work can be dropped. */
export type Run<D> = (d: D) => number;

const HOUR = 3_600_000;

/**
 * Every `*.csv` in `dir` with the exchange header, concatenated, then repeated up to `values` bars
 * (without it, each bar once).
 */
export function loadColumns(
  dir: string,
  values?: number,
): { columns: Columns; files: string[]; bars: number } {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.csv'))
    .sort();
  const rows: number[][] = [];
  const used: string[] = [];
  for (const f of files) {
    const [header, ...lines] = readFileSync(join(dir, f), 'utf8').trim().split('\n');
    if (header !== 'time,open,high,low,close,volume') continue;
    used.push(f);
    for (const line of lines) rows.push(line.split(',').map(Number));
  }
  if (rows.length === 0) throw new Error(`indicators bench: no candle CSVs in ${dir}`);
  const n = values ?? rows.length;
  const c: Columns = {
    n,
    time: new Float64Array(n),
    high: new Float64Array(n),
    low: new Float64Array(n),
    close: new Float64Array(n),
    volume: new Float64Array(n),
  };
  // Times are renumbered hour by hour, so the concatenated files stay one ordered series (the
  // session VWAP refuses time going backwards) with sessions of 24 bars.
  for (let i = 0; i < n; i++) {
    const r = rows[i % rows.length]!;
    c.time[i] = i * HOUR;
    c.high[i] = r[2]!;
    c.low[i] = r[3]!;
    c.close[i] = r[4]!;
    c.volume[i] = r[5]!;
  }
  return { columns: c, files: used, bars: rows.length };
}

/** The first `n` bars (views, no copy). */
export function prefix(c: Columns, n: number): Columns {
  return {
    n,
    time: c.time.subarray(0, n),
    high: c.high.subarray(0, n),
    low: c.low.subarray(0, n),
    close: c.close.subarray(0, n),
    volume: c.volume.subarray(0, n),
  };
}

export const plain = (c: Columns): Plain => ({
  n: c.n,
  time: Array.from(c.time),
  high: Array.from(c.high),
  low: Array.from(c.low),
  close: Array.from(c.close),
  volume: Array.from(c.volume),
});
