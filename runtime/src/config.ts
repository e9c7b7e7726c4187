import type { z } from 'zod';
import { errorClass } from '@appliance/errors';
import { EXIT, exitWith } from './exit-codes.js';

/** Configuration is validated once at start-up; a bad value stops the process with this. */
export class ConfigError extends errorClass('ConfigError', { E_CONFIG: 'a configuration value is invalid' }) {
  constructor(
    message: string,
    readonly issues: string[],
  ) {
    super('E_CONFIG', message);
  }
}

export function parseConfig<S extends z.ZodType>(what: string, schema: S, input: unknown): z.infer<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issues = result.error.issues.map(
    (i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`,
  );
  throw new ConfigError(`invalid ${what} configuration:\n  - ${issues.join('\n  - ')}`, issues);
}

/** For CLIs: print a ConfigError plainly (no stack) and exit 2; rethrow anything else. */
export function exitOnConfigError(err: unknown): never {
  if (err instanceof ConfigError) exitWith(EXIT.config, err.message);
  throw err;
}
