import { z } from 'zod';
import { errorClass } from '@appliance/errors';
import { RequestOrigin } from './audit.js';
import type { Db, Store } from './store/database.js';

/** Where the registry was kept before the database, in the data folder: imported once. */
export const REGISTRY_FILE = 'devices.json';

const epochMs = z.number().int().nonnegative();

/** Newest first is what the operator reads; older entries beyond these are dropped. */
const MAX_TOKEN_HISTORY = 50;
const MAX_PAPER_ACCOUNT_HISTORY = 20;

/** One device token as issued: when, until when, from where, and a fingerprint (never the token). */
export const TokenIssue = z.strictObject({
  issuedAt: epochMs,
  expiresAt: epochMs,
  /** First 16 hex digits of the token's SHA-256. */
  fingerprint: z.string().regex(/^[0-9a-f]{16}$/),
  from: RequestOrigin,
});
export type TokenIssue = z.infer<typeof TokenIssue>;

/** A paper-exchange account created for the device: only the API key's first 4 characters. */
export const PaperAccountIssue = z.strictObject({
  createdAt: epochMs,
  apiKeyPrefix: z.string().max(4),
  from: RequestOrigin,
});
export type PaperAccountIssue = z.infer<typeof PaperAccountIssue>;

export const Device = z.strictObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9-]{2,63}$/, 'device id: 3-64 lowercase letters, digits and -'),
  scope: z.string().regex(/^(family|beta|mandate:[a-z0-9-]{1,32})$/, 'scope: family, beta or mandate:<name>'),
  label: z.string().max(100).default(''),
  createdAt: epochMs,
  /** Absent for devices registered before the registry kept it. */
  createdFrom: RequestOrigin.optional(),
  /** Set once its credentials are withdrawn; a revoked device is never un-revoked (re-enrol it). */
  revokedAt: epochMs.optional(),
  revokedFrom: RequestOrigin.optional(),
  /** Every token issued for it, oldest first (the last MAX_TOKEN_HISTORY). */
  tokens: z.array(TokenIssue).max(MAX_TOKEN_HISTORY).default([]),
  paperAccounts: z.array(PaperAccountIssue).max(MAX_PAPER_ACCOUNT_HISTORY).default([]),
});
export type Device = z.infer<typeof Device>;

const RegistryFile = z.strictObject({ v: z.literal(1), devices: z.array(Device) });

const REGISTRY_ERROR_CODES = {
  E_DEVICE_EXISTS: 'a device with this id exists',
  E_DEVICE_UNKNOWN: 'no device has this id',
  E_INVALID: 'the device does not match its schema',
  E_REGISTRY_CORRUPT: 'the registry (file or rows) cannot be read or parsed',
} as const;

export class RegistryError extends errorClass('RegistryError', REGISTRY_ERROR_CODES) {}

/** Today's `devices.json`, as the import reads it (a corrupt file: the same error as ever). */
export function parseRegistryFile(text: string, path: string): Device[] {
  try {
    return RegistryFile.parse(JSON.parse(text)).devices;
  } catch (err) {
    throw new RegistryError(
      'E_REGISTRY_CORRUPT',
      `device registry ${path} is unreadable: ${(err as Error).message.slice(0, 200)}`,
    );
  }
}

const json = (v: unknown) => (v === undefined ? null : JSON.stringify(v));
const unjson = (s: string | null): unknown => (s === null ? undefined : JSON.parse(s));

/**
 * Writes each device whole: its row, its revocation (once: never un-revoked), its tokens and paper
 * accounts (replaced, so the history's trim is kept). Inside the caller's transaction, if any.
 */
