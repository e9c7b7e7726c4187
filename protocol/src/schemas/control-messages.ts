// The control topic's messages, signed by the control server: the breaker, eligibility, spending
// policy, the operator's fleet commands, revocations and the heartbeat.
import { z } from 'zod';
import { deviceId, eligibilityReason, epochMs, kid, runId, sig, streamName, symbol } from './fields.js';
import { MAX_TTL_MS, PROTOCOL_VERSION } from './limits.js';

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
