import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { errorClass } from '@appliance/errors';
import { RequestOrigin } from './audit.js';
import type { Db, Store } from './store/database.js';

/** Where a rotated admin token's hash was kept before the database, in the data folder: imported once. */
export const ADMIN_TOKEN_FILE = 'admin-token.json';

const sha256 = (s: string) => createHash('sha256').update(s).digest();
const hex64 = z.string().regex(/^[0-9a-f]{64}$/);

const AdminTokenFile = z.strictObject({
  v: z.literal(1),
  /** SHA-256 of the token in force; the token itself is never stored. */
  sha256: hex64,
  rotatedAt: z.number().int().nonnegative(),
  rotatedFrom: RequestOrigin,
  /** SHA-256 of CONTROL_ADMIN_TOKEN when the token was rotated: setting another one takes over again. */
  envSha256: hex64,
});
export type AdminTokenFile = z.infer<typeof AdminTokenFile>;

export class AdminTokenError extends errorClass('AdminTokenError', {
  E_ADMIN_TOKEN_CORRUPT: 'the admin token file (or its row) cannot be read or parsed',
}) {
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_ADMIN_TOKEN_CORRUPT', message, options);
  }
}

/** Today's `admin-token.json`, as the import reads it (a corrupt file: the same error as ever). */
export function parseAdminTokenFile(text: string, path: string): AdminTokenFile {
  try {
    return AdminTokenFile.parse(JSON.parse(text));
  } catch (err) {
    throw new AdminTokenError(
      `admin token file ${path} is unreadable (remove it to use CONTROL_ADMIN_TOKEN): ${(err as Error).message.slice(0, 200)}`,
    );
  }
}

/** Writes the rotation (the one row of `admin_token`), inside the caller's transaction if any. */
export function writeAdminTokenRow(db: Db, file: AdminTokenFile): void {
  db.prepare(
    `INSERT INTO admin_token (id, sha256, rotated_at, rotated_from, env_sha256) VALUES (1, ?, ?, ?, ?)
     ON CONFLICT (id) DO UPDATE SET sha256 = excluded.sha256, rotated_at = excluded.rotated_at,
       rotated_from = excluded.rotated_from, env_sha256 = excluded.env_sha256`,
  ).run(file.sha256, file.rotatedAt, JSON.stringify(file.rotatedFrom), file.envSha256);
}

function readAdminTokenRow(store: Store): AdminTokenFile | undefined {
  const row = store.db.prepare('SELECT * FROM admin_token WHERE id = 1').get() as
    { sha256: string; rotated_at: number; rotated_from: string; env_sha256: string } | undefined;
  if (!row) return undefined;
  try {
    return AdminTokenFile.parse({
      v: 1,
      sha256: row.sha256,
      rotatedAt: row.rotated_at,
      rotatedFrom: JSON.parse(row.rotated_from),
      envSha256: row.env_sha256,
    });
  } catch (err) {
    throw new AdminTokenError(
      `admin token in ${store.path} is unreadable (restore a backup: control-server/README.md, Storage): ${(err as Error).message.slice(0, 200)}`,
      { cause: err },
    );
  }
}

/** Compares a bearer token in constant time (hashing first makes lengths equal). */
function bearerMatchesHash(header: string | undefined, expected: Buffer): boolean {
  if (!header?.startsWith('Bearer ')) return false;
  return timingSafeEqual(sha256(header.slice(7)), expected);
}

/**
 * The admin token: CONTROL_ADMIN_TOKEN until it is rotated through the API, then the rotated
 * one, whose hash is kept in the database (`admin_token`) so a restart does not bring the old
 * token back. Setting CONTROL_ADMIN_TOKEN to a value other than the one in force at the
 * rotation makes the environment's token the admin token again.
 */
export class AdminToken {
  #hash: Buffer;
  #rotation: Omit<AdminTokenFile, 'v' | 'sha256' | 'envSha256'> | undefined;
  #rotating: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly store: Store,
    readonly envHash: Buffer,
    file: AdminTokenFile | undefined,
  ) {
    this.#hash = file ? Buffer.from(file.sha256, 'hex') : envHash;
    this.#rotation = file && { rotatedAt: file.rotatedAt, rotatedFrom: file.rotatedFrom };
  }

  /** With a `:memory:` store a rotation lasts until the process stops. */
  static async open(envToken: string, store: Store): Promise<AdminToken> {
    const envHash = sha256(envToken);
    let file = readAdminTokenRow(store);
    if (file && file.envSha256 !== envHash.toString('hex')) file = undefined; // a new CONTROL_ADMIN_TOKEN wins
    return new AdminToken(store, envHash, file);
  }

  matches(authorization: string | undefined): boolean {
    return bearerMatchesHash(authorization, this.#hash);
  }

  /** Where the token in force comes from, and when and from where it was last rotated. */
  status(): { source: 'env' | 'rotated'; rotatedAt?: number; rotatedFrom?: RequestOrigin } {
    return this.#rotation ? { source: 'rotated', ...this.#rotation } : { source: 'env' };
  }

  /**
   * A new random token, in force as soon as this resolves (the old one fails from then on).
   * Saved before it takes effect: if it cannot be saved the old token stays and this throws.
   */
  rotate(now: number, from: RequestOrigin): Promise<{ token: string; rotatedAt: number }> {
    const next = this.#rotating.then(async () => {
      const token = randomBytes(32).toString('base64url');
      const hash = sha256(token);
      const file: AdminTokenFile = {
        v: 1,
        sha256: hash.toString('hex'),
        rotatedAt: now,
        rotatedFrom: from,
        envSha256: this.envHash.toString('hex'),
      };
      const { db } = this.store;
      db.transaction(() => writeAdminTokenRow(db, file))();
      this.#hash = hash;
      this.#rotation = { rotatedAt: now, rotatedFrom: from };
      return { token, rotatedAt: now };
    });
    this.#rotating = next.catch(() => undefined);
    return next;
  }
}
