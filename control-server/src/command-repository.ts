import type { CommandAck, CommandAckStatus, FleetAction } from '@appliance/protocol';
import type { Store } from './store/database.js';

/** A fleet command as stored: issued, then confirmed once, lapsing at `expiresAt`. */
export interface StoredCommand {
  id: string;
  action: FleetAction;
  target: string;
  reason: string;
  /** Who issued it. */
  by: string;
  createdAt: number;
  /** The latest time it may be confirmed. */
  confirmBy: number;
  confirmedAt: number | null;
  confirmedBy: string | null;
  expiresAt: number;
}

/** What one device last said about a command. */
export interface StoredAck {
  commandId: string;
  deviceId: string;
  status: CommandAckStatus;
  ts: number;
  detail: Pick<CommandAck, 'sold' | 'unsold' | 'reason'>;
}

interface CommandRow {
  id: string;
  action: FleetAction;
  target: string;
  reason: string;
  by: string;
  created_at: number;
  confirm_by: number;
  confirmed_at: number | null;
  confirmed_by: string | null;
  expires_at: number;
}

interface AckRow {
  command_id: string;
  device_id: string;
  status: CommandAckStatus;
  ts: number;
  detail: string;
}

const toCommand = (r: CommandRow): StoredCommand => ({
  id: r.id,
  action: r.action,
  target: r.target,
  reason: r.reason,
  by: r.by,
  createdAt: r.created_at,
  confirmBy: r.confirm_by,
  confirmedAt: r.confirmed_at,
  confirmedBy: r.confirmed_by,
  expiresAt: r.expires_at,
});

const toAck = (r: AckRow): StoredAck => ({
  commandId: r.command_id,
  deviceId: r.device_id,
  status: r.status,
  ts: r.ts,
  detail: JSON.parse(r.detail) as StoredAck['detail'],
});

/** received < done | failed | expired: a status only ever moves right. */
const RANK_SQL = (col: string) => `CASE ${col} WHEN 'received' THEN 1 ELSE 2 END`;

/** The `commands` and `command_acks` tables (migration 005). */
export class CommandRepository {
  constructor(private readonly store: Store) {}

  insert(c: Omit<StoredCommand, 'confirmedAt' | 'confirmedBy'>): void {
    this.store.db
      .prepare(
        `INSERT INTO commands (id, action, target, reason, by, created_at, confirm_by, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(c.id, c.action, c.target, c.reason, c.by, c.createdAt, c.confirmBy, c.expiresAt);
  }

  get(id: string): StoredCommand | undefined {
    const r = this.store.db.prepare('SELECT * FROM commands WHERE id = ?').get(id) as CommandRow | undefined;
    return r && toCommand(r);
  }

  /**
   * Confirms a command not yet confirmed: its validity starts now (`expiresAt` moves by the time
   * it waited). False when it was already confirmed (the row is then unchanged).
   */
  confirm(id: string, at: number, by: string): boolean {
    const r = this.store.db
      .prepare(
        `UPDATE commands SET confirmed_at = ?, confirmed_by = ?, expires_at = ? + (expires_at - created_at)
         WHERE id = ? AND confirmed_at IS NULL`,
      )
      .run(at, by, at, id);
    return r.changes === 1;
  }

  /** The latest `limit` commands, newest first. */
  list(limit: number): StoredCommand[] {
    return (
      this.store.db
        .prepare('SELECT * FROM commands ORDER BY created_at DESC, rowid DESC LIMIT ?')
        .all(limit) as CommandRow[]
    ).map(toCommand);
  }

  /** Every confirmed command, in the order they were confirmed. */
  confirmed(): StoredCommand[] {
    return (
      this.store.db
        .prepare('SELECT * FROM commands WHERE confirmed_at IS NOT NULL ORDER BY confirmed_at, rowid')
        .all() as CommandRow[]
    ).map(toCommand);
  }

  acks(commandId: string): StoredAck[] {
    return (
      this.store.db
        .prepare('SELECT * FROM command_acks WHERE command_id = ? ORDER BY device_id')
        .all(commandId) as AckRow[]
    ).map(toAck);
  }

  /**
   * Keeps a device's acknowledgement if it moves the status forward (none → received → done,
   * failed or expired); an older or repeated one changes nothing. True when it was stored.
   */
  foldAck(a: StoredAck): boolean {
    const r = this.store.db
      .prepare(
        `INSERT INTO command_acks (command_id, device_id, status, ts, detail) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (command_id, device_id) DO UPDATE
           SET status = excluded.status, ts = excluded.ts, detail = excluded.detail
           WHERE ${RANK_SQL('excluded.status')} > ${RANK_SQL('command_acks.status')}`,
      )
      .run(a.commandId, a.deviceId, a.status, a.ts, JSON.stringify(a.detail));
    return r.changes === 1;
  }
}
