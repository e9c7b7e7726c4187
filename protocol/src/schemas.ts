import { z } from 'zod';
import { TIMEFRAME } from './timeframe.js';

/** Wire version of every message defined here. Bumped only with a migration note. */
export const PROTOCOL_VERSION = 1 as const;

/** Longest validity window any signed message may claim: a day. */
export const MAX_TTL_MS = 24 * 60 * 60 * 1000;

/**
 * Highest price (quote per base unit) a signal or candle may carry; far above any real market.
 * A signature proves who sent a number, not that it is sane: 1e308 must not become a valuation.
 */
export const MAX_PRICE = 1e9;

const streamName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'stream: lowercase letters, digits, . _ -');
const symbol = z
  .string()
  .regex(/^[A-Z0-9]{1,20}\/[A-Z0-9]{1,20}$/, 'symbol: unified ccxt form such as BTC/USDT');
const epochMs = z.number().int().nonnegative();
const price = z.number().positive().max(MAX_PRICE);
const kid = z.string().regex(/^[A-Za-z0-9_-]{8,64}$/);
const sig = z.string().regex(/^[A-Za-z0-9_-]{86}$/, 'sig: base64url Ed25519 signature');
const offset = z.string().regex(/^\d{1,19}$/, 'offset: decimal Kafka offset');
/** A partition of the signals topic, as a record key. */
const partitionKey = z.string().regex(/^\d{1,5}$/, 'partition: a partition number');
const deviceId = z.string().regex(/^[a-z0-9][a-z0-9-]{2,63}$/, 'deviceId: lowercase letters, digits and -');

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
 * A device's profile (the `scope` claim of its token): `family`, `beta`, or `mandate:<id>` for a
 * managed mandate. Checked with this pattern everywhere a scope or profile is read.
 */
export const PROFILE_PATTERN = /^(family|beta|mandate:[a-z0-9-]{1,32})$/;
export const Profile = z.string().regex(PROFILE_PATTERN, 'profile: family, beta or mandate:<id>');
export type Profile = z.infer<typeof Profile>;

/**
 * Whom a fleet command is for: every device (`all`), the devices of one profile
 * (`profile:<profile>`) or one device (`device:<deviceId>`).
 */
export const FLEET_TARGET_PATTERN =
  /^(all|profile:(family|beta|mandate:[a-z0-9-]{1,32})|device:[a-z0-9][a-z0-9-]{2,63})$/;
export const FleetTarget = z
  .string()
  .regex(FLEET_TARGET_PATTERN, 'target: all, profile:<profile> or device:<id>');
export type FleetTarget = z.infer<typeof FleetTarget>;

export const BreakerLevel = z.enum(['normal', 'caution', 'halt']);
export type BreakerLevel = z.infer<typeof BreakerLevel>;

const controlCommon = {
  v: z.literal(PROTOCOL_VERSION),
  id: z.string().min(8).max(64),
  /** Monotonic per (kind, scope): a client ignores a control message older than one it holds. */
  version: z.number().int().nonnegative(),
  ts: epochMs,
  ttlMs: z.number().int().positive().max(MAX_TTL_MS),
  origin: z.string().min(1).max(64),
  kid,
};

/** Longest reason a breaker level may carry, market-wide or for one asset. */
export const MAX_BREAKER_REASON_CHARS = 500;
/** Most assets one breaker message may name with their own level. */
export const MAX_BREAKER_ASSETS = 500;

/** One scope's level: the market's, or one asset's. */
const breakerScopeLevel = z.strictObject({
  level: BreakerLevel,
  /** 0..1; scales buy sizes while the level is `caution` (1 at `normal`, 0 at `halt`). */
  multiplier: z.number().min(0).max(1),
  /** Why, for people ("BTC/USDT fell 9.8 % in 2 h, 4.1 σ"): shown and logged, never acted on. */
  reason: z.string().max(MAX_BREAKER_REASON_CHARS),
});

/**
 * The circuit breaker, the whole of it in one message so a device never holds half an update:
 * the market-wide level, and the assets that have a level of their own. An asset not named has
 * none (the market's applies); for one that is named, the stricter of its level and the
 * market's applies, and the smaller multiplier. `assets` is absent from control servers before
 * the per-asset breaker, so devices must not need it.
 */
