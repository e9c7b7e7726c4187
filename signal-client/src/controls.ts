import type { Logger } from 'pino';
import { ProtocolError, controlScope, verifyControl, type Control, type KeyRing } from '@appliance/protocol';
import { controlView, type ControlView, type DeviceIdentity } from './control-view.js';

export interface ControlsDeps {
  keys: KeyRing;
  /** The device's id and profile (its token's scope): which fleet targets cover it. */
  device: DeviceIdentity;
  maxClockSkewMs: number;
  now: () => number;
  logger: Logger;
}

/** The newest verified control message of each scope (breaker, eligibility, policy, fleet, heartbeat). */
export interface Controls {
  /**
   * Keeps a control message if it verifies and is not older than the one held for its scope;
   * returns it then (the caller acts on fleet commands), else undefined.
   */
  accept(raw: unknown): Control | undefined;
  /** What they say, in the shapes `decide` takes (see control-view.ts). */
  view(): ControlView;
}

export function createControls(deps: ControlsDeps): Controls {
  const { keys, device, maxClockSkewMs, now, logger } = deps;
  const controls = new Map<string, Control>();

  return {
    accept(raw) {
      try {
        const c = verifyControl(raw, keys, { now: now(), maxClockSkewMs });
        const scope = controlScope(c);
        const held = controls.get(scope);
        if (held && held.version > c.version) return undefined;
        controls.set(scope, c);
        return c;
      } catch (err) {
        const code = err instanceof ProtocolError ? err.code : 'E_MALFORMED';
        logger.warn({ code, reason: (err as Error).message }, 'control message rejected');
        return undefined;
      }
    },
    view: () => controlView(controls, device),
  };
}
