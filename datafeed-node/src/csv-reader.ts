import { createReadStream, type ReadStream } from 'node:fs';
import type { Candle } from '@appliance/trading-core';
import { FastRowReader, readRowCarefully } from './csv-row.js';
import { FeedError } from './errors.js';

export const CSV_HEADER = 'time,open,high,low,close,volume';

/** A run of missing candles: none between `after` and `before`. */
export interface CandleGap {
  path: string;
  /** Line of the candle after the gap. */
  line: number;
  after: number;
  before: number;
  missing: number;
  timeframe: string;
}

export interface ReadCsvOptions {
  /** The file's timeframe: enables gap detection and the grid check. */
  timeframe?: string;
  /** Called for each gap; the read goes on. */
  onGap?: (gap: CandleGap) => void;
}

/** Bigger than the default 64 KiB: fewer chunks, fewer joins of a line split across two. */
const READ_CHUNK_BYTES = 1 << 20;
const LF = 10;
const CR = 13;
const EMPTY = Buffer.alloc(0);

/**
 * Where the complete lines of `b` end: after the last line break that cannot be the first half
 * of a \r\n split across two chunks. 0 when there is none yet.
 */
function completeLinesEnd(b: Buffer): number {
  const lf = b.lastIndexOf(LF);
  const cr = b.length >= 2 ? b.lastIndexOf(CR, b.length - 2) : -1;
  return Math.max(lf, cr) + 1;
}

const done = (): IteratorResult<Candle> => ({ done: true, value: undefined });

/**
 * readCandleCsv's iterator. An async generator would do, but it costs about as much per candle
 * as reading the row (a yield is several promise turns); this one answers `next()` from the
 * bytes already read with a resolved promise and awaits only for the next chunk of the file.
 * It keeps a generator's contract: calls to `next()` are served in order, the first error
 * ends it, and `return()` or `throw()` closes the file.
 */
