/**
 * Bench-only baseline: `readCandleCsv` as it was before issue #9 (readline, a regex and
 * `Number` per field, one object check per row), copied from
 * `git show d9b6892:datafeed-node/src/csv-candles.ts` and cut down to the reader. The csv suite
 * measures the current reader against it, and datafeed-node's tests check both read the same
 * files to the same candles and the same errors. Not used by any process.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Candle } from '@appliance/trading-core';
import { feedCandleProblem } from '../datafeed-node/src/candle-check.js';
import type { ReadCsvOptions } from '../datafeed-node/src/csv-candles.js';
import { FeedError } from '../datafeed-node/src/errors.js';

const CSV_HEADER = 'time,open,high,low,close,volume';

const TIMEFRAME = /^(\d+)([mhd])$/;
const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** `1m`, `15m`, `1h`, `4h`, `1d` in milliseconds; undefined for anything else. */
function timeframeMs(timeframe: string): number | undefined {
  const m = TIMEFRAME.exec(timeframe);
  if (!m || Number(m[1]) <= 0) return undefined;
  return Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
}

const FIELDS = ['time', 'open', 'high', 'low', 'close', 'volume'] as const;
// Plain decimal only: Number() also takes 0x1A, 0b11, 0o7, Infinity and surrounding spaces.
const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

function parseNumber(text: string | undefined, field: string, where: string): number {
  // Number('') is 0: an empty field must not become a zero price.
  if (text === undefined || text.trim() === '') return Number.NaN;
  if (DECIMAL.test(text)) return Number(text);
  if (Number.isFinite(Number(text)))
    throw new FeedError('E_BAD_ROW', `${where}: ${field} "${text.slice(0, 40)}" is not a decimal number`);
  return Number.NaN;
}

/**
 * Reads a candle CSV row by row. Any bad row stops the read with an error naming the file and
 * line, because trading on silently skipped or misread data is worse than not trading. Missing
 * candles (a gap in the timeframe's grid) are reported through `onGap` and the read goes on:
 * exchanges do have outages, and the real data has such gaps.
 */
export async function* readCandleCsvBaseline(path: string, o: ReadCsvOptions = {}): AsyncGenerator<Candle> {
  const tfMs = o.timeframe === undefined ? undefined : timeframeMs(o.timeframe);
  if (o.timeframe !== undefined && tfMs === undefined)
    throw new FeedError('E_FILE', `${path}: unknown timeframe ${o.timeframe}`);
  const stream = createReadStream(path, { encoding: 'utf8' });
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  let lineNo = 0;
  let lastTime = -1;
  try {
    for await (const raw of lines) {
      lineNo++;
      const line = raw.trim();
      if (lineNo === 1) {
        if (line.replace(/^\uFEFF/, '') !== CSV_HEADER)
          throw new FeedError(
            'E_BAD_HEADER',
            `${path}:1: header must be "${CSV_HEADER}", got "${line.slice(0, 80)}"`,
          );
        continue;
      }
      if (line === '') continue;
      const where = `${path}:${lineNo}`;
      const f = line.split(',');
      if (f.length !== 6) throw new FeedError('E_BAD_ROW', `${where}: expected 6 fields, got ${f.length}`);
      const [time, open, high, low, close, volume] = FIELDS.map((k, i) => parseNumber(f[i], k, where)) as [
        number,
        number,
        number,
        number,
        number,
        number,
      ];
      const c: Candle = { time, open, high, low, close, volume };
      const problem = feedCandleProblem(c);
      if (problem) throw new FeedError('E_BAD_ROW', `${where}: ${problem}`);
      if (c.time <= lastTime)
        throw new FeedError('E_NOT_SORTED', `${where}: time ${c.time} does not follow ${lastTime}`);
      if (tfMs !== undefined && lastTime >= 0) {
        const step = c.time - lastTime;
        if (step % tfMs !== 0)
          throw new FeedError(
            'E_BAD_ROW',
            `${where}: time ${c.time} is ${step} ms after the previous candle, not a whole number of ${o.timeframe} candles (wrong --timeframe?)`,
          );
        if (step > tfMs)
          o.onGap?.({
            path,
            line: lineNo,
            after: lastTime,
            before: c.time,
            missing: step / tfMs - 1,
            timeframe: o.timeframe!,
          });
      }
      lastTime = c.time;
      yield c;
    }
  } catch (err) {
    if (err instanceof FeedError) throw err;
    throw new FeedError('E_FILE', `${path}: ${(err as Error).message}`);
  } finally {
    lines.close();
    stream.destroy();
  }
}
