import type { Logger } from 'pino';
import type { Concentrator, PeerAddress } from './concentrator.js';
import type { DeviceKeysRow } from './enrolment-store.js';

/** Devices whose peers the start-up reconcile sets in one change (one `wg set`, ~20 KB of argv). */
export const RECONCILE_BATCH = 200;

export interface ReconcileResult {
  added: number;
  removed: number;
  failed: number;
}

export interface ReconcileInput {
  /** Every device's keys row (revoked devices' too). */
  keys: readonly DeviceKeysRow[];
  revoked(deviceId: string): boolean;
  concentrator: Concentrator;
  logger: Logger;
}

/**
 * Puts the concentrator's peers back as the registry has them: each active device's peer added
 * (idempotent), each revoked device's removed. RECONCILE_BATCH devices a change, so a thousand
 * devices cost a handful of `wg` runs rather than a thousand; a batch the concentrator refuses is
 * redone one device at a time, so one bad peer costs only itself (logged at error level).
 */
export async function reconcilePeers(input: ReconcileInput): Promise<ReconcileResult> {
  const out: ReconcileResult = { added: 0, removed: 0, failed: 0 };
  const { keys, concentrator, logger } = input;
  for (let i = 0; i < keys.length; i += RECONCILE_BATCH) {
    const batch = keys.slice(i, i + RECONCILE_BATCH);
    const add: PeerAddress[] = [];
    const remove: string[] = [];
    for (const k of batch) {
      if (input.revoked(k.device_id)) remove.push(k.wg_public_key);
      else add.push({ wgPublicKey: k.wg_public_key, address: k.tunnel_address });
    }
    try {
      await concentrator.setPeers(add, remove);
      out.added += add.length;
      out.removed += remove.length;
    } catch (err) {
      logger.warn(
        { err, devices: batch.length },
        'concentrator refused a batch of peers: setting them one device at a time',
      );
      for (const k of batch) await reconcileOne(input, k, out);
    }
  }
  return out;
}

async function reconcileOne(input: ReconcileInput, k: DeviceKeysRow, out: ReconcileResult): Promise<void> {
  try {
    if (input.revoked(k.device_id)) {
      await input.concentrator.removePeer(k.wg_public_key);
      out.removed++;
    } else {
      await input.concentrator.addPeer(k.wg_public_key, k.tunnel_address);
      out.added++;
    }
  } catch (err) {
    out.failed++;
    input.logger.error(
      { device: k.device_id, wgPublicKey: k.wg_public_key, address: k.tunnel_address, err },
      'CONCENTRATOR RECONCILE FAILED for a device',
    );
  }
}