const breakerControl = z.strictObject({
  ...controlCommon,
  kind: z.literal('breaker'),
  body: breakerScopeLevel.extend({
    assets: z
      .record(symbol, breakerScopeLevel)
      .refine((a) => Object.keys(a).length <= MAX_BREAKER_ASSETS, {
        message: `at most ${MAX_BREAKER_ASSETS} assets`,
      })
      .optional(),
  }),
});
/** Most symbols one eligibility message may name as eligible. */
export const MAX_ELIGIBLE_SYMBOLS = 1000;
/** Most reasons one eligibility message may carry (eligible symbols and ones just removed). */
export const MAX_ELIGIBILITY_REASONS = 2000;
/** Longest reason, for one symbol, in an eligibility message or a simulator decision. */
export const MAX_ELIGIBILITY_REASON_CHARS = 300;

/** A simulator run's id: chosen by the simulator node, unique per run (replays are refused). */
const runId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/, 'runId: letters, digits, . _ : -');
const eligibilityReason = z.string().min(1).max(MAX_ELIGIBILITY_REASON_CHARS);

const eligibilityControl = z.strictObject({
  ...controlCommon,
  kind: z.literal('eligibility'),
  body: z.strictObject({
    stream: streamName,
    /** The only symbols a device may buy on `stream`; the rest of the body only explains. */
    symbols: z.array(symbol).max(MAX_ELIGIBLE_SYMBOLS),
    /**
     * Why each symbol named (or just removed) is or is not eligible, for people: shown, logged,
     * never consulted by `decide`. Absent from control servers before the simulator (and from
     * eligibility given by `--eligibility`), so devices must not need it.
     */
    reasons: z
      .record(symbol, eligibilityReason)
      .refine((r) => Object.keys(r).length <= MAX_ELIGIBILITY_REASONS, {
        message: `at most ${MAX_ELIGIBILITY_REASONS} reasons`,
      })
      .optional(),
    /** The simulator run the latest decisions for this stream came from. */
    run: z.strictObject({ id: runId, at: epochMs }).optional(),
  }),
});
/**
 * The spending policy for a profile (`family`, or a mandate's). The body is checked on the
 * device against trading-core's `ReceivedPolicy`: the wire only carries it, signed.
 */
const policyControl = z.strictObject({
  ...controlCommon,
  kind: z.literal('policy'),
  body: z.strictObject({
    profile: z.string().regex(/^[a-z0-9][a-z0-9:-]{0,63}$/),
    policy: z.record(z.string(), z.unknown()),
    /**
     * The policy's version for its profile (1, 2, 3 …), as the control server numbers them; a
     * rollback is a new version. Devices report the one in force. Absent from older servers.
     */
    version: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional(),
  }),
});

/** Longest reason a fleet message or command may carry. */
export const MAX_FLEET_REASON_CHARS = 300;
/** Most commands one fleet message may carry. */
export const MAX_FLEET_COMMANDS = 100;

export const FleetAction = z.enum(['halt', 'resume', 'flat']);
export type FleetAction = z.infer<typeof FleetAction>;

/** A fleet command's id, chosen by the control server. */
export const FleetCommandId = z.string().regex(/^cmd-[a-z0-9]{8,40}$/, 'command id: cmd-<8..40 a-z0-9>');

/**
 * One operator command, as a fleet message carries it. A device handles each id once, ever; one
 * that first sees it at or after `expiresAt` ignores it (and acknowledges `expired`).
 */
export const FleetCommand = z
  .strictObject({
    id: FleetCommandId,
    action: FleetAction,
    reason: z.string().min(1).max(MAX_FLEET_REASON_CHARS),
    /** The operator who confirmed it. */
    by: z.string().min(1).max(64),
    /** When it was confirmed. */
    issuedAt: epochMs,
    expiresAt: epochMs,
  })
  .refine((c) => c.expiresAt > c.issuedAt, {
    path: ['expiresAt'],
    message: 'expiresAt is not after issuedAt',
  });
export type FleetCommand = z.infer<typeof FleetCommand>;

/**
 * The operator's word for the devices a target covers (key `fleet:<target>` on the control
 * topic): whether buying is halted there, why, and the target's unexpired commands, oldest first.
 * A device applies `halted` as the OR over the messages of every target that covers it.
 */
