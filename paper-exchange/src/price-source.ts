import { readCandleCsv, timeframeMs, type ReplayFile } from '@appliance/datafeed-node';
import type { Candle } from '@appliance/trading-core';
import type { PaperExchange } from './paper-exchange.js';

/** What a standalone paper exchange was priced from, for its ready line. */
export interface PriceSourceReport {
  symbol: string;
  /** `file` for a candle CSV, `seed` for a fixed --price. */
  from: 'file' | 'seed';
  candles: number;
  close: number;
}

/**
 * Feeds every candle of each CSV to the exchange, oldest first: klines and the 24h ticker then
 * show the history, and the last close is the price market orders fill at. Rows are checked
 * as the datafeed's replay checks them (a bad row throws FeedError naming file:line).
 */
export async function feedCandleFiles(exchange: PaperExchange, files: readonly ReplayFile[]) {
  const report: PriceSourceReport[] = [];
  for (const file of files) {
    let last: Candle | undefined;
    let candles = 0;
    for await (const candle of readCandleCsv(file.path, { timeframe: file.timeframe })) {
      exchange.onCandle(file.symbol, candle);
      last = candle;
      candles++;
    }
    if (last) report.push({ symbol: file.symbol, from: 'file', candles, close: last.close });
  }
  return report;
}

/**
 * A flat bar at `price` for the interval `now` falls in: a fixed price to trade against when
 * there is no candle file. Newer than any file's candles, so it wins over them.
 */
export function seedPrice(
  exchange: PaperExchange,
  symbol: string,
  price: number,
  now: number,
  intervalMs: number,
): PriceSourceReport {
  const time = Math.floor(now / intervalMs) * intervalMs;
  exchange.onCandle(symbol, { time, open: price, high: price, low: price, close: price, volume: 0 });
  return { symbol, from: 'seed', candles: 1, close: price };
}

/** The bar length of a set of candle files (all of one timeframe); undefined with none. */
export function filesIntervalMs(files: readonly ReplayFile[]): number | undefined {
  const first = files[0];
  return first === undefined ? undefined : timeframeMs(first.timeframe);
}
