import { errorClass } from '@appliance/errors';

/** Every way the breaker refuses something, as a stable code with its plain meaning. */
export const BREAKER_ERROR_CODES = {
  E_BREAKER_CONFIG: 'the breaker configuration is invalid (the message names each field)',
  E_BAD_INPUT: 'a reading, scope, override or time is malformed, non-finite, negative or out of order',
  E_NO_OVERRIDE: 'the scope has no override to clear',
} as const;

export type BreakerErrorCode = keyof typeof BREAKER_ERROR_CODES;

/** Thrown before anything changes: a breaker that threw is exactly as it was. */
export class BreakerError extends errorClass('BreakerError', BREAKER_ERROR_CODES) {
  constructor(code: BreakerErrorCode, message?: string) {
    super(code, message);
  }
}