const fleetControl = z.strictObject({
  ...controlCommon,
  kind: z.literal('fleet'),
  body: z
    .strictObject({
      target: FleetTarget,
      halted: z.boolean(),
      reason: z.string().max(MAX_FLEET_REASON_CHARS),
      commands: z.array(FleetCommand).max(MAX_FLEET_COMMANDS),
    })
    .refine((b) => new Set(b.commands.map((c) => c.id)).size === b.commands.length, {
      path: ['commands'],
      message: 'a command id appears twice',
    }),
});
/**
 * Devices whose credentials are withdrawn: the whole list, versioned like every control
 * message. Gateways disconnect them at once and refuse them at the upgrade.
 */
const revocationControl = z.strictObject({
  ...controlCommon,
  kind: z.literal('revocation'),
  body: z.strictObject({
    devices: z.array(deviceId).max(100_000),
    /**
     * Device keys (key ids) retired by a rotation once its overlap ended: a credential bound to
     * one is refused though its device is not revoked. Absent in older messages.
     */
    keys: z.array(kid).max(100_000).optional(),
  }),
});
/** The dead-man switch: clients stop buying when these stop arriving. */
const heartbeatControl = z.strictObject({
  ...controlCommon,
  kind: z.literal('heartbeat'),
  body: z.strictObject({}),
});

export const UnsignedControl = z.discriminatedUnion('kind', [
  breakerControl,
  eligibilityControl,
  policyControl,
  fleetControl,
  revocationControl,
  heartbeatControl,
]);
export type UnsignedControl = z.infer<typeof UnsignedControl>;
export const Control = z.discriminatedUnion('kind', [
  breakerControl.extend({ sig }),
  eligibilityControl.extend({ sig }),
  policyControl.extend({ sig }),
  fleetControl.extend({ sig }),
  revocationControl.extend({ sig }),
  heartbeatControl.extend({ sig }),
]);
export type Control = z.infer<typeof Control>;
export type ControlKind = Control['kind'];

/** Device token claims, signed by the control server and checked by gateways without a database. */
export const DeviceTokenClaims = z.strictObject({
  v: z.literal(PROTOCOL_VERSION),
  sub: deviceId,
  /**
   * The device's profile: `family`, `beta`, or `mandate:<name>` for a managed mandate; bound at
   * registration. Gateways keep scopes apart; the device takes its profile from here.
   */
  scope: Profile,
  iat: epochMs,
  exp: epochMs,
  kid,
  /**
   * Confirmation key (RFC 7800's `cnf`, flattened): the device's Ed25519 public key, base64url.
   * A credential that has one connects only with a proof signed by that key; credentials from
   * enrolment always have one.
   */
  cnf: z
    .string()
    .regex(/^[A-Za-z0-9_-]{43}$/)
    .optional(),
});
export type DeviceTokenClaims = z.infer<typeof DeviceTokenClaims>;

// ---- device -> gateway -----------------------------------------------------------------

export const Hello = z.strictObject({
  type: z.literal('hello'),
  deviceId,
  version: z.string().min(1).max(32),
  /** Per stream, the offset of the last signal this device has fully handled. */
  resume: z.record(streamName, offset).default({}),
  /**
   * Per partition of the signals topic, where the gateway stood when this device last went live
   * (from `caught-up`). Streams missing from `resume` began after that: they are sent from there,
   * so a stream that started while the device was offline is not missed. Absent: a new device,
   * which starts every stream from now. Empty: every partition was empty then.
   */
  since: z.record(partitionKey, offset).optional(),
});
export type Hello = z.infer<typeof Hello>;

export const DecisionOutcome = z.enum(['executed', 'rejected', 'failed']);
export const DecisionRecord = z.strictObject({
  signalId: z.string().max(64),
  stream: streamName,
  symbol,
  side: Side,
  outcome: DecisionOutcome,
  /** A reason code such as E_EXPIRED or R_DAILY_LIMIT, with its plain-language text. */
  code: z.string().max(64),
  reason: z.string().max(300),
  amount: z.number().nonnegative().optional(),
  ts: epochMs,
});
export type DecisionRecord = z.infer<typeof DecisionRecord>;

export const DecisionReport = z.strictObject({
  type: z.literal('decision'),
  deviceId,
  decision: DecisionRecord,
});
export type DecisionReport = z.infer<typeof DecisionReport>;

/** Most decision reports one `decisions` frame may carry. */
export const MAX_DECISION_BATCH = 50;

