import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { z } from 'zod';
import { errorClass } from '@appliance/errors';
import {
  FLEET_TARGET_PATTERN,
  FleetAction,
  MAX_FLEET_COMMANDS,
  MAX_FLEET_REASON_CHARS,
  targetCovers,
  type CommandAck,
  type FleetCommand,
} from '@appliance/protocol';
import type { RequestOrigin } from './audit.js';
import { CommandRepository, type StoredAck, type StoredCommand } from './command-repository.js';
import type { Store } from './store/database.js';

/** A command lapses this long after it is confirmed unless the request says otherwise: 24 h. */
const DEFAULT_COMMAND_EXPIRY_MS = 24 * 3_600_000;
/** An issued command must be confirmed within this: 5 minutes. */
const COMMAND_CONFIRM_WINDOW_MS = 5 * 60_000;
/** Bounds of `expiresInMs`: a minute to 7 days. */
const MIN_EXPIRY_MS = 60_000;
const MAX_EXPIRY_MS = 7 * 24 * 3_600_000;
/** `GET /api/commands` lists this many of the latest. */
const LIST_LIMIT = 200;

export const COMMAND_API_ERROR_CODES = {
  E_INVALID: 'the request is not valid (the message names the field)',
  E_UNKNOWN_TARGET: 'the target is not all, a known profile or a registered device',
  E_COMMAND_UNKNOWN: 'no command has this id',
  E_COMMAND_CONFIRMED: 'the command was already confirmed (a confirm is never replayed)',
  E_COMMAND_EXPIRED: 'the command was not confirmed in time: issue it again',
} as const;

/** A refused command request; `COMMAND_API_STATUS` gives its HTTP status. Nothing changed. */
export class CommandApiError extends errorClass('CommandApiError', COMMAND_API_ERROR_CODES) {}

export const COMMAND_API_STATUS: Record<keyof typeof COMMAND_API_ERROR_CODES, number> = {
  E_INVALID: 400,
  E_UNKNOWN_TARGET: 400,
  E_COMMAND_UNKNOWN: 404,
  E_COMMAND_CONFIRMED: 409,
  E_COMMAND_EXPIRED: 410,
};

/** The body of one `fleet` control message (key `fleet:<target>`). */
export interface FleetBody {
  target: string;
  halted: boolean;
  reason: string;
  commands: FleetCommand[];
}

/** What the operator sees of one covered device. */
export type DeviceCommandStatus = 'pending' | 'received' | 'done' | 'failed' | 'expired' | 'offline';

export interface DeviceCommandView {
  deviceId: string;
  profile: string;
  status: DeviceCommandStatus;
  /** When the device said so (its clock), when it did. */
  ts: number | null;
  sold?: CommandAck['sold'];
  unsold?: CommandAck['unsold'];
  reason?: string;
}

/** `awaiting-confirmation` → `confirmed` (→ `expired` once lapsed), or `lapsed` if never confirmed in time. */
export type CommandState = 'awaiting-confirmation' | 'lapsed' | 'confirmed' | 'expired';

export interface CommandView extends StoredCommand {
  state: CommandState;
  /** What the command does, in words. */
  effect: string;
}

export interface CommandServiceOptions {
  store: Store;
  /** The registered devices and their profiles (revoked ones are covered by no command). */
  devices: () => { id: string; scope: string; revokedAt?: number }[];
  /** Whether the fleet view has heard from the device lately. */
  isOnline: (deviceId: string) => boolean;
  now: () => number;
  logger: Logger;
}

const IssueRequest = z.strictObject({
  action: FleetAction,
  target: z.string().max(100),
  reason: z.string().trim().min(1, 'say why, for the people who will see it').max(MAX_FLEET_REASON_CHARS),
  operator: z.string().trim().min(1).max(64).optional(),
  expiresInMs: z
    .number()
    .int()
    .min(MIN_EXPIRY_MS, 'at least a minute')
    .max(MAX_EXPIRY_MS, 'at most 7 days')
    .optional(),
});
const ConfirmRequest = z.strictObject({ operator: z.string().trim().min(1).max(64).optional() });

function parse<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const r = schema.safeParse(input ?? {});
  if (r.success) return r.data;
  const i = r.error.issues[0];
  throw new CommandApiError('E_INVALID', `${i?.path.join('.') || 'body'}: ${i?.message ?? 'invalid'}`);
}

const EFFECT: Record<FleetAction, string> = {
  halt: 'halts buying (sells go on) until resumed',
  resume: 'lifts halts on the target and on every narrower target it covers',
  flat: 'sells what the system bought on each device (its own books) and halts buying until resumed',
};

