import type { Migration } from './index.js';

/**
 * The operators' breaker overrides in force (breaker-overrides.ts), one per scope, and the
 * rotated admin token's hash (admin-auth.ts): one row at most, never the token itself.
 */
export const BREAKER_AND_ADMIN: Migration = {
  version: 3,
  name: 'breaker-admin',
  up: `
    -- position: the order the operator's view lists them in (the latest set last).
    CREATE TABLE breaker_overrides (
      scope TEXT PRIMARY KEY,
      position INTEGER NOT NULL,
      level TEXT NOT NULL,
      reason TEXT NOT NULL,
      set_by TEXT NOT NULL,
      set_at INTEGER NOT NULL,
      expires_at INTEGER
    ) STRICT;
    CREATE TABLE admin_token (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      sha256 TEXT NOT NULL,
      rotated_at INTEGER NOT NULL,
      rotated_from TEXT NOT NULL,
      env_sha256 TEXT NOT NULL
    ) STRICT;
  `,
};