export function writeDeviceRows(db: Db, devices: readonly Device[]): void {
  const upsert = db.prepare(
    `INSERT INTO devices (id, scope, label, created_at, created_from) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (id) DO UPDATE SET scope = excluded.scope, label = excluded.label,
       created_at = excluded.created_at, created_from = excluded.created_from`,
  );
  const revoke = db.prepare(
    'INSERT OR IGNORE INTO device_revocations (device_id, revoked_at, revoked_from) VALUES (?, ?, ?)',
  );
  const dropTokens = db.prepare('DELETE FROM device_tokens WHERE device_id = ?');
  const token = db.prepare(
    'INSERT INTO device_tokens (device_id, seq, issued_at, expires_at, fingerprint, issued_from) VALUES (?, ?, ?, ?, ?, ?)',
  );
  const dropAccounts = db.prepare('DELETE FROM device_paper_accounts WHERE device_id = ?');
  const account = db.prepare(
    'INSERT INTO device_paper_accounts (device_id, seq, created_at, api_key_prefix, created_from) VALUES (?, ?, ?, ?, ?)',
  );
  for (const d of devices) {
    upsert.run(d.id, d.scope, d.label, d.createdAt, json(d.createdFrom));
    if (d.revokedAt !== undefined) revoke.run(d.id, d.revokedAt, json(d.revokedFrom));
    dropTokens.run(d.id);
    d.tokens.forEach((t, i) => token.run(d.id, i, t.issuedAt, t.expiresAt, t.fingerprint, json(t.from)));
    dropAccounts.run(d.id);
    d.paperAccounts.forEach((a, i) => account.run(d.id, i, a.createdAt, a.apiKeyPrefix, json(a.from)));
  }
}

interface DeviceRow {
  id: string;
  scope: string;
  label: string;
  created_at: number;
  created_from: string | null;
  revoked_at: number | null;
  revoked_from: string | null;
}

/** Every device, assembled from its rows and checked against `Device`; a bad one is E_REGISTRY_CORRUPT. */
function readDevices(store: Store): Device[] {
  const { db } = store;
  const rows = db
    .prepare(
      `SELECT d.*, r.revoked_at, r.revoked_from FROM devices d
       LEFT JOIN device_revocations r ON r.device_id = d.id ORDER BY d.id`,
    )
    .all() as DeviceRow[];
  const tokens = db.prepare('SELECT * FROM device_tokens WHERE device_id = ? ORDER BY seq');
  const accounts = db.prepare('SELECT * FROM device_paper_accounts WHERE device_id = ? ORDER BY seq');
  return rows.map((r) => {
    try {
      return Device.parse({
        id: r.id,
        scope: r.scope,
        label: r.label,
        createdAt: r.created_at,
        ...(r.created_from !== null && { createdFrom: unjson(r.created_from) }),
        ...(r.revoked_at !== null && { revokedAt: r.revoked_at }),
        ...(r.revoked_from !== null && { revokedFrom: unjson(r.revoked_from) }),
        tokens: (
          tokens.all(r.id) as {
            issued_at: number;
            expires_at: number;
            fingerprint: string;
            issued_from: string;
          }[]
        ).map((t) => ({
          issuedAt: t.issued_at,
          expiresAt: t.expires_at,
          fingerprint: t.fingerprint,
          from: unjson(t.issued_from),
        })),
        paperAccounts: (
          accounts.all(r.id) as { created_at: number; api_key_prefix: string; created_from: string }[]
        ).map((a) => ({
          createdAt: a.created_at,
          apiKeyPrefix: a.api_key_prefix,
          from: unjson(a.created_from),
        })),
      });
    } catch (err) {
      throw new RegistryError(
        'E_REGISTRY_CORRUPT',
        `device registry in ${store.path}: device ${r.id} is unreadable: ${(err as Error).message.slice(0, 200)}`,
        { cause: err },
      );
    }
  });
}

/**
 * The devices this control plane knows, in the database's `devices`, `device_tokens`,
 * `device_paper_accounts` and `device_revocations` tables; each change is committed
 * (synchronous=FULL) before it takes effect. Kept in memory too, for the synchronous reads.
 */
export class DeviceRegistry {
  readonly #devices = new Map<string, Device>();
  /** Changes are applied and saved one at a time, in the order they were asked for. */
  #queue: Promise<unknown> = Promise.resolve();

  /**
   * Called inside the transaction that revokes devices, with their ids (the enrolment store
   * withdraws their unused enrolment tokens there): if it throws, nobody is revoked.
   */
  onRevoke?: (db: Db, ids: string[], now: number) => void;

  private constructor(readonly store: Store) {}

  static async open(store: Store): Promise<DeviceRegistry> {
    const reg = new DeviceRegistry(store);
    for (const d of readDevices(store)) reg.#devices.set(d.id, d);
    return reg;
  }

