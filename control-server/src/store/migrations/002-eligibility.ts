import type { Migration } from './index.js';

/**
 * The eligibility history (eligibility-history.ts): one row per entry, numbered by `seq`, the
 * entry whole as JSON (checked against HistoryEntry when read back); `type` and `at` for queries.
 */
export const ELIGIBILITY: Migration = {
  version: 2,
  name: 'eligibility',
  up: `
    CREATE TABLE eligibility_history (
      seq INTEGER PRIMARY KEY,
      type TEXT NOT NULL,
      at INTEGER NOT NULL,
      entry TEXT NOT NULL
    ) STRICT;
  `,
};
