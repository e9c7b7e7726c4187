// What a datafeed reports to the circuit breaker.
import { z } from 'zod';
import { TIMEFRAME } from '../timeframe.js';
import { epochMs, kid, sig, symbol } from './fields.js';
import { MAX_TTL_MS, PROTOCOL_VERSION } from './limits.js';

/** Most symbols one feed report may name with their newest candle. */
export const MAX_FEED_REPORT_CANDLES = 1000;
/** Longest venue error message a feed report may carry. */
export const MAX_FEED_REPORT_ERROR_CHARS = 200;
/** Longest period one feed report may cover, and its highest latency: a day. */
export const MAX_FEED_REPORT_PERIOD_MS = 24 * 60 * 60 * 1000;

const count = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const money = z.number().finite().nonnegative();

/** How the venue answered the datafeed's calls over the period (ccxt calls, one venue). */
const feedVenue = z
  .strictObject({
    /** The ccxt exchange id (`binance`), or `replay` when the feed reads files and calls nothing. */
    name: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'venue: lowercase letters, digits, . _ -'),
    /** Calls made in the period (fetchOHLCV, fetchTicker, loadMarkets, ...). */
    requests: count,
    /** Those of them that threw. */
    errors: count,
    /** 99th percentile latency of the calls that succeeded; null when none did. */
    latencyP99Ms: z.number().nonnegative().max(MAX_FEED_REPORT_PERIOD_MS).nullable(),
    /** The message of the period's last failed call, shortened, without URLs. */
    lastError: z.string().max(MAX_FEED_REPORT_ERROR_CHARS).optional(),
  })
  .refine((v) => v.errors <= v.requests, { path: ['errors'], message: 'more errors than requests' });

/** The newest closed candle the datafeed has of a symbol, and when it received it. */
const feedCandle = z.strictObject({
  timeframe: z.string().regex(TIMEFRAME),
  /** The bar's open time. */
  time: epochMs,
  /** When the datafeed received it (its clock). */
  receivedAt: epochMs,
});

/** The house virtual portfolio, summed over the datafeed's streams. */
const feedHouse = z
  .strictObject({ equity: money, peak: money })
  .refine((h) => h.peak >= h.equity, { path: ['peak'], message: 'peak is below equity' });

/**
 * What a datafeed saw over one period, for the circuit breaker: its venue's health, the freshness
 * of its candles and its house portfolio. Signed with the key that signs its candles (domain
 * `feed-report`), and valid only within `ts + ttlMs` like a control message, so a report held
 * back on the bus cannot mask an outage that came after it. See `protocol/src/feed-report.ts`.
 */
export const UnsignedFeedReport = z.strictObject({
  v: z.literal(PROTOCOL_VERSION),
  /** Derived from (origin, ts): see `feedReportId`. */
  id: z.string().regex(/^[0-9a-f]{32}$/),
  origin: z.string().min(1).max(64),
  /** When the datafeed signed it (its clock). */
  ts: epochMs,
  ttlMs: z.number().int().positive().max(MAX_TTL_MS),
  /** The length of the period the counts cover, ending at `ts`. */
  periodMs: z.number().int().positive().max(MAX_FEED_REPORT_PERIOD_MS),
  venue: feedVenue,
  candles: z.record(symbol, feedCandle).refine((c) => Object.keys(c).length <= MAX_FEED_REPORT_CANDLES, {
    message: `at most ${MAX_FEED_REPORT_CANDLES} candles`,
  }),
  house: feedHouse.optional(),
  kid,
});
export type UnsignedFeedReport = z.infer<typeof UnsignedFeedReport>;
export const FeedReport = UnsignedFeedReport.extend({ sig });
export type FeedReport = z.infer<typeof FeedReport>;