/**
 * Decision reports, batched: the device keeps each in an outbox until the gateway acknowledges
 * it, so reports made while disconnected (or while the bus is down) are sent again, and a
 * catch-up burst of decisions is a few frames, not hundreds. `seq` numbers the first report;
 * the rest follow it by one. The gateway answers `ack` once all have reached the bus.
 */
export const DecisionBatch = z.strictObject({
  type: z.literal('decisions'),
  deviceId,
  seq: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  decisions: z.array(DecisionRecord).min(1).max(MAX_DECISION_BATCH),
});
export type DecisionBatch = z.infer<typeof DecisionBatch>;

/** A decision report as the gateway writes it on the telemetry topic (one record per decision). */
export const DecisionBusRecord = DecisionReport.extend({
  /** The device's sequence number of this report; absent from devices that do not batch. */
  seq: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).optional(),
});
export type DecisionBusRecord = z.infer<typeof DecisionBusRecord>;

export const CommandAckStatus = z.enum(['received', 'done', 'failed', 'expired']);
export type CommandAckStatus = z.infer<typeof CommandAckStatus>;

/** Most command acknowledgements one `command-acks` frame may carry. */
export const MAX_COMMAND_ACK_BATCH = 50;
/** Most symbols a flat's acknowledgement may list as sold, and as unsold. */
export const MAX_COMMAND_ACK_SYMBOLS = 100;

/**
 * What a device did with a fleet command: `received` as soon as it has recorded it, then `done`
 * (a flat lists what it sold and what it could not sell, with why), `failed` (with the reason)
 * or `expired` (first seen after `expiresAt`).
 */
export const CommandAck = z.strictObject({
  commandId: FleetCommandId,
  action: FleetAction,
  status: CommandAckStatus,
  ts: epochMs,
  sold: z
    .array(
      z.strictObject({
        symbol,
        amount: z.number().nonnegative().finite(),
        orderId: z.string().min(1).max(128).optional(),
      }),
    )
    .max(MAX_COMMAND_ACK_SYMBOLS)
    .optional(),
  unsold: z
    .array(
      z.strictObject({
        symbol,
        amount: z.number().nonnegative().finite(),
        reason: z.string().min(1).max(MAX_FLEET_REASON_CHARS),
      }),
    )
    .max(MAX_COMMAND_ACK_SYMBOLS)
    .optional(),
  reason: z.string().max(MAX_FLEET_REASON_CHARS).optional(),
});
export type CommandAck = z.infer<typeof CommandAck>;

/**
 * Command acknowledgements, through the same outbox as decision reports and numbered in the same
 * sequence: `seq` numbers the first, the rest follow it by one; the gateway answers `ack` once all
 * have reached the bus.
 */
export const CommandAckBatch = z.strictObject({
  type: z.literal('command-acks'),
  deviceId,
  seq: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  acks: z.array(CommandAck).min(1).max(MAX_COMMAND_ACK_BATCH),
});
export type CommandAckBatch = z.infer<typeof CommandAckBatch>;

/** A command acknowledgement as the gateway writes it on the telemetry topic (one record per ack). */
export const CommandAckBusRecord = z.strictObject({
  type: z.literal('command-ack'),
  deviceId,
  seq: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  ack: CommandAck,
});
export type CommandAckBusRecord = z.infer<typeof CommandAckBusRecord>;

export const Telemetry = z.strictObject({
  type: z.literal('telemetry'),
  deviceId,
  ts: epochMs,
  quote: z.string().max(20),
  equity: z.number().finite(),
  cash: z.number().finite(),
  positions: z.record(z.string().max(20), z.number().finite()),
  spendToday: z.number().nonnegative(),
  fills: z.number().int().nonnegative(),
  lastDecisions: z.array(DecisionRecord).max(20),
  errors: z.array(z.string().max(300)).max(20),
  /**
   * The spending policy in force: its profile and the version the control server gave it; null
   * while the device runs on its built-in policy (or one that came without a version). Absent from
   * older devices.
   */
  policy: z
    .strictObject({
      profile: z.string().regex(/^[a-z0-9][a-z0-9:-]{0,63}$/),
      version: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
    })
    .nullable()
    .optional(),
});
export type Telemetry = z.infer<typeof Telemetry>;

export const DeviceFrame = z.discriminatedUnion('type', [
  Hello,
  Telemetry,
  DecisionReport,
  DecisionBatch,
  CommandAckBatch,
]);
export type DeviceFrame = z.infer<typeof DeviceFrame>;

