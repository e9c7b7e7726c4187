export {
  Datafeed,
  DEFAULT_SIGNAL_TTL_MS,
  type DatafeedOptions,
  type DatafeedStats,
  type StreamStats,
} from './datafeed.js';
export { DEFAULT_STRATEGY, DEFAULT_STREAM } from './stream-config.js';
export { planStreams, type FeedStream, type PlannedStream, type StreamChoice } from './streams.js';
export { runFeed, type FeedSource, type RunFeedOptions, type FeedResult } from './run-feed.js';
export {
  readCandleCsv,
  describeCsvFile,
  resolveReplayFiles,
  gapMessage,
  timeframeMs,
  CSV_HEADER,
  type CandleGap,
  type ReadCsvOptions,
  type ReplayFile,
} from './csv-candles.js';
export { feedCandleProblem, MIN_TIME_MS } from './candle-check.js';
export { replayCandles } from './replay.js';
export { pollCandles, DEFAULT_POLL_RETRY, type PollOptions, type PollStats } from './ccxt-poller.js';
export { syntheticCandles } from './synthetic.js';
export { FeedError, FEED_ERROR_CODES } from './errors.js';
export {
  Eligibility,
  MAX_CONTROL_RECORD_BYTES,
  type EligibilityGate,
  type EligibilityOptions,
  type EligibilityOutcome,
} from './eligibility.js';
export {
  HousePolicy,
  HOUSE_PROFILE,
  checkHouseBuy,
  type HeldHousePolicy,
  type HouseBuy,
  type HousePolicyOptions,
  type HousePolicyOutcome,
  type HousePolicySource,
  type HouseVerdict,
} from './house-policy.js';
export {
  FeedReportBuilder,
  FeedReporter,
  DEFAULT_REPORT_EVERY_MS,
  reportTtlMs,
  type FeedReporterOptions,
  type TakenReport,
} from './feed-reporter.js';
export {
  VenueMeter,
  DEFAULT_MAX_LATENCY_SAMPLES,
  p99,
  shortError,
  type VenueMeterOptions,
  type VenueWindow,
} from './venue-meter.js';
