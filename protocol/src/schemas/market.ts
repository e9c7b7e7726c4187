// What the datafeed signs for everyone downstream: signals, and the candles they came from.
import { z } from 'zod';
import { TIMEFRAME } from '../timeframe.js';
import { epochMs, kid, price, sig, streamName, symbol } from './fields.js';
import { MAX_TTL_MS, PROTOCOL_VERSION } from './limits.js';

export const Side = z.enum(['buy', 'sell']);
export type Side = z.infer<typeof Side>;

/** The part of a signal its origin signs. `kid` is signed too, so a key cannot be swapped. */
export const UnsignedSignal = z.strictObject({
  v: z.literal(PROTOCOL_VERSION),
  id: z.string().regex(/^[0-9a-f]{32}$/),
  stream: streamName,
  symbol,
  side: Side,
  price,
  /** Open time of the candle that produced the signal; the id is derived from it. */
  candleTime: epochMs,
  /** When the signal was issued (the origin's clock). */
  ts: epochMs,
  ttlMs: z.number().int().positive().max(MAX_TTL_MS),
  strength: z.number().min(0).max(1),
  algoVersion: z.string().min(1).max(64),
  origin: z.string().min(1).max(64),
  kid,
});
export type UnsignedSignal = z.infer<typeof UnsignedSignal>;
export const Signal = UnsignedSignal.extend({ sig });
export type Signal = z.infer<typeof Signal>;

/**
 * Market data as the datafeed shares it on the `candles` topic, signed by the datafeed with the
 * key that signs its signals (domain `candle`). The paper exchange fills from candles, and the
 * breaker and simulator will act on them: a forged candle could move money, so everything that
 * reads one verifies it (`verifyCandle`). No validity window: see `protocol/src/candle.ts`.
 */
export const UnsignedCandleMessage = z.strictObject({
  v: z.literal(PROTOCOL_VERSION),
  /** Derived from (origin, symbol, timeframe, time): see `candleId`. */
  id: z.string().regex(/^[0-9a-f]{32}$/),
  origin: z.string().min(1).max(64),
  symbol,
  timeframe: z.string().regex(TIMEFRAME),
  /** The bar's open time. */
  time: epochMs,
  open: price,
  high: price,
  low: price,
  close: price,
  volume: z.number().nonnegative().finite(),
  /** When the datafeed published it (its clock): orders two versions of one bar. */
  ts: epochMs,
  kid,
});
export type UnsignedCandleMessage = z.infer<typeof UnsignedCandleMessage>;
export const CandleMessage = UnsignedCandleMessage.extend({ sig });
export type CandleMessage = z.infer<typeof CandleMessage>;
