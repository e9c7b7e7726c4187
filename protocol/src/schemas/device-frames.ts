// What a device sends its gateway: hello, telemetry, decision reports and command
// acknowledgements; and how the gateway writes the reports on the bus.
import { z } from 'zod';
import { FleetAction, FleetCommandId, MAX_FLEET_REASON_CHARS } from './control-messages.js';
import { deviceId, epochMs, offset, partitionKey, streamName, symbol } from './fields.js';
import { Side } from './market.js';

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
