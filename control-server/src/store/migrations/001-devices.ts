import type { Migration } from './index.js';

/**
 * Devices, their tokens and paper accounts, their revocations (registry.ts), and which of the
 * data folder's files were imported (store/import-files.ts). Origins are JSON (RequestOrigin);
 * every row is checked against the registry's schema when it is read back.
 */
export const DEVICES: Migration = {
  version: 1,
  name: 'devices',
  up: `
    CREATE TABLE devices (
      id TEXT PRIMARY KEY,
      scope TEXT NOT NULL,
      label TEXT NOT NULL DEFAULT '',
      created_at INTEGER NOT NULL,
      created_from TEXT
    ) STRICT;
    -- A revoked device is never un-revoked: one row, written once.
    CREATE TABLE device_revocations (
      device_id TEXT PRIMARY KEY REFERENCES devices (id),
      revoked_at INTEGER NOT NULL,
      revoked_from TEXT
    ) STRICT;
    -- Each token issued, oldest first by seq (the registry keeps the last 50): never the token.
    CREATE TABLE device_tokens (
      device_id TEXT NOT NULL REFERENCES devices (id),
      seq INTEGER NOT NULL,
      issued_at INTEGER NOT NULL,
      expires_at INTEGER NOT NULL,
      fingerprint TEXT NOT NULL,
      issued_from TEXT NOT NULL,
      PRIMARY KEY (device_id, seq)
    ) STRICT;
    CREATE TABLE device_paper_accounts (
      device_id TEXT NOT NULL REFERENCES devices (id),
      seq INTEGER NOT NULL,
      created_at INTEGER NOT NULL,
      api_key_prefix TEXT NOT NULL,
      created_from TEXT NOT NULL,
      PRIMARY KEY (device_id, seq)
    ) STRICT;
    CREATE TABLE imported_files (
      name TEXT PRIMARY KEY,
      sha256 TEXT NOT NULL,
      imported_at INTEGER NOT NULL
    ) STRICT;
  `,
};
