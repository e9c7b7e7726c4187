import type { Logger } from 'pino';
import {
  controlScope,
  keyIdOf,
  targetCovers,
  type BusMessage,
  type Control,
  type DeviceTokenClaims,
  type KeyRing,
} from '@appliance/protocol';
import { CLOSE } from './close-codes.js';
import type { GatewayOptions } from './options.js';
import type { DropRecord } from './record-drops.js';
import { checkControlRecord, type ControlCheck } from './record-filter.js';
import type { Session, Sessions } from './session.js';

export interface ControlStateDeps {
  options: Pick<GatewayOptions, 'maxRecordBytes' | 'maxControlScopes'>;
  /** The control server's public keys: control messages verify against these alone. */
  keys: KeyRing;
  sessions: Sessions;
  logger: Logger;
  drop: DropRecord;
}

export type ControlState = ReturnType<typeof createControlState>;

/**
 * Whether a control message of `scope` is for the device of `session`. Fleet messages
 * (`fleet:<target>`) go only to the devices their target covers (`all`, `profile:<its scope>`,
 * `device:<its id>`): a beta device never hears of a family or another device's command, and a
 * mandate's devices never of another mandate's. Every other scope goes to every device.
 */
export function controlIsFor(session: Pick<Session, 'claims'>, scope: string): boolean {
  if (!scope.startsWith('fleet:')) return true;
  return targetCovers(scope.slice('fleet:'.length), {
    deviceId: session.claims.sub,
    profile: session.claims.scope,
  });
}

/**
 * What the control topic says: the newest verified control message per scope (at most
 * `maxControlScopes`), sent to the ready devices it is for (`controlIsFor`) as it changes and to
 * each at hello, and the devices whose credentials the control server has withdrawn.
 */
export function createControlState({ options, keys, sessions, logger, drop }: ControlStateDeps) {
  /** Newest control message per scope, as the frame sent to devices. */
  const controls = new Map<string, { version: number; frame: string }>();
  /** Devices whose credentials the control server has withdrawn (the newest signed list). */
  let revoked = new Set<string>();
  /** Device keys retired by a rotation: a credential bound to one (`cnf`) is refused. */
  let retiredKeys = new Set<string>();
  let revokedVersion = -1;
  const controlCheck: ControlCheck = { keys, maxRecordBytes: options.maxRecordBytes };

  /**
   * The control topic's handler. Control state only changes through a message signed by the
   * control server: a forged one, whatever its version, is dropped before it is compared with
   * anything. A verified message older than the one held for its scope is ignored; one of the
   * same version replaces it (the same message read again). New scopes are bounded by
   * `maxControlScopes`.
   */
  function onControl(m: BusMessage): void {
    const checked = checkControlRecord(m, controlCheck);
    if (!checked.ok) return drop(checked.reason, m, checked.detail);
    const { control: c, frame } = checked;
    if (c.kind === 'revocation') return onRevocation(c);
    const scope = controlScope(c);
    const held = controls.get(scope);
    if (held && held.version > c.version)
      return drop('stale-control', m, `${scope} version ${c.version} is older than ${held.version}`);
    if (!held && controls.size >= options.maxControlScopes)
      return drop('too-many-control-scopes', m, `${controls.size} scopes held; ${scope} is not taken`);
    controls.set(scope, { version: c.version, frame });
    for (const s of sessions.all) if (s.ready && controlIsFor(s, scope)) sessions.deliver(s, frame);
  }

  /**
   * A revocation moves no money but can cut devices off; it is verified like every control
   * message. Its validity window is not checked either: the list is complete and versioned, and
   * an old list must never let a revoked device back in while the control server is away.
   */
  function onRevocation(c: Control): void {
    if (c.kind !== 'revocation' || c.version <= revokedVersion) return;
    revokedVersion = c.version;
    const before = revoked;
    revoked = new Set(c.body.devices);
    retiredKeys = new Set(c.body.keys ?? []);
    for (const s of sessions.all) {
      if (revoked.has(s.claims.sub)) sessions.refuse(s, CLOSE.POLICY, 'device revoked');
      else if (retiredKeys.size > 0 && isRetired(s.claims))
        sessions.refuse(s, CLOSE.POLICY, 'device key retired');
    }
    // The control server republishes the list every few seconds: only a change is news.
    let added = 0;
    for (const d of revoked) if (!before.has(d)) added++;
    const removed = before.size - (revoked.size - added);
    const changed = added > 0 || removed > 0;
    logger[changed ? 'info' : 'debug'](
      { devices: revoked.size, added, removed, version: c.version },
      'revocation list updated',
    );
  }

  /** The key id of a session's bound key, computed once per credential. */
  const kids = new WeakMap<DeviceTokenClaims, string>();
  function isRetired(claims: DeviceTokenClaims): boolean {
    if (claims.cnf === undefined) return false;
    let kid = kids.get(claims);
    if (kid === undefined) kids.set(claims, (kid = keyIdOf(claims.cnf)));
    return retiredKeys.has(kid);
  }

  return {
    onControl,
    /** Whether the newest revocation list names `device`: it is refused at the upgrade. */
    isRevoked: (device: string) => revoked.has(device),
    /** Whether the newest revocation list retired this device key (key id): refused at the upgrade. */
    isKeyRetired: (kid: string) => retiredKeys.has(kid),
    /** Per scope, the newest verified message's version and frame. */
    held: controls as ReadonlyMap<string, { version: number; frame: string }>,
  };
}