/** Whether `narrow` is a target inside `broad` (never `broad` itself). */
function narrower(broad: string, narrow: string, profileOf: (id: string) => string | undefined): boolean {
  if (broad === narrow) return false;
  if (broad === 'all') return true;
  if (broad.startsWith('profile:') && narrow.startsWith('device:'))
    return profileOf(narrow.slice('device:'.length)) === broad.slice('profile:'.length);
  return false;
}

/**
 * Fleet commands (halt, resume, flat) in two steps: `issue` stores one with a confirm-by time and
 * publishes nothing; `confirm` (once, in time) makes it part of its target's `fleet` message,
 * signed and published at once and re-issued with every heartbeat until it expires, so a device
 * that reconnects gets it. Devices acknowledge through the telemetry topic (`onAck`); the
 * operator sees each covered device's status. Everything is in the database: a restart keeps it.
 */
export class CommandService {
  readonly #repo: CommandRepository;
  readonly #o: CommandServiceOptions;
  /** Publishes every target's fleet message; set once the control publisher exists. */
  onChange: () => Promise<void> = async () => {};
  readonly #ackDrops = { unknownCommand: 0, notCovered: 0 };

  constructor(o: CommandServiceOptions) {
    this.#o = o;
    this.#repo = new CommandRepository(o.store);
  }

  #profiles(): Map<string, string> {
    return new Map(this.#o.devices().map((d) => [d.id, d.scope]));
  }

