import type { Migration } from './index.js';

/**
 * The breaker's history: every level change and override event as it happened live (events
 * rebuilt from retained candles at start are not written again). `event` is the whole event as
 * JSON, readings included.
 */
export const BREAKER_HISTORY: Migration = {
  version: 6,
  name: 'breaker-history',
  up: `
    CREATE TABLE breaker_events (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      at INTEGER NOT NULL,
      type TEXT NOT NULL,
      scope TEXT NOT NULL,
      event TEXT NOT NULL
    ) STRICT;
    CREATE INDEX breaker_events_scope ON breaker_events (scope, seq);
  `,
};