// ---- gateway -> device -----------------------------------------------------------------

/** A gateway's id (`--gateway-id`), as its options accept it. */
const gatewayId = z.string().regex(/^[a-z0-9-]{1,32}$/, 'gateway: lowercase letters, digits and -');

/**
 * Every frame a gateway sends. Gateways build them as strings (a signed message is relayed byte
 * for byte, as parsed JSON inside the frame); gateway/test/frames.test.ts checks that each kind
 * they build parses here, and the device parses every frame with this before acting on it. The
 * signed payloads stay `unknown`: the device verifies them itself.
 */
export const GatewayFrame = z.discriminatedUnion('type', [
  /** First frame on a connection, before hello. */
  z.strictObject({ type: z.literal('welcome'), gateway: gatewayId, deviceId }),
  /** A verified signal record of `stream`, at `offset` of its partition. */
  z.strictObject({ type: z.literal('signal'), stream: streamName, offset, signal: z.unknown() }),
  /** A verified control message, at `offset` of the control topic. */
  z.strictObject({ type: z.literal('control'), offset, control: z.unknown() }),
  /** Sent once after the missed signals of a resume, before live ones. */
  z.strictObject({
    type: z.literal('caught-up'),
    positions: z.record(streamName, offset),
    /**
     * Per partition, the gateway's position as the device goes live: its next hello's `since`.
     * Always sent; absent only from gateways older than `since` (the device then keeps none).
     */
    partitions: z.record(partitionKey, offset).optional(),
  }),
  /**
   * Every decision report and command acknowledgement up to and including `seq` has reached the
   * bus: the device may forget them.
   */
  z.strictObject({
    type: z.literal('ack'),
    seq: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  }),
]);
export type GatewayFrame = z.infer<typeof GatewayFrame>;

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

// ---- simulator -> control server -------------------------------------------------------

/** Most decisions one simulator submission may carry. */
export const MAX_SIMULATOR_DECISIONS = 2000;

/** Summary numbers of a backtest, for the operator (return, drawdown, trades, ...): shown, not acted on. */
const simulatorMetrics = z
  .record(z.string().regex(/^[A-Za-z][A-Za-z0-9_.-]{0,31}$/), z.number().finite())
  .refine((m) => Object.keys(m).length <= 32, { message: 'at most 32 metrics' });

/** The simulator's verdict on one (stream, symbol). */
export const SimulatorDecision = z.strictObject({
  stream: streamName,
  symbol,
  eligible: z.boolean(),
  reason: eligibilityReason,
  metrics: simulatorMetrics.optional(),
});
export type SimulatorDecision = z.infer<typeof SimulatorDecision>;

const simulatorResultShape = {
  v: z.literal(PROTOCOL_VERSION),
  runId,
  at: epochMs,
  end: epochMs,
  node: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'node: lowercase letters, digits, . _ -'),
  decisions: z.array(SimulatorDecision).min(1).max(MAX_SIMULATOR_DECISIONS),
  kid,
};

/** The checks across fields: the run ends before it is signed, each (stream, symbol) once. */
function checkSimulatorResult(
  r: { at: number; end: number; decisions: SimulatorDecision[] },
  ctx: z.RefinementCtx,
) {
  if (r.end > r.at) ctx.addIssue({ code: 'custom', path: ['end'], message: 'end is after at' });
  const seen = new Set<string>();
  r.decisions.forEach((d, i) => {
    const key = `${d.stream} ${d.symbol}`;
    if (seen.has(key))
      ctx.addIssue({ code: 'custom', path: ['decisions', i], message: `${key} is decided twice` });
    seen.add(key);
  });
}

/**
 * A simulator run's decisions, as a node submits them to the control server (POST
 * /api/simulator/results), signed by the node's key (domain `simulator-result`). `at` is when
 * the node signed it (a stale submission is refused), `end` the time of the last candle the
 * backtests covered. Each (stream, symbol) at most once.
 */
export const UnsignedSimulatorResult = z.strictObject(simulatorResultShape).superRefine(checkSimulatorResult);
export type UnsignedSimulatorResult = z.infer<typeof UnsignedSimulatorResult>;
export const SimulatorResult = z
  .strictObject({ ...simulatorResultShape, sig })
  .superRefine(checkSimulatorResult);
export type SimulatorResult = z.infer<typeof SimulatorResult>;

// ---- datafeed -> breaker: feed reports -------------------------------------------------

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
