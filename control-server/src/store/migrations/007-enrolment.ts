import type { Migration } from './index.js';

/**
 * Enrolment (enrolment-store.ts, docs/enrolment.md): enrolment tokens (only the secret's hash),
 * every tunnel address ever allocated (never given twice, revoked devices' included), each
 * device's current keys and credential state, and the device keys a rotation retired (valid
 * for renewals until `valid_until`, then published as revoked key ids).
 */
export const ENROLMENT: Migration = {
  version: 7,
  name: 'enrolment',
  up: `
    CREATE TABLE enrolment_tokens (
      id TEXT PRIMARY KEY,
      device_id TEXT NOT NULL REFERENCES devices (id),
      secret_hash TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      expires_at INTEGER NOT NULL,
      max_uses INTEGER NOT NULL,
      uses INTEGER NOT NULL DEFAULT 0,
      revoked_at INTEGER,
      created_from TEXT
    ) STRICT;
    CREATE INDEX enrolment_tokens_device ON enrolment_tokens (device_id);
    -- Every address ever allocated: a row is never deleted, so an address is never reused.
    CREATE TABLE tunnel_addresses (
      address TEXT PRIMARY KEY,
      device_id TEXT NOT NULL REFERENCES devices (id),
      allocated_at INTEGER NOT NULL
    ) STRICT;
    -- One row per enrolled device: its current keys, tunnel address, credential and rotation.
    CREATE TABLE device_keys (
      device_id TEXT PRIMARY KEY REFERENCES devices (id),
      wg_public_key TEXT NOT NULL UNIQUE,
      device_public_key TEXT NOT NULL UNIQUE,
      device_kid TEXT NOT NULL,
      enrolled_at INTEGER NOT NULL,
      tunnel_address TEXT NOT NULL UNIQUE REFERENCES tunnel_addresses (address),
      credential_issued_at INTEGER,
      credential_expires_at INTEGER,
      last_renewed_at INTEGER,
      renewals INTEGER NOT NULL DEFAULT 0,
      rotation_requested_at INTEGER,
      rotation_completed_at INTEGER
    ) STRICT;
    -- Device keys replaced by a rotation (or a re-enrolment): good for renewals until valid_until.
    CREATE TABLE retired_device_keys (
      device_id TEXT NOT NULL REFERENCES devices (id),
      kid TEXT NOT NULL,
      public_key TEXT NOT NULL,
      retired_at INTEGER NOT NULL,
      valid_until INTEGER NOT NULL,
      PRIMARY KEY (device_id, kid)
    ) STRICT;
    CREATE INDEX retired_device_keys_until ON retired_device_keys (valid_until);
  `,
};
