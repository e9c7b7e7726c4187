import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { errorClass } from '@appliance/errors';
import { readFileIfExists, writeFileDurable } from '@appliance/runtime';

/** Where the operators' breaker overrides are kept, in the data folder. */
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
  E_BREAKER_OVERRIDES_CORRUPT: 'the breaker overrides file cannot be read or parsed',
}) {
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_BREAKER_OVERRIDES_CORRUPT', message, options);
  }
}

/**
 * The overrides in force, one file written whole and durably before an override takes effect,
 * so a restart keeps every override an operator set (and none they cleared). In memory only
 * without a path.
 */
export class BreakerOverrideFile {
  private constructor(readonly path: string | undefined) {}

  static async read(
    path: string | undefined,
  ): Promise<{ file: BreakerOverrideFile; overrides: StoredOverride[] }> {
    const file = new BreakerOverrideFile(path);
    const text = path ? await readFileIfExists(path) : undefined;
    if (text === undefined) return { file, overrides: [] };
    try {
      return { file, overrides: OverridesFile.parse(JSON.parse(text)).overrides };
    } catch (err) {
      throw new BreakerOverridesError(
        `breaker overrides ${path} are unreadable: ${(err as Error).message.slice(0, 200)}`,
        { cause: err },
      );
    }
  }

  async write(overrides: StoredOverride[]): Promise<void> {
    if (!this.path) return;
    await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
    await writeFileDurable(this.path, `${JSON.stringify({ v: 1, overrides }, null, 2)}\n`);
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
