import { z } from 'zod';
import { DecisionRecord } from '@appliance/protocol';

export const INTENT_STATUSES = ['pending', 'done', 'failed', 'abandoned'] as const;

/**
 * An order the device has decided to place. It is written durably BEFORE the order is sent,
 * so after a crash the device knows to ask the exchange about it by its client order id.
 */
export const Intent = z.strictObject({
  clientOrderId: z.string(),
  signalId: z.string(),
  stream: z.string(),
  offset: z.string(),
  symbol: z.string(),
  side: z.enum(['buy', 'sell']),
  amount: z.number().positive(),
  /** After this the signal is stale: an order never sent is abandoned, not sent late. */
  expiresAt: z.number().int(),
  createdAt: z.number().int(),
  /** When the latest attempt was about to be sent: the not-found grace period counts from here. */
  sentAt: z.number().int().optional(),
  status: z.enum(INTENT_STATUSES),
  attempts: z.number().int().nonnegative(),
  result: z
    .strictObject({
      orderId: z.string(),
      status: z.string(),
      filled: z.number().nonnegative(),
      cost: z.number().nonnegative(),
      fee: z.number().nonnegative(),
    })
    .optional(),
  error: z.string().optional(),
});
export type Intent = z.infer<typeof Intent>;

export const ClientState = z.strictObject({
  v: z.literal(1),
  deviceId: z.string(),
  /** Per stream, the offset of the last signal fully handled (the `hello` resume point). */
  resume: z.record(z.string(), z.string()),
  /**
   * Per partition, where the gateway stood when this device last went live (the `hello` since);
   * absent until it first has.
   */
  since: z.record(z.string(), z.string()).optional(),
  /** Signal ids seen, with when they may be forgotten (see ReplayGuard). */
  seen: z.array(z.tuple([z.string(), z.number()])),
  /** Per `stream symbol`, the newest candle time acted on: older candles are never acted on again. */
  lastCandle: z.record(z.string(), z.number()).default({}),
  intents: z.record(z.string(), Intent),
  /** Recent buy spends, for the per-window and per-day limits (kept for two days). */
  spends: z.array(z.strictObject({ ts: z.number(), quote: z.number().nonnegative() })).default([]),
  /** Equity when the local day began, for the daily loss limit. */
  dayStart: z.strictObject({ day: z.number().int(), equity: z.number() }).optional(),
  fills: z.number().int().nonnegative(),
  decisions: z.array(DecisionRecord),
  /** The device's own double-entry books of its fills (trading-core Ledger JSON), once seeded. */
  ledger: z.unknown().optional(),
});
export type ClientState = z.infer<typeof ClientState>;

export function emptyState(deviceId: string): ClientState {
  return {
    v: 1,
    deviceId,
    resume: {},
    seen: [],
    lastCandle: {},
    intents: {},
    spends: [],
    fills: 0,
    decisions: [],
  };
}

/** How many finished intents and decisions are kept in the state file. */
export const KEEP_FINISHED_INTENTS = 500;
export const KEEP_DECISIONS = 200;
/** Spends older than this cannot count toward any window or day limit. */
export const KEEP_SPENDS_MS = 50 * 60 * 60 * 1000;
