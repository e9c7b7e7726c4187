import pino from 'pino';
import t from 'tap';
import { RecordingConcentrator } from '../src/concentrator.js';
import type { DeviceKeysRow } from '../src/enrolment-store.js';
import { RECONCILE_BATCH, reconcilePeers } from '../src/peer-reconcile.js';

const silent = pino({ level: 'silent' });

function row(i: number): DeviceKeysRow {
  return {
    device_id: `dev-${i}`,
    wg_public_key: `wg-${i}`,
    device_public_key: `dk-${i}`,
    device_kid: `kid-${i}`,
    enrolled_at: 0,
    tunnel_address: `10.77.${i >> 8}.${i & 255}`,
    credential_issued_at: null,
    credential_expires_at: null,
    last_renewed_at: null,
    renewals: 0,
    rotation_requested_at: null,
    rotation_completed_at: null,
  };
}

const revokedEvery7 = (id: string) => Number(id.slice(4)) % 7 === 0;

t.test('every device in batches of RECONCILE_BATCH: one change each, revoked ones removed', async (t) => {
  const keys = Array.from({ length: 2 * RECONCILE_BATCH + 50 }, (_, i) => row(i + 2));
  const c = new RecordingConcentrator();
  const r = await reconcilePeers({ keys, revoked: revokedEvery7, concentrator: c, logger: silent });
  t.equal(c.calls.length, 3, 'three changes for 450 devices');
  t.same(
    c.calls.map((x) => (x.op === 'setPeers' ? x.add.length + x.remove.length : -1)),
    [RECONCILE_BATCH, RECONCILE_BATCH, 50],
  );
  const removed = keys.filter((k) => revokedEvery7(k.device_id)).map((k) => k.wg_public_key);
  t.same(
    c.calls.flatMap((x) => (x.op === 'setPeers' ? x.remove : [])),
    removed,
    'each revoked device removed',
  );
  t.same(
    c.calls.flatMap((x) => (x.op === 'setPeers' ? x.add : [])),
    keys
      .filter((k) => !revokedEvery7(k.device_id))
      .map((k) => ({ wgPublicKey: k.wg_public_key, address: k.tunnel_address })),
    'each active device added with its address',
  );
  t.same(r, { added: keys.length - removed.length, removed: removed.length, failed: 0 });
});

t.test('a refused batch is redone one device at a time, and only the bad peer fails', async (t) => {
  class Refusing extends RecordingConcentrator {
    override async setPeers(): Promise<void> {
      throw new Error('wg set: Invalid argument');
    }
    override async addPeer(wgPublicKey: string, address: string): Promise<void> {
      if (wgPublicKey === 'wg-5') throw new Error('wg set: Invalid argument');
      await super.addPeer(wgPublicKey, address);
    }
  }
  const keys = [2, 3, 4, 5, 6, 7].map(row);
  const c = new Refusing();
  const r = await reconcilePeers({ keys, revoked: revokedEvery7, concentrator: c, logger: silent });
  t.same(c.calls, [
    { op: 'addPeer', wgPublicKey: 'wg-2', address: '10.77.0.2' },
    { op: 'addPeer', wgPublicKey: 'wg-3', address: '10.77.0.3' },
    { op: 'addPeer', wgPublicKey: 'wg-4', address: '10.77.0.4' },
    { op: 'addPeer', wgPublicKey: 'wg-6', address: '10.77.0.6' },
    { op: 'removePeer', wgPublicKey: 'wg-7' },
  ]);
  t.same(r, { added: 4, removed: 1, failed: 1 });
});

t.test('no devices, no change', async (t) => {
  const c = new RecordingConcentrator();
  t.same(await reconcilePeers({ keys: [], revoked: () => false, concentrator: c, logger: silent }), {
    added: 0,
    removed: 0,
    failed: 0,
  });
  t.same(c.calls, []);
});
