import { basename } from 'node:path';
import { timeframeMs } from '@appliance/protocol';
import type { Candle } from '@appliance/trading-core';
import { CandleCsvReader, type CandleGap, type ReadCsvOptions } from './csv-reader.js';
import { FeedError } from './errors.js';

export { CSV_HEADER, type CandleGap, type ReadCsvOptions } from './csv-reader.js';

/** Re-exported for the datafeed's users (the paper exchange, the simulator's workers). */
export { timeframeMs };

/**
 * `binance_BTC-USDT_1h.csv` names BTC/USDT on 1h. Other names need `--symbol` and
 * `--timeframe` (see `resolveReplayFiles`).
 */
export function describeCsvFile(path: string): { symbol: string; timeframe: string } | undefined {
  const m = /^[a-z0-9]+_([A-Z0-9]+)-([A-Z0-9]+)_(\d+[mhd])\.csv$/.exec(basename(path));
  return m ? { symbol: `${m[1]}/${m[2]}`, timeframe: m[3]! } : undefined;
}

export interface ReplayFile {
  path: string;
  symbol: string;
  timeframe: string;
}

/**
 * Symbol and timeframe of each replay file. `symbol` (`--symbol`) is for a single file only: with
 * several files each one's symbol comes from its name, so `--symbol` is refused. `timeframe`
 * (`--timeframe`) applies to every file. A name that says otherwise than an option is refused,
 * and so are files of different timeframes. Throws FeedError E_FILE.
 */
export function resolveReplayFiles(
  files: string[],
  o: { symbol?: string; timeframe?: string } = {},
): ReplayFile[] {
  if (files.length === 0) throw new FeedError('E_FILE', 'no replay files given');
  if (o.symbol !== undefined && files.length > 1)
    throw new FeedError(
      'E_FILE',
      `--symbol ${o.symbol} names the pair of one file, but ${files.length} files were given: replay one file per --symbol, or name each file like binance_BTC-USDT_1h.csv`,
    );
  if (o.symbol !== undefined && !/^[A-Z0-9]+\/[A-Z0-9]+$/.test(o.symbol))
    throw new FeedError('E_FILE', `--symbol ${o.symbol}: expected BASE/QUOTE, e.g. BTC/USDT`);
  if (o.timeframe !== undefined && timeframeMs(o.timeframe) === undefined)
    throw new FeedError('E_FILE', `--timeframe ${o.timeframe}: expected e.g. 1m, 15m, 1h, 4h or 1d`);
  const out = files.map((path) => {
    const named = describeCsvFile(path);
    const symbol = o.symbol ?? named?.symbol;
    const timeframe = o.timeframe ?? named?.timeframe;
    if (symbol === undefined || timeframe === undefined)
      throw new FeedError(
        'E_FILE',
        `${path}: cannot tell ${symbol === undefined ? 'symbol' : 'timeframe'} from the name (expected e.g. binance_BTC-USDT_1h.csv); give ${symbol === undefined ? '--symbol' : '--timeframe'}`,
      );
    if (named && named.symbol !== symbol)
      throw new FeedError('E_FILE', `${path}: the name says ${named.symbol}, --symbol says ${symbol}`);
    if (named && named.timeframe !== timeframe)
      throw new FeedError(
        'E_FILE',
        `${path}: the name says ${named.timeframe}, --timeframe says ${timeframe}`,
      );
    return { path, symbol, timeframe };
  });
  const timeframes = new Set(out.map((d) => d.timeframe));
  if (timeframes.size > 1)
    throw new FeedError('E_FILE', `replay files mix timeframes: ${[...timeframes].join(', ')}`);
  const symbols = out.map((d) => d.symbol);
  const twice = symbols.find((s, i) => symbols.indexOf(s) !== i);
  if (twice !== undefined) throw new FeedError('E_FILE', `two replay files are both ${twice}`);
  return out;
}

/**
 * Reads a candle CSV row by row. Any bad row stops the read with an error naming the file and
 * line, because trading on silently skipped or misread data is worse than not trading. Missing
 * candles (a gap in the timeframe's grid) are reported through `onGap` and the read goes on:
 * exchanges do have outages, and the real data has such gaps.
 *
 * Lines are split as readline splits them (\n, \r\n or a lone \r). Each row is checked before
 * it is handed out: plain rows are read straight from the bytes (`FastRowReader`); anything
 * else, good or bad, by `readRowCarefully`, which words every error, so the fast path changes
 * the speed and nothing else. See `CandleCsvReader`.
 */
export function readCandleCsv(path: string, o: ReadCsvOptions = {}): AsyncGenerator<Candle> {
  return new CandleCsvReader(path, o, o.timeframe === undefined ? undefined : timeframeMs(o.timeframe));
}

/** The warning logged for a gap: file, the two times, and how many candles are missing. */
export function gapMessage(g: CandleGap): string {
  const iso = (t: number) => new Date(t).toISOString();
  return `${g.path}:${g.line}: gap: ${g.missing} ${g.timeframe} candle${g.missing === 1 ? '' : 's'} missing between ${iso(g.after)} and ${iso(g.before)}; replay goes on`;
}
