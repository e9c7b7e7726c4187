import { mkdir, open, stat, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { z } from 'zod';
import { candleProblem, type Candle } from '@appliance/trading-core';
import { encodeRecord } from './candle-record.js';
import { CandleStoreError } from './candle-store-error.js';
import {
  SYMBOL,
  TIMEFRAME,
  cutSeries,
  fsyncDir,
  gapBetween,
  lowerBound,
  readIfExists,
  readdirIfExists,
  sameCandle,
  scanSeries,
  seriesKey,
  seriesPath,
  timeframeMs,
  type AppendOutcome,
  type Gap,
  type Repair,
  type Series,
  type SeriesStats,
} from './candle-series.js';

/**
 * When an append is durable. `fsync` (the default): the file is fsynced before `append`
 * resolves, so a stored candle survives power loss, and a recorder may move its bus position
 * past it. `os`: the write is handed to the kernel and survives a killed process but not power
 * loss; for bulk loads where the source can be read again.
 */
export type Durability = 'fsync' | 'os';

export interface CandleStoreOptions {
  /** The data dir: series live in `<dir>/candles/<BASE-QUOTE>/<timeframe>.log`. */
  dir: string;
  logger: Logger;
  durability?: Durability;
}

export interface ReadRange {
  /** Open times, inclusive; unbounded when left out. */
  start?: number;
  end?: number;
}

/** The candle as it comes in: checked before anything is written. */
const CandleInput = z.object({
  time: z.number().int().nonnegative(),
  open: z.number(),
  high: z.number(),
  low: z.number(),
  close: z.number(),
  volume: z.number(),
});

/**
 * An append-only candle store, one file per (symbol, timeframe), for a single writer process.
 *
 * On open every file is read: a last record that is partial or fails its checksum (a crash
 * mid-write) is cut off, fsynced, logged and listed in `repairs`, never kept; an unreadable or
 * out-of-order record before the last one is not something a crash leaves, so the open fails
 * (E_CORRUPT) rather than dropping history silently. Gaps are derived from the records
 * themselves, on open and on every append, so they are as durable as the candles and cannot
 * disagree with them.
 *
 * Each series is held in memory once opened (a year of 1h candles is under 1 MB), so `read`
 * and the duplicate check touch no file. One process writes a store: two writers appending to
 * one file would interleave records.
 */
export class CandleStore {
  readonly #o: Required<CandleStoreOptions>;
  readonly #series = new Map<string, Series>();
  readonly #loading = new Map<string, Promise<Series>>();
  readonly #repairs: Repair[] = [];
  #closed = false;

  private constructor(o: CandleStoreOptions) {
    this.#o = { durability: 'fsync', ...o };
  }

  /** Opens the store at `o.dir`, scanning and repairing every series already there. */
  static async open(o: CandleStoreOptions): Promise<CandleStore> {
    const store = new CandleStore(o);
    try {
      await store.#loadAll(join(o.dir, 'candles'));
    } catch (err) {
      await store.close(); // the files of the series loaded before the failure
      throw err;
    }
    return store;
  }

  async #loadAll(root: string): Promise<void> {
    const o = this.#o;
    for (const pair of await readdirIfExists(root)) {
      const symbol = pair.replace('-', '/');
      for (const file of await readdirIfExists(join(root, pair))) {
        if (!file.endsWith('.log')) continue;
        const timeframe = file.slice(0, -'.log'.length);
        // Someone else's file in our folder: left alone rather than guessed at.
        if (!SYMBOL.test(symbol) || !TIMEFRAME.test(timeframe)) {
          o.logger.warn({ path: join(root, pair, file) }, 'candle store: not a series file, ignored');
          continue;
        }
        await this.#load(symbol, timeframe);
      }
    }
  }

  /** Torn tails cut off when the store was opened. */
  get repairs(): readonly Repair[] {
    return this.#repairs;
  }

  /** Every series held, as `{symbol, timeframe}`. */
  series(): { symbol: string; timeframe: string }[] {
    return [...this.#series.values()].map(({ symbol, timeframe }) => ({ symbol, timeframe }));
  }

  /**
   * Appends one candle to its series (see AppendOutcome for what is stored and what is
   * reported). Resolves once the candle is durable as `durability` says. Throws
   * CandleStoreError E_BAD_SERIES or E_BAD_CANDLE, having changed nothing.
   */
  async append(symbol: string, timeframe: string, candle: Candle): Promise<AppendOutcome> {
    this.#assertOpen();
    const parsed = CandleInput.safeParse(candle);
    const problem = parsed.success ? candleProblem(parsed.data) : parsed.error.issues[0]!.message;
    if (problem !== null)
      throw new CandleStoreError('E_BAD_CANDLE', `${symbol} ${timeframe} candle: ${problem}`);
    const { time, open, high, low, close, volume } = candle;
    const c: Candle = { time, open, high, low, close, volume };
    const s = await this.#seriesOf(symbol, timeframe);
    const run = s.tail.then(() => this.#append(s, c));
    s.tail = run.catch(() => undefined);
    return run;
  }

  /** The stored candles with open times in `range`, in time order. */
  async read(symbol: string, timeframe: string, range: ReadRange = {}): Promise<Candle[]> {
    this.#assertOpen();
    const s = this.#series.get(seriesKey(symbol, timeframe));
    if (!s) {
      seriesPath(symbol, timeframe); // a bad name is an error, a missing series is empty
      return [];
    }
    await s.tail;
    const from = range.start === undefined ? 0 : lowerBound(s.candles, range.start);
    const to = range.end === undefined ? s.candles.length : lowerBound(s.candles, range.end + 1);
    return s.candles.slice(from, to).map((c) => ({ ...c }));
  }

  /** The gaps of a series (or of every series), oldest first. */
  gaps(symbol?: string, timeframe?: string): Gap[] {
    const all = [...this.#series.values()].filter(
      (s) =>
        (symbol === undefined || s.symbol === symbol) &&
        (timeframe === undefined || s.timeframe === timeframe),
    );
    return all.flatMap((s) => s.gaps.map((g) => ({ ...g })));
  }

  /** The newest stored candle of a series, if any. */
  last(symbol: string, timeframe: string): Candle | undefined {
    const c = this.#series.get(seriesKey(symbol, timeframe))?.candles.at(-1);
    return c && { ...c };
  }

  stats(): SeriesStats[] {
    return [...this.#series.values()].map((s) => ({
      symbol: s.symbol,
      timeframe: s.timeframe,
      count: s.candles.length,
      ...(s.candles.length > 0 ? { first: s.candles[0]!.time, last: s.candles.at(-1)!.time } : {}),
      gaps: s.gaps.length,
      duplicates: s.duplicates,
      conflicts: s.conflicts,
      late: s.late,
      offGrid: s.offGrid,
    }));
  }

  /** Waits for appends under way, then closes every file. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const s of this.#series.values()) {
      await s.tail;
      await s.fh?.close();
      s.fh = undefined;
    }
  }

  /** The series, loaded once even when two appends ask for a new one at the same time. */
  #seriesOf(symbol: string, timeframe: string): Promise<Series> {
    const k = seriesKey(symbol, timeframe);
    const held = this.#series.get(k);
    if (held) return Promise.resolve(held);
    let loading = this.#loading.get(k);
    if (!loading) {
      loading = this.#load(symbol, timeframe).finally(() => this.#loading.delete(k));
      this.#loading.set(k, loading);
    }
    return loading;
  }

  async #append(s: Series, c: Candle): Promise<AppendOutcome> {
    const last = s.candles.at(-1);
    const about = { symbol: s.symbol, timeframe: s.timeframe, time: c.time };
    if (last && c.time <= last.time) {
      const i = lowerBound(s.candles, c.time);
      const held = s.candles[i];
      if (held?.time !== c.time) {
        s.late++;
        this.#o.logger.warn(
          { ...about, last: last.time },
          'candle store: late candle not stored (append-only)',
        );
        return { result: 'late' };
      }
      if (sameCandle(held, c)) {
        s.duplicates++;
        return { result: 'duplicate' };
      }
      s.conflicts++;
      this.#o.logger.warn(
        { ...about, stored: held, received: c },
        'candle store: conflicting candle, first kept',
      );
      return { result: 'conflict', stored: { ...held } };
    }
    if (last && (c.time - last.time) % s.step !== 0) {
      s.offGrid++;
      this.#o.logger.warn(
        { ...about, last: last.time },
        `candle store: not on the ${s.timeframe} grid, not stored`,
      );
      return { result: 'off-grid', last: last.time };
    }
    const fh = s.fh ?? (await this.#create(s));
    // One write call per record: a crash leaves at most this record partial, which open cuts off.
    await fh.write(encodeRecord(c));
    // fdatasync flushes the data and the file's new size (needed to read it back); the times
    // and other metadata fsync would add are not.
    if (this.#o.durability === 'fsync') await fh.datasync();
    s.candles.push(c);
    const gap = last ? gapBetween(s, last.time, c.time) : undefined;
    if (!gap) return { result: 'stored' };
    s.gaps.push(gap);
    this.#o.logger.warn(gap, `candle store: ${gap.missing} ${s.timeframe} candles missing`);
    return { result: 'stored', gap: { ...gap } };
  }

  /** Opens a series' file for appending, creating it and making its folder entries durable. */
  async #create(s: Series): Promise<FileHandle> {
    const dir = dirname(s.path);
    await mkdir(dir, { recursive: true });
    const existed = await stat(s.path).then(
      () => true,
      () => false,
    );
    s.fh = await open(s.path, 'a', 0o644);
    if (!existed) {
      // The new file's entry lives in its folder, and a new folder's in the one above.
      await fsyncDir(dir);
      await fsyncDir(dirname(dir));
      await fsyncDir(dirname(dirname(dir)));
    }
    return s.fh;
  }

  /** Reads a series' file into memory, cutting off a torn last record. */
  async #load(symbol: string, timeframe: string): Promise<Series> {
    const path = join(this.#o.dir, seriesPath(symbol, timeframe));
    const s: Series = {
      symbol,
      timeframe,
      step: timeframeMs(timeframe),
      path,
      candles: [],
      gaps: [],
      fh: undefined,
      tail: Promise.resolve(),
      duplicates: 0,
      conflicts: 0,
      late: 0,
      offGrid: 0,
    };
    const data = await readIfExists(path);
    if (data) {
      const kept = scanSeries(s, data);
      if (kept < data.length) {
        const repair = await cutSeries(s, data, kept);
        this.#repairs.push(repair);
        this.#o.logger.warn(repair, 'candle store: torn last record cut off (a crash mid-write)');
      }
      s.fh = await open(path, 'a', 0o644);
    }
    this.#series.set(seriesKey(symbol, timeframe), s);
    return s;
  }

  #assertOpen(): void {
    if (this.#closed) throw new CandleStoreError('E_CLOSED', 'the candle store is closed');
  }
}
