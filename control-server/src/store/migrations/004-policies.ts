import type { Migration } from './index.js';

/**
 * Spending policy versions per profile: numbered 1, 2, 3 … per profile, never changed once
 * written. `content` is the policy as validated (trading-core's CentralPolicy, defaults applied);
 * `rolled_back_from` is the earlier version whose content a rollback copied.
 */
export const POLICIES: Migration = {
  version: 4,
  name: 'policies',
  up: `
    CREATE TABLE policy_versions (
      profile TEXT NOT NULL,
      version INTEGER NOT NULL CHECK (version >= 1),
      content TEXT NOT NULL CHECK (json_valid(content)),
      created_at INTEGER NOT NULL,
      by TEXT NOT NULL,
      note TEXT,
      rolled_back_from INTEGER,
      PRIMARY KEY (profile, version)
    ) STRICT;
  `,
};
