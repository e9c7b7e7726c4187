import { errorClass } from '@appliance/errors';

/**
 * Every way a message can be refused, as a stable code. Clients log the code and show the
 * plain message; tests assert on both. Documented in docs/errors.md.
 */
export const PROTOCOL_ERROR_CODES = {
  E_MALFORMED: 'the message does not match its schema',
  E_UNKNOWN_KEY: 'the message is signed with a key that is not pinned',
  E_BAD_SIGNATURE: 'the signature does not verify',
  E_EXPIRED: 'the message is past its validity window',
  E_NOT_YET_VALID: 'the message claims a time in the future',
  E_REPLAYED: 'the message was seen before',
  E_BAD_ID:
    'the message id is not derived from its content (a signal: stream, symbol, candle time; a candle: origin, symbol, timeframe, time)',
  E_BAD_TOKEN: 'the device token is malformed or its signature does not verify',
  E_TOKEN_EXPIRED: 'the device token has expired',
  E_BAD_ENROLMENT_TOKEN: 'the enrolment token is not one: damaged, truncated or not sa-enrol-1.…',
  E_STALE_REQUEST: "a device request's time is too far from the server's (the device's clock?)",
  E_SAME_KEY: 'a key rotation brought the key it should replace',
  E_PROOF_REQUIRED: 'the credential is bound to a device key and came without a proof signed by it',
  E_BAD_PROOF: 'the device proof is malformed, for another device or credential, or does not verify',
  E_PROOF_EXPIRED: 'the device proof is past its short life',
} as const;

export type ProtocolErrorCode = keyof typeof PROTOCOL_ERROR_CODES;

/** A refusal is never retriable: the same message is refused again. */
export class ProtocolError extends errorClass('ProtocolError', PROTOCOL_ERROR_CODES) {
  constructor(
    code: ProtocolErrorCode,
    message?: string,
    readonly details?: Record<string, unknown>,
    cause?: unknown,
  ) {
    super(code, message, { cause });
  }
}

export function isProtocolError(err: unknown, code?: ProtocolErrorCode): err is ProtocolError {
  return ProtocolError.is(err, code);
}
