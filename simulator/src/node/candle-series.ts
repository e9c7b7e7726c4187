import { open, readdir, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { TIMEFRAME, timeframeMs as timeframeMsOf } from '@appliance/protocol';
import type { Candle } from '@appliance/trading-core';
import { decodeRecord } from './candle-record.js';
import { CandleStoreError } from './candle-store-error.js';

/**
 * One series of the candle store (candle-store.ts): its name and file (read, scanned for its
 * records, a torn tail cut off), its candles held in memory, the gaps between them, and what
 * became of each candle appended to it.
 */

/** A run of bars missing between two stored ones: the first and last missing open times. */
export interface Gap {
  symbol: string;
  timeframe: string;
  /** Open time of the first missing bar. */
  from: number;
  /** Open time of the last missing bar. */
  to: number;
  missing: number;
}

/** A torn last record found on open (a crash mid-write), cut off the file. */
export interface Repair {
  symbol: string;
  timeframe: string;
  path: string;
  /** Where the file now ends, and how many bytes were cut after it. */
  keptBytes: number;
  cutBytes: number;
  /** The cut bytes as text (at most 200 characters), for the operator. */
  cut: string;
}

/**
 * What became of one appended candle. The store only ever appends, and keeps the first candle
 * it stored for a bar:
 * - `stored`: later than every stored bar (with the gap it leaves, if any);
 * - `duplicate`: the very same OHLCV as the stored bar of that time (an at-least-once bus
 *   redelivers): ignored, not an error;
 * - `conflict`: a different OHLCV for a bar already stored: the first is kept, the new one is
 *   reported (a second publication of a bar is a fault upstream: datafeeds publish closed bars);
 * - `late`: not later than the last stored bar and none is stored at its time (it belongs in a
 *   gap, or before the first bar): an append-only file cannot take it; reported, the gap stays;
 * - `off-grid`: later, but not a whole number of timeframes after the last bar: reported.
 */
export type AppendOutcome =
  | { result: 'stored'; gap?: Gap }
  | { result: 'duplicate' }
  | { result: 'conflict'; stored: Candle }
  | { result: 'late' }
  | { result: 'off-grid'; last: number };

export interface SeriesStats {
  symbol: string;
  timeframe: string;
  count: number;
  first?: number;
  last?: number;
  gaps: number;
  duplicates: number;
  conflicts: number;
  late: number;
  offGrid: number;
}

export const SYMBOL = /^[A-Z0-9]{1,20}\/[A-Z0-9]{1,20}$/;
export { TIMEFRAME };

/** The length of one bar of `timeframe` in ms; E_BAD_SERIES for anything else than e.g. 1m, 4h, 1d. */
export function timeframeMs(timeframe: string): number {
  const ms = timeframeMsOf(timeframe);
  if (ms === undefined)
    throw new CandleStoreError('E_BAD_SERIES', `timeframe ${timeframe} is not like 1m, 4h or 1d`);
  return ms;
}

/** The file of a series, relative to the data dir; refuses names that could leave it. */
export function seriesPath(symbol: string, timeframe: string): string {
  if (!SYMBOL.test(symbol))
    throw new CandleStoreError('E_BAD_SERIES', `symbol ${symbol} is not BASE/QUOTE, e.g. BTC/USDT`);
  timeframeMs(timeframe);
  return join('candles', symbol.replace('/', '-'), `${timeframe}.log`);
}

export interface Series {
  symbol: string;
  timeframe: string;
  step: number;
  path: string;
  /** Every stored candle, in time order: a year of 1h bars is 8,760 of them, well under 1 MB. */
  candles: Candle[];
  gaps: Gap[];
  fh: FileHandle | undefined;
  /** Appends to one file run one after another; different series run side by side. */
  tail: Promise<unknown>;
  duplicates: number;
  conflicts: number;
  late: number;
  offGrid: number;
}

/** Fills `s` from the file's bytes; returns how many bytes hold whole, sound records. */
export function scanSeries(s: Series, data: Buffer): number {
  let at = 0;
  let line = 0;
  while (at < data.length) {
    line++;
    const nl = data.indexOf(0x0a, at);
    // No newline: the last record was being written when the process died.
    if (nl < 0) return at;
    const c = decodeRecord(data.toString('latin1', at, nl));
    const prev = s.candles.at(-1);
    const bad =
      c === null
        ? 'unreadable'
        : prev && c.time <= prev.time
          ? 'not after the record before it'
          : prev && (c.time - prev.time) % s.step !== 0
            ? `not on the ${s.timeframe} grid`
            : null;
    if (bad !== null) {
      // A crash tears only the last record; damage before it is not ours to drop silently.
      if (nl + 1 < data.length)
        throw new CandleStoreError(
          'E_CORRUPT',
          `${s.path}:${line}: record ${bad}; the records after it are kept on disk`,
        );
      return at;
    }
    if (prev) {
      const gap = gapBetween(s, prev.time, c!.time);
      if (gap) s.gaps.push(gap);
    }
    s.candles.push(c!);
    at = nl + 1;
  }
  return at;
}

/** Cuts a torn last record off a series' file: keeps its first `kept` bytes, fsynced. */
export async function cutSeries(s: Series, data: Buffer, kept: number): Promise<Repair> {
  const fh = await open(s.path, 'r+');
  try {
    await fh.truncate(kept);
    await fh.sync();
  } finally {
    await fh.close();
  }
  return {
    symbol: s.symbol,
    timeframe: s.timeframe,
    path: s.path,
    keptBytes: kept,
    cutBytes: data.length - kept,
    cut: data.toString('latin1', kept, Math.min(data.length, kept + 200)),
  };
}

export function gapBetween(s: Series, before: number, after: number): Gap | undefined {
  const missing = (after - before) / s.step - 1;
  if (missing < 1) return undefined;
  return { symbol: s.symbol, timeframe: s.timeframe, from: before + s.step, to: after - s.step, missing };
}

export function sameCandle(a: Candle, b: Candle): boolean {
  return (
    a.time === b.time &&
    a.open === b.open &&
    a.high === b.high &&
    a.low === b.low &&
    a.close === b.close &&
    a.volume === b.volume
  );
}

/** The index of the first candle with time >= `time`. */
export function lowerBound(candles: readonly Candle[], time: number): number {
  let lo = 0;
  let hi = candles.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (candles[mid]!.time < time) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export const seriesKey = (symbol: string, timeframe: string) => `${symbol}\n${timeframe}`;

export async function readdirIfExists(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

export async function readIfExists(path: string): Promise<Buffer | undefined> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    return await fh.readFile();
  } finally {
    await fh.close();
  }
}

export async function fsyncDir(dir: string): Promise<void> {
  const dh = await open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}