  #checkTarget(target: string): void {
    if (!FLEET_TARGET_PATTERN.test(target))
      throw new CommandApiError(
        'E_UNKNOWN_TARGET',
        `target: ${JSON.stringify(target.slice(0, 80))} is not all, profile:<profile> or device:<id>`,
      );
    const devices = this.#o.devices();
    if (target.startsWith('device:')) {
      const id = target.slice('device:'.length);
      const d = devices.find((x) => x.id === id);
      if (!d) throw new CommandApiError('E_UNKNOWN_TARGET', `target: no device ${id} is registered`);
      if (d.revokedAt !== undefined)
        throw new CommandApiError('E_UNKNOWN_TARGET', `target: device ${id} is revoked`);
    }
    if (target.startsWith('profile:mandate:')) {
      const profile = target.slice('profile:'.length);
      if (!devices.some((d) => d.scope === profile))
        throw new CommandApiError('E_UNKNOWN_TARGET', `target: no device has profile ${profile}`);
    }
  }

  /** Step one: stores the command, to be confirmed within 5 minutes. Publishes nothing. */
  issue(body: unknown, from: RequestOrigin): CommandView {
    const r = parse(IssueRequest, body);
    this.#checkTarget(r.target);
    const now = this.#o.now();
    const command = {
      id: `cmd-${randomBytes(10).toString('hex')}`,
      action: r.action,
      target: r.target,
      reason: r.reason,
      by: r.operator ?? `operator at ${from.remote}`,
      createdAt: now,
      confirmBy: now + COMMAND_CONFIRM_WINDOW_MS,
      expiresAt: now + (r.expiresInMs ?? DEFAULT_COMMAND_EXPIRY_MS),
    };
    this.#repo.insert(command);
    this.#o.logger.warn({ ...command, from }, 'fleet command issued, waiting for confirmation');
    return this.#view({ ...command, confirmedAt: null, confirmedBy: null }, now);
  }

  /** Step two: confirms once, in time; then signs and publishes the fleet messages. */
  async confirm(id: string, body: unknown, from: RequestOrigin): Promise<CommandView> {
    const r = parse(ConfirmRequest, body);
    const c = this.#repo.get(id);
    if (!c) throw new CommandApiError('E_COMMAND_UNKNOWN', `no command ${id.slice(0, 80)}`);
    if (c.confirmedAt !== null)
      throw new CommandApiError(
        'E_COMMAND_CONFIRMED',
        `${id} was confirmed at ${new Date(c.confirmedAt).toISOString()}`,
      );
    const now = this.#o.now();
    if (now > c.confirmBy)
      throw new CommandApiError(
        'E_COMMAND_EXPIRED',
        `${id} had to be confirmed by ${new Date(c.confirmBy).toISOString()}: issue it again`,
      );
    const by = r.operator ?? `operator at ${from.remote}`;
    if (!this.#repo.confirm(id, now, by))
      throw new CommandApiError('E_COMMAND_CONFIRMED', `${id} was already confirmed`);
    this.#o.logger.warn({ id, action: c.action, target: c.target, by, from }, 'fleet command confirmed');
    await this.onChange();
    return this.#view(this.#repo.get(id)!, now);
  }

  list(): { commands: (CommandView & { counts: Record<DeviceCommandStatus, number> })[] } {
    const now = this.#o.now();
    return {
      commands: this.#repo.list(LIST_LIMIT).map((c) => {
        const counts = { pending: 0, received: 0, done: 0, failed: 0, expired: 0, offline: 0 };
        for (const d of this.#devicesOf(c, now)) counts[d.status]++;
        return { ...this.#view(c, now), counts };
      }),
    };
  }

  get(id: string): { command: CommandView; devices: DeviceCommandView[] } {
    const c = this.#repo.get(id);
    if (!c) throw new CommandApiError('E_COMMAND_UNKNOWN', `no command ${id.slice(0, 80)}`);
    const now = this.#o.now();
    return { command: this.#view(c, now), devices: this.#devicesOf(c, now) };
  }

  /**
   * A device's acknowledgement from the telemetry topic (the gateway stamped `deviceId`): kept if
   * it is for a confirmed command that covers the device and moves its status forward.
   */
  onAck(deviceId: string, ack: CommandAck): 'stored' | 'kept' | 'ignored' {
    const c = this.#repo.get(ack.commandId);
    if (!c || c.confirmedAt === null || c.action !== ack.action) {
      this.#ackDrops.unknownCommand++;
      return 'ignored';
    }
    const profile = this.#profiles().get(deviceId);
    if (profile === undefined || !targetCovers(c.target, { deviceId, profile })) {
      this.#ackDrops.notCovered++;
      return 'ignored';
    }
    const { sold, unsold, reason } = ack;
    const stored = this.#repo.foldAck({
      commandId: c.id,
      deviceId,
      status: ack.status,
      ts: ack.ts,
      detail: { ...(sold && { sold }), ...(unsold && { unsold }), ...(reason !== undefined && { reason }) },
    });
    if (stored) this.#o.logger.info({ command: c.id, device: deviceId, status: ack.status }, 'command ack');
    return stored ? 'stored' : 'kept';
  }

  /** Acknowledgements dropped since start: for an unknown or unconfirmed command, or a device it does not cover. */
  ackDrops(): { unknownCommand: number; notCovered: number } {
    return { ...this.#ackDrops };
  }

  /**
   * Every target's fleet message as of now. `halted` follows the confirmed commands in order:
   * halt and flat set it on their target; resume clears it on its target and every narrower one
   * (resume `all` clears all; resume `profile:p` clears `device:*` of p's devices). A halt stays
   * until resumed, even after its command expired; `commands` lists the unexpired ones.
   */
  fleetBodies(): FleetBody[] {
    const now = this.#o.now();
    const profiles = this.#profiles();
    const profileOf = (id: string) => profiles.get(id);
    const state = new Map<string, { halted: boolean; reason: string; commands: FleetCommand[] }>();
    const at = (t: string) => {
      let s = state.get(t);
      if (!s) state.set(t, (s = { halted: false, reason: '', commands: [] }));
      return s;
    };
    for (const c of this.#repo.confirmed()) {
      const s = at(c.target);
      if (c.action === 'resume') {
        for (const [t, other] of state)
          if (t === c.target || narrower(c.target, t, profileOf)) {
            other.halted = false;
            other.reason = `resumed: ${c.reason}`.slice(0, MAX_FLEET_REASON_CHARS);
          }
      } else {
        s.halted = true;
        s.reason = c.reason;
      }
      if (c.expiresAt > now)
        s.commands.push({
          id: c.id,
          action: c.action,
          reason: c.reason,
          by: (c.confirmedBy ?? c.by).slice(0, 64),
          issuedAt: c.confirmedAt!,
          expiresAt: c.expiresAt,
        });
    }
    return [...state].map(([target, s]) => ({
      target,
      halted: s.halted,
      reason: s.reason,
      commands: s.commands.slice(-MAX_FLEET_COMMANDS),
    }));
  }

  #view(c: StoredCommand, now: number): CommandView {
    const state: CommandState =
      c.confirmedAt === null
        ? now > c.confirmBy
          ? 'lapsed'
          : 'awaiting-confirmation'
        : now >= c.expiresAt
          ? 'expired'
          : 'confirmed';
    return { ...c, state, effect: `${c.action} ${c.target}: ${EFFECT[c.action]}` };
  }

  #devicesOf(c: StoredCommand, now: number): DeviceCommandView[] {
    const acks = new Map<string, StoredAck>(this.#repo.acks(c.id).map((a) => [a.deviceId, a]));
    return this.#o
      .devices()
      .filter(
        (d) => d.revokedAt === undefined && targetCovers(c.target, { deviceId: d.id, profile: d.scope }),
      )
      .map((d) => {
        const a = acks.get(d.id);
        if (a) return { deviceId: d.id, profile: d.scope, status: a.status, ts: a.ts, ...a.detail };
        const status: DeviceCommandStatus =
          c.confirmedAt === null
            ? 'pending'
            : now >= c.expiresAt
              ? 'expired'
              : this.#o.isOnline(d.id)
                ? 'pending'
                : 'offline';
        return { deviceId: d.id, profile: d.scope, status, ts: null };
      });
  }
}
