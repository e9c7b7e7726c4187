import { z } from 'zod';
import { CommandAck, DecisionRecord, FleetAction, FleetCommandId, Hello } from '@appliance/protocol';

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

/** A command acknowledgement waiting in the outbox, beside decision reports. */
const OutboxAck = z.strictObject({ ack: CommandAck });
/** One outbox entry: a decision report, or a command acknowledgement (`{ ack }`). */
export const OutboxEntry = z.union([DecisionRecord, OutboxAck]);
export type OutboxEntry = z.infer<typeof OutboxEntry>;

/**
 * Decision reports and command acknowledgements not yet acknowledged by the gateway (see
 * outbox.ts), in one sequence. They are numbered consecutively: `reports[i]` has sequence number
 * `next - reports.length + i`.
 */
export const Outbox = z
  .strictObject({
    /** The sequence number the next report gets. */
    next: seq,
    reports: z.array(OutboxEntry).max(KEEP_OUTBOX),
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
  /**
   * The fleet command this order is part of (a `flat`); absent for a signal's order. Such an
   * intent moves no resume point and makes no decision report: its command acknowledges it.
   */
  command: FleetCommandId.optional(),
});
export type Intent = z.infer<typeof Intent>;

/** The state file's format: 3 since fleet commands (see migrateState for 1 and 2). */
const STATE_VERSION = 3;

/** How long a handled command is remembered after it expires (it is never handled again). */
export const KEEP_COMMANDS_MS = 7 * 24 * 60 * 60 * 1000;
/** Most commands remembered; the oldest finished ones go first. */
export const KEEP_COMMANDS = 1_000;

const symbolAmount = z.strictObject({ symbol: z.string(), amount: z.number().nonnegative() });

/**
 * A fleet command this device has taken: recorded (status `received`) and persisted before it
 * acts or acknowledges, so each id is handled once, ever. Finished: `done`, `failed`, or
 * `expired` (first seen after `expiresAt`: ignored).
 */
export const CommandRecord = z.strictObject({
  id: FleetCommandId,
  action: FleetAction,
  /** The operator's reason and name, as the command carried them. */
  reason: z.string(),
  by: z.string(),
  /** The fleet target it came through (`all`, `profile:beta`, `device:<id>`). */
  target: z.string(),
  issuedAt: z.number().int(),
  expiresAt: z.number().int(),
  status: z.enum(['received', 'done', 'failed', 'expired']),
  receivedAt: z.number().int(),
  finishedAt: z.number().int().optional(),
  /** A flat's outcome: what was sold (with the exchange's order id) and what could not be, with why. */
  sold: z.array(symbolAmount.extend({ orderId: z.string().optional() })).optional(),
  unsold: z.array(symbolAmount.extend({ reason: z.string() })).optional(),
  /** Why it failed or expired. */
  failure: z.string().optional(),
});
export type CommandRecord = z.infer<typeof CommandRecord>;

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
  /** Fleet commands taken, by id (see CommandRecord and commands.ts). */
  commands: z.record(z.string(), CommandRecord).default({}),
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
    commands: {},
  };
}

/**
 * Brings a state file of an earlier format (parsed JSON, before its schema is checked) to
 * STATE_VERSION in place; returns whether it changed anything (then the caller writes it back).
 * Version 1 (before the intent journal) kept an intent's error as one `CODE: message` string.
 * Version 2 (before fleet commands) has no `commands`: none were ever taken. Anything else is
 * left for the schema to judge.
 */
export function migrateState(raw: unknown): boolean {
  if (!isPlainObject(raw) || (raw.v !== 1 && raw.v !== 2)) return false;
  if (raw.v === 1) migrateFrom1(raw);
  if (raw.commands === undefined) raw.commands = {};
  raw.v = STATE_VERSION;
  return true;
}

function migrateFrom1(raw: Record<string, unknown>): void {
  if (isPlainObject(raw.intents)) {
    for (const intent of Object.values(raw.intents)) {
      if (!isPlainObject(intent) || typeof intent.error !== 'string') continue;
      const m = /^([ER]_[A-Z0-9_]+): ([\s\S]*)$/.exec(intent.error);
      intent.error = m ? { code: m[1], message: m[2] } : { code: 'E_EXCHANGE', message: intent.error };
    }
  }
  raw.journalSeq = 0;
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
