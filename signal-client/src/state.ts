import { z } from 'zod';
import { DecisionRecord, Hello } from '@appliance/protocol';

/**
 * The state holds what the next hello sends, so it is exactly as strict as the wire: the same
 * stream names, offsets (up to 19 digits) and partition keys as protocol's Hello. A file that
 * breaks them is corrupt (exit 3), never a hello the gateway would refuse for ever.
 */
const resumeMap = Hello.shape.resume.unwrap();
const sinceMap = Hello.shape.since.unwrap();
const streamName = resumeMap.keyType;
const offset = resumeMap.valueType;

/** A stream name a hello can carry (protocol's rule). */
export function isStreamName(v: unknown): v is string {
  return streamName.safeParse(v).success;
}

/** A Kafka offset as the wire carries it: 1 to 19 decimal digits. */
export function isOffset(v: unknown): v is string {
  return offset.safeParse(v).success;
}

/** A partition key of `since` (protocol's rule). */
export function isPartitionKey(v: unknown): v is string {
  return sinceMap.keyType.safeParse(v).success;
}

/**
 * Most resume points kept: every followed stream has one (the config allows at most this many),
 * and a device that follows every stream keeps one per stream a verified signal came from, up to
 * this. With MAX_SINCE_PARTITIONS a hello stays well under the gateway's 64 KiB frame limit
 * (256 × 89 + 512 × 30 bytes ≈ 38 KB at worst).
 */
export const MAX_RESUME_STREAMS = 256;
/** Most partitions kept in `since` (the signals topic has a handful). */
export const MAX_SINCE_PARTITIONS = 512;
/** Decision reports kept until the gateway acknowledges them; beyond this the oldest are dropped (counted). */
export const KEEP_OUTBOX = 1_000;

const seq = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

/**
 * Decision reports not yet acknowledged by the gateway (see outbox.ts). They are numbered
 * consecutively: `reports[i]` has sequence number `next - reports.length + i`.
 */
export const Outbox = z
  .strictObject({
    /** The sequence number the next report gets. */
    next: seq,
    reports: z.array(DecisionRecord).max(KEEP_OUTBOX),
    /** Reports dropped unacknowledged because the outbox was full: lost to the fleet view. */
    lost: z.number().int().nonnegative(),
  })
  .refine((o) => o.reports.length <= o.next, { message: 'more reports than sequence numbers given out' });
export type Outbox = z.infer<typeof Outbox>;

const INTENT_STATUSES = ['pending', 'done', 'failed', 'abandoned'] as const;

/**
 * An order the device has decided to place. It is written durably BEFORE the order is sent,
 * so after a crash the device knows to ask the exchange about it by its client order id.
 */
export const Intent = z.strictObject({
  clientOrderId: z.string(),
  signalId: z.string(),
  stream: streamName,
  offset,
  symbol: z.string(),
  side: z.enum(['buy', 'sell']),
  /** Base amount: what a sell sells; for a buy only decide's estimate (the buy is sized by `quote`). */
  amount: z.number().positive(),
  /**
   * For a buy, the quote it may spend: sent as Binance `quoteOrderQty`, so what is paid never
   * exceeds what decide approved, whatever price the signal carried. Absent on a sell.
   */
  quote: z.number().positive().optional(),
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
  /** Why a failed or abandoned intent ended so (a code of docs/errors.md and its text). */
  error: z.strictObject({ code: z.string(), message: z.string() }).optional(),
  /** The decision with this intent's final outcome has been kept (and queued for the fleet view). */
  reported: z.boolean().optional(),
});
export type Intent = z.infer<typeof Intent>;

/** The state file's format: 2 since the intent journal (see migrateState for 1). */
const STATE_VERSION = 2;

