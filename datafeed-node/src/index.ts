export { Datafeed, DEFAULT_SIGNAL_TTL_MS, type DatafeedOptions, type DatafeedStats } from './datafeed.js';
export { runFeed, type FeedSource, type RunFeedOptions, type FeedResult } from './run-feed.js';
export { readCandleCsv, describeCsvFile, CSV_HEADER } from './csv-candles.js';
export { replayCandles } from './replay.js';
export { pollCandles } from './ccxt-poller.js';
export { syntheticCandles } from './synthetic.js';
export { FeedError, FEED_ERROR_CODES } from './errors.js';
