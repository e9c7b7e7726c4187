import type { Db } from './store/database.js';

/** The enrolment tables of migration 007, row by row. Every function runs in the caller's transaction. */

export interface EnrolmentTokenRow {
  id: string;
  device_id: string;
  secret_hash: string;
  created_at: number;
  expires_at: number;
  max_uses: number;
  uses: number;
  revoked_at: number | null;
  created_from: string | null;
}

export interface DeviceKeysRow {
  device_id: string;
  wg_public_key: string;
  device_public_key: string;
  device_kid: string;
  enrolled_at: number;
  tunnel_address: string;
  credential_issued_at: number | null;
  credential_expires_at: number | null;
  last_renewed_at: number | null;
  renewals: number;
  rotation_requested_at: number | null;
  rotation_completed_at: number | null;
}

export interface RetiredKeyRow {
  device_id: string;
  kid: string;
  public_key: string;
  retired_at: number;
  valid_until: number;
}

export function insertToken(db: Db, row: Omit<EnrolmentTokenRow, 'uses' | 'revoked_at'>): void {
  db.prepare(
    `INSERT INTO enrolment_tokens (id, device_id, secret_hash, created_at, expires_at, max_uses, created_from)
     VALUES (@id, @device_id, @secret_hash, @created_at, @expires_at, @max_uses, @created_from)`,
  ).run(row);
}

export function getToken(db: Db, id: string): EnrolmentTokenRow | undefined {
  return db.prepare('SELECT * FROM enrolment_tokens WHERE id = ?').get(id) as EnrolmentTokenRow | undefined;
}

export function listTokens(db: Db): EnrolmentTokenRow[] {
  return db.prepare('SELECT * FROM enrolment_tokens ORDER BY created_at, id').all() as EnrolmentTokenRow[];
}

export function countTokenUse(db: Db, id: string): void {
  db.prepare('UPDATE enrolment_tokens SET uses = uses + 1 WHERE id = ?').run(id);
}

export function revokeToken(db: Db, id: string, now: number): void {
  db.prepare('UPDATE enrolment_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(now, id);
}

/** Withdraws the devices' tokens that could still be used. */
export function revokeDeviceTokens(db: Db, deviceIds: string[], now: number): void {
  const st = db.prepare(
    'UPDATE enrolment_tokens SET revoked_at = ? WHERE device_id = ? AND revoked_at IS NULL AND uses < max_uses',
  );
  for (const id of deviceIds) st.run(now, id);
}

export function getKeys(db: Db, deviceId: string): DeviceKeysRow | undefined {
  return db.prepare('SELECT * FROM device_keys WHERE device_id = ?').get(deviceId) as
    DeviceKeysRow | undefined;
}

export function allKeys(db: Db): DeviceKeysRow[] {
  return db.prepare('SELECT * FROM device_keys ORDER BY device_id').all() as DeviceKeysRow[];
}

/** Another device holding this WireGuard or device public key, if any (revoked devices included). */
export function keyHolder(
  db: Db,
  deviceId: string,
  wgPublicKey: string,
  devicePublicKey: string,
): string | undefined {
  const row = db
    .prepare(
      `SELECT device_id FROM device_keys WHERE device_id <> ? AND (wg_public_key = ? OR device_public_key = ?)
       UNION SELECT device_id FROM retired_device_keys WHERE device_id <> ? AND public_key = ? LIMIT 1`,
    )
    .get(deviceId, wgPublicKey, devicePublicKey, deviceId, devicePublicKey) as
    { device_id: string } | undefined;
  return row?.device_id;
}

export function allocatedAddresses(db: Db): Set<string> {
  return new Set(
    (db.prepare('SELECT address FROM tunnel_addresses').all() as { address: string }[]).map((r) => r.address),
  );
}

export function recordAddress(db: Db, address: string, deviceId: string, now: number): void {
  db.prepare('INSERT INTO tunnel_addresses (address, device_id, allocated_at) VALUES (?, ?, ?)').run(
    address,
    deviceId,
    now,
  );
}

/** The device's current keys (a new row, or replacing the keys of its existing one). */
export function writeKeys(
  db: Db,
  k: {
    deviceId: string;
    wgPublicKey: string;
    devicePublicKey: string;
    deviceKid: string;
    address: string;
    now: number;
    /** A rotation keeps the device's enrolment time; an enrolment or registration sets it. */
    rotation: boolean;
  },
): void {
  db.prepare(
    `INSERT INTO device_keys (device_id, wg_public_key, device_public_key, device_kid, enrolled_at, tunnel_address)
     VALUES (@deviceId, @wgPublicKey, @devicePublicKey, @deviceKid, @now, @address)
     ON CONFLICT (device_id) DO UPDATE SET wg_public_key = excluded.wg_public_key,
       device_public_key = excluded.device_public_key, device_kid = excluded.device_kid,
       enrolled_at = CASE WHEN @rotation THEN device_keys.enrolled_at ELSE excluded.enrolled_at END`,
  ).run({ ...k, rotation: k.rotation ? 1 : 0 });
}

export function recordCredential(
  db: Db,
  deviceId: string,
  issuedAt: number,
  expiresAt: number,
  renewal: boolean,
): void {
  db.prepare(
    `UPDATE device_keys SET credential_issued_at = ?, credential_expires_at = ?,
       last_renewed_at = CASE WHEN ? THEN ? ELSE last_renewed_at END,
       renewals = renewals + CASE WHEN ? THEN 1 ELSE 0 END
     WHERE device_id = ?`,
  ).run(issuedAt, expiresAt, renewal ? 1 : 0, issuedAt, renewal ? 1 : 0, deviceId);
}

export function requestRotation(db: Db, deviceId: string, now: number): void {
  db.prepare('UPDATE device_keys SET rotation_requested_at = ? WHERE device_id = ?').run(now, deviceId);
}

export function completeRotation(db: Db, deviceId: string, now: number): void {
  db.prepare('UPDATE device_keys SET rotation_completed_at = ? WHERE device_id = ?').run(now, deviceId);
}

/** Keeps a replaced device key, good for renewals until `validUntil`. */
export function retireKey(
  db: Db,
  r: { deviceId: string; kid: string; publicKey: string; now: number; validUntil: number },
): void {
  db.prepare(
    `INSERT INTO retired_device_keys (device_id, kid, public_key, retired_at, valid_until)
     VALUES (@deviceId, @kid, @publicKey, @now, @validUntil)
     ON CONFLICT (device_id, kid) DO UPDATE SET retired_at = excluded.retired_at, valid_until = excluded.valid_until`,
  ).run(r);
}

export function retiredKey(db: Db, deviceId: string, kid: string): RetiredKeyRow | undefined {
  return db
    .prepare('SELECT * FROM retired_device_keys WHERE device_id = ? AND kid = ?')
    .get(deviceId, kid) as RetiredKeyRow | undefined;
}

export function retiredKeys(db: Db): RetiredKeyRow[] {
  return db.prepare('SELECT * FROM retired_device_keys ORDER BY retired_at, kid').all() as RetiredKeyRow[];
}

/** Key ids whose overlap has ended by `now`: gateways refuse credentials bound to them. */
export function endedKids(db: Db, now: number): string[] {
  return (
    db
      .prepare('SELECT DISTINCT kid FROM retired_device_keys WHERE valid_until <= ? ORDER BY kid')
      .all(now) as { kid: string }[]
  ).map((r) => r.kid);
}