  /**
   * Registers a device; `also` runs in the same transaction after its rows are written (the
   * enrolment token of `POST /api/enrolments`): if it throws, nothing is written.
   */
  async create(
    input: { id: string; scope?: string; label?: string },
    now: number,
    from?: RequestOrigin,
    also?: (db: Db, device: Device) => void,
  ): Promise<Device> {
    const parsed = Device.safeParse({
      ...input,
      scope: input.scope ?? 'family',
      label: input.label ?? '',
      createdAt: now,
      createdFrom: from,
    });
    if (!parsed.success) {
      const i = parsed.error.issues[0];
      throw new RegistryError('E_INVALID', `${i?.path.join('.')}: ${i?.message}`);
    }
    const device = parsed.data;
    return this.#change(
      () => {
        if (this.#devices.has(device.id))
          throw new RegistryError('E_DEVICE_EXISTS', `device ${device.id} already exists`);
        return [device];
      },
      also && ((db) => also(db, device)),
    ).then(([d]) => d!);
  }

  /** Withdraws a device's credentials; revoking twice keeps the first time. */
  async revoke(id: string, now: number, from?: RequestOrigin): Promise<Device> {
    this.get(id);
    const { revoked, alreadyRevoked } = await this.revokeMany([id], now, from);
    return revoked[0] ?? alreadyRevoked[0]!;
  }

  /** Revokes several devices with one write; unknown ids are returned, not thrown. */
  async revokeMany(
    ids: string[],
    now: number,
    from?: RequestOrigin,
  ): Promise<{ revoked: Device[]; alreadyRevoked: Device[]; unknown: string[] }> {
    const out = { revoked: [] as Device[], alreadyRevoked: [] as Device[], unknown: [] as string[] };
    await this.#change(
      () => {
        const changed: Device[] = [];
        for (const id of new Set(ids)) {
          const d = this.#devices.get(id);
          if (!d) out.unknown.push(id);
          else if (d.revokedAt !== undefined) out.alreadyRevoked.push(d);
          else changed.push({ ...d, revokedAt: now, ...(from && { revokedFrom: from }) });
        }
        out.revoked = changed;
        return changed;
      },
      (db, changed) =>
        this.onRevoke?.(
          db,
          changed.map((d) => d.id),
          now,
        ),
    );
    return out;
  }

  /** Records a token issued for a device (the last MAX_TOKEN_HISTORY are kept). */
  /** A device with one more token issue (the last MAX_TOKEN_HISTORY kept), for `transact`. */
  withToken(d: Device, issue: TokenIssue): Device {
    return { ...d, tokens: [...d.tokens, issue].slice(-MAX_TOKEN_HISTORY) };
  }

  async recordToken(id: string, issue: TokenIssue): Promise<Device> {
    const [d] = await this.#change(() => {
      const d = this.get(id);
      return [{ ...d, tokens: [...d.tokens, issue].slice(-MAX_TOKEN_HISTORY) }];
    });
    return d!;
  }

  async recordPaperAccount(id: string, account: PaperAccountIssue): Promise<Device> {
    const [d] = await this.#change(() => {
      const d = this.get(id);
      return [{ ...d, paperAccounts: [...d.paperAccounts, account].slice(-MAX_PAPER_ACCOUNT_HISTORY) }];
    });
    return d!;
  }

  revokedIds(): string[] {
    return this.list()
      .filter((d) => d.revokedAt !== undefined)
      .map((d) => d.id);
  }

  has(id: string): boolean {
    return this.#devices.has(id);
  }

  get(id: string): Device {
    const d = this.#devices.get(id);
    if (!d) throw new RegistryError('E_DEVICE_UNKNOWN', `no device ${id}`);
    return d;
  }

  list(): Device[] {
    return [...this.#devices.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  /**
   * Commits the devices `change` returns (computed when its turn comes), then applies them; if
   * the commit fails, nothing changed.
   */
  #change(change: () => Device[], also?: (db: Db, devices: Device[]) => void): Promise<Device[]> {
    const run = this.#queue.then(() => {
      const next = change();
      if (next.length === 0) return next;
      const { db } = this.store;
      db.transaction(() => {
        writeDeviceRows(db, next);
        also?.(db, next);
      })();
      for (const d of next) this.#devices.set(d.id, d);
      return next;
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Runs `work` in the registry's turn (after every change asked for before it), inside one
   * transaction with the devices it returns (written whole, then applied in memory). If `work`
   * throws, nothing is written and the error is the answer.
   */
  transact<T>(work: (db: Db) => { devices: Device[]; result: T }): Promise<T> {
    const run = this.#queue.then(() => {
      const { db } = this.store;
      const out = db.transaction(() => {
        const r = work(db);
        writeDeviceRows(db, r.devices);
        return r;
      })();
      for (const d of out.devices) this.#devices.set(d.id, d);
      return out.result;
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }
}
