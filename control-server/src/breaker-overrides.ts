import { z } from 'zod';
import { errorClass } from '@appliance/errors';
import type { Db, Store } from './store/database.js';

/** Where the operators' breaker overrides were kept before the database: imported once. */
export const BREAKER_OVERRIDES_FILE = 'breaker-overrides.json';

/** `market`, or a symbol in unified ccxt form. */
export const BreakerScopeName = z
  .string()
  .regex(/^(market|[A-Z0-9]{1,20}\/[A-Z0-9]{1,20})$/, 'scope: market, or a symbol such as BTC/USDT');

const epochMs = z.number().int().nonnegative();

export const StoredOverride = z.strictObject({
  scope: BreakerScopeName,
  level: z.enum(['normal', 'caution', 'halt']),
  reason: z.string().min(1).max(300),
  by: z.string().min(1).max(64),
  setAt: epochMs,
  expiresAt: epochMs.nullable(),
});
export type StoredOverride = z.infer<typeof StoredOverride>;

const OverridesFile = z.strictObject({ v: z.literal(1), overrides: z.array(StoredOverride).max(10_000) });

export class BreakerOverridesError extends errorClass('BreakerOverridesError', {
  E_BREAKER_OVERRIDES_CORRUPT: 'the breaker overrides (file or rows) cannot be read or parsed',
}) {
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_BREAKER_OVERRIDES_CORRUPT', message, options);
  }
}

/** Today's `breaker-overrides.json`, as the import reads it (a corrupt file: the same error as ever). */
export function parseOverridesFile(text: string, path: string): StoredOverride[] {
  try {
    return OverridesFile.parse(JSON.parse(text)).overrides;
  } catch (err) {
    throw new BreakerOverridesError(
      `breaker overrides ${path} are unreadable: ${(err as Error).message.slice(0, 200)}`,
      { cause: err },
    );
  }
}

interface OverrideRow {
  scope: string;
  level: string;
  reason: string;
  set_by: string;
  set_at: number;
  expires_at: number | null;
}

/** Replaces the overrides in force with `overrides` (inside the caller's transaction, if any). */
export function writeOverrideRows(db: Db, overrides: readonly StoredOverride[]): void {
  db.prepare('DELETE FROM breaker_overrides').run();
  const insert = db.prepare(
    'INSERT INTO breaker_overrides (scope, position, level, reason, set_by, set_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
  );
  overrides.forEach((v, i) => insert.run(v.scope, i, v.level, v.reason, v.by, v.setAt, v.expiresAt));
}

/**
 * The overrides in force, in the `breaker_overrides` table, replaced whole in one transaction
 * (committed with synchronous=FULL) before an override takes effect, so a restart keeps every
 * override an operator set (and none they cleared). In memory with a `:memory:` store.
 */
export class BreakerOverrideTable {
  private constructor(readonly store: Store) {}

  /** Reads the overrides back, each checked as it was written; a bad row is E_BREAKER_OVERRIDES_CORRUPT. */
  static async read(store: Store): Promise<{ file: BreakerOverrideTable; overrides: StoredOverride[] }> {
    const rows = store.db.prepare('SELECT * FROM breaker_overrides ORDER BY position').all() as OverrideRow[];
    const overrides = rows.map((r) => {
      const parsed = StoredOverride.safeParse({
        scope: r.scope,
        level: r.level,
        reason: r.reason,
        by: r.set_by,
        setAt: r.set_at,
        expiresAt: r.expires_at,
      });
      if (!parsed.success)
        throw new BreakerOverridesError(
          `breaker overrides in ${store.path}: the row of ${r.scope} is unreadable: ${parsed.error.message.slice(0, 200)}`,
          { cause: parsed.error },
        );
      return parsed.data;
    });
    return { file: new BreakerOverrideTable(store), overrides };
  }

  async write(overrides: StoredOverride[]): Promise<void> {
    const { db } = this.store;
    db.transaction(() => writeOverrideRows(db, overrides))();
  }
}

export const BREAKER_API_ERROR_CODES = {
  E_INVALID: 'the request body is not valid (the message names the field)',
  E_NO_OVERRIDE: 'the scope has no override to clear',
} as const;

/** A refused breaker request; `BREAKER_API_STATUS` gives its HTTP status. */
export class BreakerApiError extends errorClass('BreakerApiError', BREAKER_API_ERROR_CODES) {}

export const BREAKER_API_STATUS: Record<keyof typeof BREAKER_API_ERROR_CODES, number> = {
  E_INVALID: 400,
  E_NO_OVERRIDE: 404,
};
