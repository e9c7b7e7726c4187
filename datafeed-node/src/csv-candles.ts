import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import { createInterface } from 'node:readline';
import { candleProblem, type Candle } from '@appliance/trading-core';
import { FeedError } from './errors.js';

export const CSV_HEADER = 'time,open,high,low,close,volume';

/** `binance_BTC-USDT_1h.csv` names BTC/USDT on 1h; other names need --symbol. */
export function describeCsvFile(path: string): { symbol: string; timeframe: string } | undefined {
  const m = /^[a-z0-9]+_([A-Z0-9]+)-([A-Z0-9]+)_(\d+[mhd])\.csv$/.exec(basename(path));
  return m ? { symbol: `${m[1]}/${m[2]}`, timeframe: m[3]! } : undefined;
}

function parseNumber(text: string | undefined): number {
  // Number('') is 0: an empty field must not become a zero price.
  return text === undefined || text.trim() === '' ? Number.NaN : Number(text);
}

/**
 * Reads a candle CSV row by row. Any bad row stops the read with an error naming the file and
 * line, because trading on silently skipped or misread data is worse than not trading.
 */
export async function* readCandleCsv(path: string): AsyncGenerator<Candle> {
  const stream = createReadStream(path, { encoding: 'utf8' });
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  let lineNo = 0;
  let lastTime = -1;
  try {
    for await (const raw of lines) {
      lineNo++;
      const line = raw.trim();
      if (lineNo === 1) {
        if (line !== CSV_HEADER)
          throw new FeedError(
            'E_BAD_HEADER',
            `${path}:1: header must be "${CSV_HEADER}", got "${line.slice(0, 80)}"`,
          );
        continue;
      }
      if (line === '') continue;
      const f = line.split(',');
      if (f.length !== 6)
        throw new FeedError('E_BAD_ROW', `${path}:${lineNo}: expected 6 fields, got ${f.length}`);
      const c: Candle = {
        time: parseNumber(f[0]),
        open: parseNumber(f[1]),
        high: parseNumber(f[2]),
        low: parseNumber(f[3]),
        close: parseNumber(f[4]),
        volume: parseNumber(f[5]),
      };
      const problem = candleProblem(c);
      if (problem) throw new FeedError('E_BAD_ROW', `${path}:${lineNo}: ${problem}`);
      if (c.time <= lastTime)
        throw new FeedError('E_NOT_SORTED', `${path}:${lineNo}: time ${c.time} does not follow ${lastTime}`);
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
