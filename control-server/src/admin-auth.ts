import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { errorClass } from '@appliance/errors';
import { readFileIfExists, writeFileDurable } from '@appliance/runtime';
import { RequestOrigin } from './audit.js';

/** Where a rotated admin token's hash is kept, in the data folder. */
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
type AdminTokenFile = z.infer<typeof AdminTokenFile>;

export class AdminTokenError extends errorClass('AdminTokenError', {
  E_ADMIN_TOKEN_CORRUPT: 'the admin token file cannot be read or parsed',
}) {
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_ADMIN_TOKEN_CORRUPT', message, options);
  }
}

/** Compares a bearer token in constant time (hashing first makes lengths equal). */
function bearerMatchesHash(header: string | undefined, expected: Buffer): boolean {
  if (!header?.startsWith('Bearer ')) return false;
  return timingSafeEqual(sha256(header.slice(7)), expected);
}

/**
 * The admin token: CONTROL_ADMIN_TOKEN until it is rotated through the API, then the rotated
 * one, whose hash is kept in `DATA_DIR/admin-token.json` so a restart does not bring the old
 * token back. Setting CONTROL_ADMIN_TOKEN to a value other than the one in force at the
 * rotation (or removing the file) makes the environment's token the admin token again.
 */
export class AdminToken {
  #hash: Buffer;
  #rotation: Omit<AdminTokenFile, 'v' | 'sha256' | 'envSha256'> | undefined;
  #rotating: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly path: string | undefined,
    readonly envHash: Buffer,
    file: AdminTokenFile | undefined,
  ) {
    this.#hash = file ? Buffer.from(file.sha256, 'hex') : envHash;
    this.#rotation = file && { rotatedAt: file.rotatedAt, rotatedFrom: file.rotatedFrom };
  }

  /** `path`: the rotation file; without one a rotation lasts until the process stops. */
  static async open(envToken: string, path?: string): Promise<AdminToken> {
    const envHash = sha256(envToken);
    const text = path ? await readFileIfExists(path) : undefined;
    let file: AdminTokenFile | undefined;
    if (text !== undefined) {
      try {
        file = AdminTokenFile.parse(JSON.parse(text));
      } catch (err) {
        throw new AdminTokenError(
          `admin token file ${path} is unreadable (remove it to use CONTROL_ADMIN_TOKEN): ${(err as Error).message.slice(0, 200)}`,
        );
      }
      if (file.envSha256 !== envHash.toString('hex')) file = undefined; // a new CONTROL_ADMIN_TOKEN wins
    }
    return new AdminToken(path, envHash, file);
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
      if (this.path) {
        await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
        await writeFileDurable(this.path, JSON.stringify(file, null, 2));
      }
      this.#hash = hash;
      this.#rotation = { rotatedAt: now, rotatedFrom: from };
      return { token, rotatedAt: now };
    });
    this.#rotating = next.catch(() => undefined);
    return next;
  }
}