export class CandleCsvReader implements AsyncGenerator<Candle, undefined> {
  readonly #path: string;
  readonly #o: ReadCsvOptions;
  readonly #tfMs: number | undefined;
  readonly #fast = new FastRowReader();
  #stream: ReadStream | undefined;
  #chunks: AsyncIterator<Buffer> | undefined;
  #b: Buffer = EMPTY;
  #p = 0;
  #limit = 0;
  #rest: Buffer = EMPTY;
  #eof = false;
  #finished = false;
  #lineNo = 0;
  #lastTime = -1;
  /** Calls of `next()` waiting for the file, and the last of them: later calls queue behind it. */
  #waiting = 0;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(path: string, o: ReadCsvOptions, tfMs: number | undefined) {
    this.#path = path;
    this.#o = o;
    this.#tfMs = tfMs;
  }

  next(): Promise<IteratorResult<Candle>> {
    if (this.#waiting === 0) {
      if (this.#finished) return Promise.resolve(done());
      try {
        const c = this.#row();
        if (c !== undefined) return Promise.resolve({ done: false, value: c });
      } catch (err) {
        return Promise.reject(this.#fail(err));
      }
    }
    // The count drops before the caller sees the result, so its next call can be served at once.
    this.#waiting++;
    const result = this.#queue
      .then(() => this.#nextAfterRead())
      .finally(() => {
        this.#waiting--;
      });
    this.#queue = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  async return(): Promise<IteratorResult<Candle>> {
    await this.#queue;
    this.#close();
    return done();
  }

  async throw(err: unknown): Promise<IteratorResult<Candle>> {
    await this.#queue;
    this.#close();
    throw err;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.return();
  }

  async #nextAfterRead(): Promise<IteratorResult<Candle>> {
    try {
      while (!this.#finished) {
        const c = this.#row();
        if (c !== undefined) return { done: false, value: c };
        if (this.#eof) {
          this.#close();
          break;
        }
        await this.#read();
      }
      return done();
    } catch (err) {
      throw this.#fail(err);
    }
  }

  /** The next chunk of the file, or the rest at its end; the first call opens it. */
  async #read(): Promise<void> {
    if (this.#chunks === undefined) {
      if (this.#o.timeframe !== undefined && this.#tfMs === undefined)
        throw new FeedError('E_FILE', `${this.#path}: unknown timeframe ${this.#o.timeframe}`);
      this.#stream = createReadStream(this.#path, { highWaterMark: READ_CHUNK_BYTES });
      this.#chunks = this.#stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    }
    const next = await this.#chunks.next();
    if (next.done) {
      this.#eof = true;
      this.#b = this.#rest;
      this.#limit = this.#rest.length;
    } else {
      this.#b = this.#rest.length === 0 ? next.value : Buffer.concat([this.#rest, next.value]);
      this.#limit = completeLinesEnd(this.#b);
      this.#rest = this.#b.subarray(this.#limit);
    }
    this.#p = 0;
  }

  /**
   * The next candle among the lines read so far, checked; undefined when they are used up.
   * Plain rows are read from the bytes by FastRowReader; anything it declines, good or bad, is
   * decoded (UTF-8) and read by readRowCarefully, which words every error.
   */
  #row(): Candle | undefined {
    const b = this.#b;
    const limit = this.#limit;
    const path = this.#path;
    while (this.#p < limit) {
      const p = this.#p;
      const lineNo = ++this.#lineNo;
      let c = lineNo === 1 ? undefined : this.#fast.read(b, p, limit);
      if (c !== undefined) {
        this.#p = this.#fast.next;
      } else {
        // The line as readline would give it: up to the first \n or \r, a \r\n counting as one.
        let e = p;
        while (e < limit && b[e] !== LF && b[e] !== CR) e++;
        const line = b.toString('utf8', p, e).trim();
        this.#p = e < limit && b[e] === CR && e + 1 < limit && b[e + 1] === LF ? e + 2 : e + 1;
        if (lineNo === 1) {
          if (line.replace(/^\uFEFF/, '') !== CSV_HEADER)
            throw new FeedError(
              'E_BAD_HEADER',
              `${path}:1: header must be "${CSV_HEADER}", got "${line.slice(0, 80)}"`,
            );
          continue;
        }
        if (line === '') continue;
        c = readRowCarefully(line, `${path}:${lineNo}`);
      }
      this.#check(c, lineNo);
      return c;
    }
    return undefined;
  }

  /** Times strictly increase and, with a timeframe, stay on its grid; gaps are reported. */
  #check(c: Candle, lineNo: number): void {
    const path = this.#path;
    const lastTime = this.#lastTime;
    if (c.time <= lastTime)
      throw new FeedError('E_NOT_SORTED', `${path}:${lineNo}: time ${c.time} does not follow ${lastTime}`);
    const tfMs = this.#tfMs;
    if (tfMs !== undefined && lastTime >= 0) {
      const step = c.time - lastTime;
      if (step % tfMs !== 0)
        throw new FeedError(
          'E_BAD_ROW',
          `${path}:${lineNo}: time ${c.time} is ${step} ms after the previous candle, not a whole number of ${this.#o.timeframe} candles (wrong --timeframe?)`,
        );
      if (step > tfMs)
        this.#o.onGap?.({
          path,
          line: lineNo,
          after: lastTime,
          before: c.time,
          missing: step / tfMs - 1,
          timeframe: this.#o.timeframe!,
        });
    }
    this.#lastTime = c.time;
  }

  #fail(err: unknown): FeedError {
    this.#close();
    return err instanceof FeedError
      ? err
      : new FeedError('E_FILE', `${this.#path}: ${(err as Error).message}`);
  }

  #close(): void {
    this.#finished = true;
    this.#b = EMPTY;
    this.#rest = EMPTY;
    this.#limit = 0;
    this.#stream?.destroy();
  }
}
