import { z } from 'zod';
import {
  CommandAckBusRecord,
  DecisionBusRecord,
  PROFILE_PATTERN,
  Telemetry,
  type CommandAck,
  type DecisionRecord,
} from '@appliance/protocol';

/**
 * What the gateway stamps on every device frame it writes to the telemetry topic. Checked like
 * the rest: anyone who can write the topic can write anything there.
 */
const GatewayStamp = {
  scope: z.string().regex(PROFILE_PATTERN),
  gateway: z.string().regex(/^[a-z0-9-]{1,32}$/),
  /** The device's address as the gateway saw it (its tunnel address behind HAProxy), or `unknown`. */
  remote: z.string().regex(/^[0-9A-Za-z.:%_-]{1,64}$/),
  receivedAt: z.number().int().nonnegative(),
};

const TelemetryBusRecord = Telemetry.extend(GatewayStamp);
const DecisionBusRecordStamped = DecisionBusRecord.extend(GatewayStamp);
const CommandAckBusRecordStamped = CommandAckBusRecord.extend(GatewayStamp);
/** Every record the fleet view folds; anything else on the topic is counted and dropped. */
export const FleetBusRecord = z.discriminatedUnion('type', [
  TelemetryBusRecord,
  DecisionBusRecordStamped,
  CommandAckBusRecordStamped,
]);
export type FleetBusRecord = z.infer<typeof FleetBusRecord>;

export interface FleetEntry {
  id: string;
  scope: string;
  label: string;
  online: boolean;
  lastSeen: number | null;
  gateway: string | null;
  fills: number;
  equity: number | null;
  spendToday: number;
  positions: Record<string, number>;
  lastDecisions: DecisionRecord[];
  errors: string[];
  /** The policy version the device reports in force (null: none reported, or its built-in one). */
  policyVersion: number | null;
  /** The latest version of the device's profile here (null: the profile has no policy). */
  policyLatest: number | null;
  /** True when the device runs an older version than the latest of its profile (or none). */
  policyLagging: boolean;
  /** When its credential (from enrolment or renewal) expires; null: never enrolled. */
  credentialExpiresAt: number | null;
  /** Last renewal (null: none yet). */
  lastRenewedAt: number | null;
  /** `ok`, `due`, `overdue` (failed to renew), `expired`, `never-enrolled`; null: unknown here. */
  renewal: string | null;
}

/** The enrolment state the fleet view shows beside each device (enrolment-service's summary). */
export interface FleetEnrolment {
  credentialExpiresAt: number | null;
  lastRenewedAt: number | null;
  renewal: string;
}

/** What happened to the records offered to `apply`, since start. */
export interface FleetStats {
  applied: number;
  /** Not a record of a known shape (unreadable, wrong types, unknown fields, markup in numbers…). */
  rejected: number;
  /** Well-formed, but for a device the registry does not know. */
  unknownDevice: number;
  /** A decision already folded (same device and seq): redelivered. */
  duplicates: number;
}

export type ApplyResult =
  | { ok: true }
  | { ok: false; reason: 'rejected'; issue: string }
  | { ok: false; reason: 'unknownDevice' | 'duplicate' };

interface Seen {
  lastSeen: number;
  gateway: string;
  telemetry?: Telemetry;
  decisions: DecisionRecord[];
  /** The seqs of the last DECISION_SEQ_WINDOW decisions that carried one, oldest first. */
  seqs: number[];
  seqSet: Set<number>;
}

/** Default: a device is online while it reported within this window. */
const DEFAULT_ONLINE_WINDOW_MS = 15_000;
/** Decisions kept per device. */
const MAX_DECISIONS_KEPT = 20;
/** How many recent decision seqs per device are remembered to drop redelivered ones. */
const DECISION_SEQ_WINDOW = 1024;

export interface FleetViewOptions {
  onlineWindowMs?: number;
  /** Only devices this says are registered are folded (so the topic cannot grow memory). Default: all. */
  isKnown?: (deviceId: string) => boolean;
  /** A device's command acknowledgement (the gateway stamped its id), for the command service. */
  onCommandAck?: (deviceId: string, ack: CommandAck) => void;
}

