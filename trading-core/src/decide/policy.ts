/**
 * The central spending policy, signed by the control server. Its zod schema is the one
 * place its shape and ranges are defined: the caller parses what arrives with
 * `ReceivedPolicy`, and `decide` re-checks it with `CentralPolicy` (a bad policy stops buying).
 */
import { z } from 'zod';
import { MAX_PRICE_DEVIATION_PCT, MAX_QUOTE } from './bounds.js';

/** The policy format this code reads. A policy with another `schema` stops buying. */
export const POLICY_SCHEMA_VERSION = 1 as const;

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

const HHMM = /^([01]\d|2[0-3]):[0-5]\d$/;
const HHMM_END = /^(([01]\d|2[0-3]):[0-5]\d|24:00)$/;

/**
 * A buying window in local wall-clock time, listed under the weekday it STARTS on. It
 * covers `start <= t < end`. An `end` earlier than `start` crosses midnight into the next
 * day (`fri 22:00-02:00` ends Saturday 02:00); `'24:00'` is the end of the day; `start ===
 * end` is invalid. On a DST change the wall clock rules: a window in the skipped hour does
 * not happen, and a repeated hour is one window instance (what was spent in the first pass
 * counts in the second).
 */
export const ScheduleWindow = z
  .strictObject({
    start: z.string().regex(HHMM, 'start: HH:MM, 00:00..23:59'),
    end: z.string().regex(HHMM_END, 'end: HH:MM, 00:01..24:00'),
    /** Most quote all buys in one instance of this window may spend; null: no window limit. */
    maxSpend: z.number().nonnegative().max(MAX_QUOTE).nullable(),
    /** false: buying is off during this window. */
    buying: z.boolean(),
  })
  .refine((w) => w.start !== w.end, 'a window must not start and end at the same time');
export type ScheduleWindow = z.infer<typeof ScheduleWindow>;

const day = z.array(ScheduleWindow).max(48).default([]);

/**
 * Windows per weekday. A time no window covers has buying OFF: the schedule lists when
 * buying is allowed, so a forgotten hour fails safe. A missing weekday has no windows.
 * Where windows overlap, every window covering the time applies (all must allow buying,
 * and each one's `maxSpend` caps the buy).
 */
export const Schedule = z.strictObject({
  mon: day,
  tue: day,
  wed: day,
  thu: day,
  fri: day,
  sat: day,
  sun: day,
});
export type Schedule = z.infer<typeof Schedule>;

const quote = z.number().nonnegative().max(MAX_QUOTE);
const fraction = z.number().gt(0).max(1);

/** Numeric limits, shared by the policy and (optional, tighter) by the user's settings. */
export const limitFields = {
  /** Quote a buy spends by default. */
  orderQuote: z.number().positive().max(MAX_QUOTE),
  /** Most quote a single buy may spend. */
  maxOrderQuote: z.number().positive().max(MAX_QUOTE),
  /** Most quote all buys of one local calendar day may spend. */
  maxSpendPerDay: quote,
  /** Most of equity one asset may make up after a buy (0.10 = 10 %). */
  maxExposurePct: fraction,
  /** Most assets held (each worth at least the market's minNotional) before a buy of a new one. */
  maxOpenPositions: z.number().int().nonnegative(),
  /** Share of equity kept as free quote: a buy never dips below it. */
  cashReservePct: z.number().min(0).lt(1),
  /** Buying stops when equity is below seedEquity x (1 - this). */
  maxDrawdownPct: fraction,
  /** Buying stops for the day when equity is below dayStartEquity x (1 - this). */
  dailyLossLimitPct: fraction,
  /** Dead-man switch: buying stops when the last control heartbeat is older than this, ms. */
  heartbeatTimeoutMs: z.number().int().positive(),
  /** Kept aside for the fee and slippage of a market buy, basis points of the order. */
  costBufferBps: z.number().min(0).max(1000),
  /**
   * Most a buy signal's price may differ from the exchange's current price (its ticker, asked
   * just before the buy), as a fraction of the exchange's price: 0.01 = 1 %. Beyond it the
   * buy is refused (`R_PRICE_DEVIATION`): a stale or wrong price is not acted on.
   */
  maxPriceDeviationPct: z.number().gt(0).max(MAX_PRICE_DEVIATION_PCT),
};
export type LimitName = keyof typeof limitFields;

export const DEFAULT_MAX_EXPOSURE_PCT = 0.1;
export const DEFAULT_MAX_DRAWDOWN_PCT = 0.25;
export const DEFAULT_COST_BUFFER_BPS = 50;
export const DEFAULT_MAX_PRICE_DEVIATION_PCT = 0.01;

export const CentralPolicy = z.strictObject({
  schema: z.literal(POLICY_SCHEMA_VERSION),
  ...limitFields,
  maxExposurePct: limitFields.maxExposurePct.default(DEFAULT_MAX_EXPOSURE_PCT),
  maxDrawdownPct: limitFields.maxDrawdownPct.default(DEFAULT_MAX_DRAWDOWN_PCT),
  costBufferBps: limitFields.costBufferBps.default(DEFAULT_COST_BUFFER_BPS),
  maxPriceDeviationPct: limitFields.maxPriceDeviationPct.default(DEFAULT_MAX_PRICE_DEVIATION_PCT),
  schedule: Schedule,
});
/** A parsed policy of the current format (defaults applied). */
export type CentralPolicy = z.infer<typeof CentralPolicy>;

/** A policy in a format newer (or older) than this code reads: only its version is known. */
export const FuturePolicy = z.looseObject({
  schema: z
    .number()
    .int()
    .refine((v) => v !== POLICY_SCHEMA_VERSION, 'schema 1 must parse as CentralPolicy'),
});
export type FuturePolicy = z.infer<typeof FuturePolicy>;

/**
 * Parse what arrives with this: a current policy parses fully; one of another format parses
 * as `FuturePolicy` so `decide` can say an update is needed (`R_POLICY_VERSION`) rather than
 * that none is known. Anything else fails to parse: pass `null` (`R_NO_POLICY`).
 */
export const ReceivedPolicy = z.union([CentralPolicy, FuturePolicy]);
export type ReceivedPolicy = CentralPolicy | FuturePolicy;

export function isCurrentPolicy(p: ReceivedPolicy): p is CentralPolicy {
  return p.schema === POLICY_SCHEMA_VERSION;
}
