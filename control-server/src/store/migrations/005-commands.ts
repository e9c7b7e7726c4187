import type { Migration } from './index.js';

/**
 * Fleet commands and their acknowledgements. A command is issued (`created_at`, to be confirmed
 * by `confirm_by`), then confirmed once (`confirmed_at`, `confirmed_by`), and lapses at `expires_at`. One ack row
 * per (command, device): its latest status, which only moves forward (received, then done,
 * failed or expired); `detail` holds what the device said (sold, unsold, reason) as JSON.
 */
export const COMMANDS: Migration = {
  version: 5,
  name: 'commands',
  up: `
    CREATE TABLE commands (
      id TEXT PRIMARY KEY,
      action TEXT NOT NULL CHECK (action IN ('halt', 'resume', 'flat')),
      target TEXT NOT NULL,
      reason TEXT NOT NULL,
      by TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      confirm_by INTEGER NOT NULL,
      confirmed_at INTEGER,
      confirmed_by TEXT,
      expires_at INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX commands_confirmed ON commands (confirmed_at) WHERE confirmed_at IS NOT NULL;
    CREATE TABLE command_acks (
      command_id TEXT NOT NULL REFERENCES commands (id),
      device_id TEXT NOT NULL,
      status TEXT NOT NULL CHECK (status IN ('received', 'done', 'failed', 'expired')),
      ts INTEGER NOT NULL,
      detail TEXT NOT NULL CHECK (json_valid(detail)),
      PRIMARY KEY (command_id, device_id)
    ) STRICT;
  `,
};
