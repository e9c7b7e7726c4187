import { errorClass } from '@appliance/errors';

export const FEED_ERROR_CODES = {
  E_FILE: 'the market data file cannot be read',
  E_BAD_HEADER: 'the CSV header is not time,open,high,low,close,volume',
  E_BAD_ROW: 'a CSV row is not a sound candle',
  E_NOT_SORTED: 'candle times do not strictly increase',
  E_SOURCE: 'the live market data source failed',
  E_BAD_CANDLE: 'a candle handed to the feed is not sound, or not after the previous one of its symbol',
  E_STREAMS: 'the streams cannot run on the symbols fed: a name twice, or a traded or input symbol not fed',
} as const;
export type FeedErrorCode = keyof typeof FEED_ERROR_CODES;

export class FeedError extends errorClass<FeedErrorCode>('FeedError', FEED_ERROR_CODES) {}
