import { mkdir, open, readdir, stat, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { z } from 'zod';
import { errorClass } from '@appliance/errors';
import { candleProblem, type Candle } from '@appliance/trading-core';

/** Every way the candle store can fail, as a stable code with its plain meaning. */
export const CANDLE_STORE_ERROR_CODES = {
  E_BAD_SERIES: 'the symbol or timeframe is not one the store can name a file after',
  E_BAD_CANDLE: 'the candle is impossible (not finite, high below low, ...): nothing was stored',
  E_CORRUPT: 'a record before the last one is unreadable or out of order: the file needs a person',
  E_CLOSED: 'the store is closed',
} as const;
export type CandleStoreErrorCode = keyof typeof CANDLE_STORE_ERROR_CODES;

export class CandleStoreError extends errorClass('CandleStoreError', CANDLE_STORE_ERROR_CODES) {
  constructor(code: CandleStoreErrorCode, message?: string) {
    super(code, message);
  }
}

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

export interface ReadRange {
  /** Open times, inclusive; unbounded when left out. */
  start?: number;
  end?: number;
}

const SYMBOL = /^[A-Z0-9]{1,20}\/[A-Z0-9]{1,20}$/;
const TIMEFRAME = /^([1-9]\d{0,3})([mhd])$/;
const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** The candle as it comes in: checked before anything is written. */
const CandleInput = z.object({
  time: z.number().int().nonnegative(),
  open: z.number(),
  high: z.number(),
  low: z.number(),
  close: z.number(),
  volume: z.number(),
});

/** The length of one bar of `timeframe` in ms; E_BAD_SERIES for anything else than e.g. 1m, 4h, 1d. */
function timeframeMs(timeframe: string): number {
  const m = TIMEFRAME.exec(timeframe);
  if (!m) throw new CandleStoreError('E_BAD_SERIES', `timeframe ${timeframe} is not like 1m, 4h or 1d`);
  return Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
}

/** The file of a series, relative to the data dir; refuses names that could leave it. */
export function seriesPath(symbol: string, timeframe: string): string {
  if (!SYMBOL.test(symbol))
    throw new CandleStoreError('E_BAD_SERIES', `symbol ${symbol} is not BASE/QUOTE, e.g. BTC/USDT`);
  timeframeMs(timeframe);
  return join('candles', symbol.replace('/', '-'), `${timeframe}.log`);
}

/**
 * One record per line: `time,open,high,low,close,volume*crc\n`, numbers as JavaScript prints
 * them (they read back to the same double), crc the CRC-32 of what precedes `*` in 8 hex digits.
 * The checksum catches a tail the file system filled with zeros or old blocks after power loss,
 * which a newline alone would not.
 */
export function encodeRecord(c: Candle): string {
  const body = `${c.time},${c.open},${c.high},${c.low},${c.close},${c.volume}`;
  return `${body}*${crc32hex(body)}\n`;
}

/** The candle of one line (without its newline), or null when it is not a whole sound record. */
function decodeRecord(line: string): Candle | null {
  const star = line.lastIndexOf('*');
  if (star < 0) return null;
  const body = line.slice(0, star);
  if (line.slice(star + 1) !== crc32hex(body)) return null;
  const parts = body.split(',');
  if (parts.length !== 6 || parts.some((p) => p === '')) return null;
  const [time, open, high, low, close, volume] = parts.map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const c = { time, open, high, low, close, volume };
  return candleProblem(c) === null ? c : null;
}

interface Series {
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
    const s = this.#series.get(key(symbol, timeframe));
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
    const c = this.#series.get(key(symbol, timeframe))?.candles.at(-1);
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
    const k = key(symbol, timeframe);
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
      const kept = this.#scan(s, data);
      if (kept < data.length) await this.#cut(s, data, kept);
      s.fh = await open(path, 'a', 0o644);
    }
    this.#series.set(key(symbol, timeframe), s);
    return s;
  }

  /** Fills `s` from the file's bytes; returns how many bytes hold whole, sound records. */
  #scan(s: Series, data: Buffer): number {
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

  async #cut(s: Series, data: Buffer, kept: number): Promise<void> {
    const fh = await open(s.path, 'r+');
    try {
      await fh.truncate(kept);
      await fh.sync();
    } finally {
      await fh.close();
    }
    const repair: Repair = {
      symbol: s.symbol,
      timeframe: s.timeframe,
      path: s.path,
      keptBytes: kept,
      cutBytes: data.length - kept,
      cut: data.toString('latin1', kept, Math.min(data.length, kept + 200)),
    };
    this.#repairs.push(repair);
    this.#o.logger.warn(repair, 'candle store: torn last record cut off (a crash mid-write)');
  }

  #assertOpen(): void {
    if (this.#closed) throw new CandleStoreError('E_CLOSED', 'the candle store is closed');
  }
}

function gapBetween(s: Series, before: number, after: number): Gap | undefined {
  const missing = (after - before) / s.step - 1;
  if (missing < 1) return undefined;
  return { symbol: s.symbol, timeframe: s.timeframe, from: before + s.step, to: after - s.step, missing };
}

function sameCandle(a: Candle, b: Candle): boolean {
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
function lowerBound(candles: readonly Candle[], time: number): number {
  let lo = 0;
  let hi = candles.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (candles[mid]!.time < time) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const key = (symbol: string, timeframe: string) => `${symbol}\n${timeframe}`;

async function readdirIfExists(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

async function readIfExists(path: string): Promise<Buffer | undefined> {
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

async function fsyncDir(dir: string): Promise<void> {
  const dh = await open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (IEEE) of an ASCII string in 8 hex digits; node:zlib's crc32 needs Node 22. */
function crc32hex(text: string): string {
  let crc = 0xffffffff;
  for (let i = 0; i < text.length; i++) crc = CRC_TABLE[(crc ^ text.charCodeAt(i)) & 0xff]! ^ (crc >>> 8);
  return ((crc ^ 0xffffffff) >>> 0).toString(16).padStart(8, '0');
}
