import { errorClass } from '@appliance/errors';

/** Every refusal of the enrolment routes (docs/enrolment.md, "Error codes"), public and admin. */
export const ENROLMENT_ERROR_CODES = {
  E_MALFORMED: 'the request does not match its schema (the message names the field)',
  E_STALE_REQUEST: "the device request is too old or too far ahead: the device's clock is off",
  E_BAD_SIGNATURE: 'the device request signature does not verify',
  E_UNKNOWN_KEY: 'the device request is not signed by a key registered for the device',
  E_SAME_KEY: 'a rotation must bring a new device key',
  E_TOKEN_UNKNOWN: 'no such enrolment token, or the wrong secret',
  E_TOKEN_EXPIRED: 'the enrolment token has expired',
  E_TOKEN_USED: 'the enrolment token has been used as many times as it allows',
  E_TOKEN_REVOKED: 'the enrolment token was withdrawn',
  E_DEVICE_REVOKED: 'the device is revoked (re-enrol it as a new device)',
  E_KEY_IN_USE: 'the key is registered for another device',
  E_POOL_EXHAUSTED: 'the tunnel pool has no address left that was never given',
  E_ENROLMENT_DISABLED: 'enrolment is not configured on this control server',
  E_NOT_ENROLLED: 'the device has no registered keys yet',
  E_ENROLMENT_TOKEN_UNKNOWN: 'no enrolment token has this id',
  E_INVALID: 'the request body is not valid (the message names the field)',
  E_DEVICE_UNKNOWN: 'no device has this id',
} as const;
export type EnrolmentErrorCode = keyof typeof ENROLMENT_ERROR_CODES;

/** The HTTP status of each code: the public routes' as the contract says. */
const ENROLMENT_STATUS: Record<EnrolmentErrorCode, number> = {
  E_MALFORMED: 400,
  E_STALE_REQUEST: 400,
  E_BAD_SIGNATURE: 401,
  E_UNKNOWN_KEY: 401,
  E_SAME_KEY: 400,
  E_TOKEN_UNKNOWN: 401,
  E_TOKEN_EXPIRED: 410,
  E_TOKEN_USED: 409,
  E_TOKEN_REVOKED: 410,
  E_DEVICE_REVOKED: 403,
  E_KEY_IN_USE: 409,
  E_POOL_EXHAUSTED: 503,
  E_ENROLMENT_DISABLED: 503,
  E_NOT_ENROLLED: 409,
  E_ENROLMENT_TOKEN_UNKNOWN: 404,
  E_INVALID: 400,
  E_DEVICE_UNKNOWN: 404,
};

class EnrolmentErrorBase extends errorClass('EnrolmentError', ENROLMENT_ERROR_CODES) {}

/** A refusal; `status` defaults to the code's (admin routes answer some codes differently). */
export class EnrolmentError extends EnrolmentErrorBase {
  readonly status: number;
  constructor(code: EnrolmentErrorCode, message?: string, status?: number) {
    super(code, message);
    this.status = status ?? ENROLMENT_STATUS[code];
  }
}

/** The enrolment flags do not make a working configuration: each issue names its flag. */
export class EnrolmentConfigError extends Error {
  override readonly name = 'EnrolmentConfigError';
  constructor(readonly issues: string[]) {
    super(`enrolment configuration: ${issues.join('; ')}`);
  }
}