export const ClientState = z.strictObject({
  v: z.literal(STATE_VERSION),
  deviceId: Hello.shape.deviceId,
  /**
   * Per stream, the offset of the last verified signal fully handled (the `hello` resume point):
   * only streams this device follows (see MAX_RESUME_STREAMS).
   */
  resume: resumeMap.refine((m) => Object.keys(m).length <= MAX_RESUME_STREAMS, {
    message: `more than ${MAX_RESUME_STREAMS} streams`,
  }),
  /**
   * Per partition, where the gateway stood when this device last went live (the `hello` since);
   * absent until it first has.
   */
  since: sinceMap
    .refine((m) => Object.keys(m).length <= MAX_SINCE_PARTITIONS, {
      message: `more than ${MAX_SINCE_PARTITIONS} partitions`,
    })
    .optional(),
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
  outbox: Outbox.default({ next: 0, reports: [], lost: 0 }),
  /** The device's own double-entry books of its fills (trading-core Ledger JSON), once seeded. */
  ledger: z.unknown().optional(),
  /** The last intent-journal record this snapshot includes: only later ones are replayed (intent-journal.ts). */
  journalSeq: seq.default(0),
});
export type ClientState = z.infer<typeof ClientState>;

export function emptyState(deviceId: string): ClientState {
  return {
    v: STATE_VERSION,
    deviceId,
    resume: {},
    seen: [],
    lastCandle: {},
    intents: {},
    spends: [],
    fills: 0,
    decisions: [],
    outbox: { next: 0, reports: [], lost: 0 },
    journalSeq: 0,
  };
}

/**
 * Brings a state file of an earlier format (parsed JSON, before its schema is checked) to
 * STATE_VERSION in place; returns whether it changed anything (then the caller writes it back).
 * Version 1 (before the intent journal) kept an intent's error as one `CODE: message` string.
 * Anything else is left for the schema to judge.
 */
export function migrateState(raw: unknown): boolean {
  if (!isPlainObject(raw) || raw.v !== 1) return false;
  if (isPlainObject(raw.intents)) {
    for (const intent of Object.values(raw.intents)) {
      if (!isPlainObject(intent) || typeof intent.error !== 'string') continue;
      const m = /^([ER]_[A-Z0-9_]+): ([\s\S]*)$/.exec(intent.error);
      intent.error = m ? { code: m[1], message: m[2] } : { code: 'E_EXCHANGE', message: intent.error };
    }
  }
  raw.v = STATE_VERSION;
  raw.journalSeq = 0;
  return true;
}

/** How many finished intents and decisions are kept in the state file. */
export const KEEP_FINISHED_INTENTS = 500;
export const KEEP_DECISIONS = 200;
/** Spends older than this cannot count toward any window or day limit. */
export const KEEP_SPENDS_MS = 50 * 60 * 60 * 1000;

/**
 * Brings the resume points of a state file (parsed JSON, before its schema is checked) within
 * the bounds, for files written before the bounds existed: a resume point of a stream the
 * device does not follow is dropped; following every stream (`followed` empty), past
 * MAX_RESUME_STREAMS only streams a verified signal came from (they have a `lastCandle`) are
 * kept, then the first MAX_RESUME_STREAMS; `since` keeps its lowest MAX_SINCE_PARTITIONS
 * partitions. Dropping one is safe: the stream is then sent from `since`, and what was already
 * handled is refused as a replay. Returns what it dropped, for the log.
 */
export function pruneResumePoints(
  raw: unknown,
  followed: readonly string[],
): { streams: number; partitions: number } {
  const dropped = { streams: 0, partitions: 0 };
  if (!isPlainObject(raw)) return dropped;
  const resume = raw.resume;
  if (isPlainObject(resume)) {
    const follow = new Set(followed);
    let keep = Object.keys(resume).filter((stream) => follow.size === 0 || follow.has(stream));
    if (keep.length > MAX_RESUME_STREAMS) {
      const verified = new Set(
        Object.keys(isPlainObject(raw.lastCandle) ? raw.lastCandle : {}).map((k) => k.split(' ')[0]),
      );
      keep = keep.filter((stream) => verified.has(stream)).slice(0, MAX_RESUME_STREAMS);
    }
    const kept = new Set(keep);
    for (const stream of Object.keys(resume)) {
      if (kept.has(stream)) continue;
      delete resume[stream];
      dropped.streams++;
    }
  }
  const since = raw.since;
  if (isPlainObject(since) && Object.keys(since).length > MAX_SINCE_PARTITIONS) {
    const partitions = Object.keys(since).sort((a, b) => Number(a) - Number(b));
    for (const p of partitions.slice(MAX_SINCE_PARTITIONS)) {
      delete since[p];
      dropped.partitions++;
    }
  }
  return dropped;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