/** What the operator sees of each device, built only from what devices report (never keys). */
export class FleetView {
  readonly #seen = new Map<string, Seen>();
  readonly #stats: FleetStats = { applied: 0, rejected: 0, unknownDevice: 0, duplicates: 0 };
  readonly onlineWindowMs: number;
  readonly #isKnown: (deviceId: string) => boolean;
  readonly #onCommandAck: (deviceId: string, ack: CommandAck) => void;

  constructor(options: FleetViewOptions = {}) {
    this.onlineWindowMs = options.onlineWindowMs ?? DEFAULT_ONLINE_WINDOW_MS;
    this.#isKnown = options.isKnown ?? (() => true);
    this.#onCommandAck = options.onCommandAck ?? (() => {});
  }

  /** Checks one record from the telemetry topic against its schema and folds it if it is valid. */
  apply(record: unknown): ApplyResult {
    const parsed = FleetBusRecord.safeParse(record);
    if (!parsed.success) {
      this.#stats.rejected++;
      const i = parsed.error.issues[0];
      return { ok: false, reason: 'rejected', issue: `${i?.path.join('.') || 'record'}: ${i?.message}` };
    }
    const r = parsed.data;
    if (!this.#isKnown(r.deviceId)) {
      this.#stats.unknownDevice++;
      return { ok: false, reason: 'unknownDevice' };
    }
    const seen = this.#seen.get(r.deviceId) ?? {
      lastSeen: 0,
      gateway: '',
      decisions: [],
      seqs: [],
      seqSet: new Set(),
    };
    if (r.type === 'decision' && r.seq !== undefined) {
      if (seen.seqSet.has(r.seq)) {
        this.#stats.duplicates++;
        return { ok: false, reason: 'duplicate' };
      }
      seen.seqSet.add(r.seq);
      seen.seqs.push(r.seq);
      if (seen.seqs.length > DECISION_SEQ_WINDOW) seen.seqSet.delete(seen.seqs.shift()!);
    }
    seen.lastSeen = Math.max(seen.lastSeen, r.receivedAt);
    seen.gateway = r.gateway;
    if (r.type === 'telemetry') {
      const { scope: _s, gateway: _g, remote: _r, receivedAt: _at, ...telemetry } = r;
      seen.telemetry = telemetry;
    } else if (r.type === 'command-ack') {
      // Folded by the command service, which keeps each device's latest status per command.
      this.#onCommandAck(r.deviceId, r.ack);
    } else {
      seen.decisions.push(r.decision);
      if (seen.decisions.length > MAX_DECISIONS_KEPT) seen.decisions.shift();
    }
    this.#seen.set(r.deviceId, seen);
    this.#stats.applied++;
    return { ok: true };
  }

  stats(): FleetStats {
    return { ...this.#stats };
  }

  /** Whether the device reported within the online window. */
  isOnline(deviceId: string, now: number): boolean {
    const s = this.#seen.get(deviceId);
    return !!s && now - s.lastSeen <= this.onlineWindowMs;
  }

  /**
   * One entry per device; `latestPolicies` (the latest version per profile) says which devices
   * run an older policy version than their profile's latest.
   */
  entries(
    devices: { id: string; scope: string; label: string; enrolment?: FleetEnrolment | null }[],
    now: number,
    latestPolicies: Record<string, number> = {},
  ): FleetEntry[] {
    return devices.map((d) => {
      const s = this.#seen.get(d.id);
      const t = s?.telemetry;
      const reported = t?.policy?.profile === d.scope ? t.policy.version : null;
      const latest = latestPolicies[d.scope] ?? null;
      return {
        id: d.id,
        scope: d.scope,
        label: d.label,
        online: this.isOnline(d.id, now),
        lastSeen: s?.lastSeen ?? null,
        gateway: s?.gateway ?? null,
        fills: t?.fills ?? 0,
        equity: t?.equity ?? null,
        spendToday: t?.spendToday ?? 0,
        positions: t?.positions ?? {},
        lastDecisions: (s?.decisions.length ? s.decisions : (t?.lastDecisions ?? [])).slice(-10),
        errors: t?.errors ?? [],
        policyVersion: reported,
        policyLatest: latest,
        policyLagging: latest !== null && (reported === null || reported < latest),
        credentialExpiresAt: d.enrolment?.credentialExpiresAt ?? null,
        lastRenewedAt: d.enrolment?.lastRenewedAt ?? null,
        renewal: d.enrolment?.renewal ?? null,
      };
    });
  }
}
