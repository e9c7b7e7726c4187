import { errorClass } from '@appliance/errors';
import type { ProtocolError } from '@appliance/protocol';

export const ELIGIBILITY_ERROR_CODES = {
  E_UNSIGNED: 'the simulator submission carries no signature',
  E_TOO_LARGE: 'the request body is larger than the route takes',
  E_ELIGIBILITY_LIMIT: 'the change would keep more streams or symbols than the control server takes',
  E_CHANGE_UNKNOWN: 'no eligibility change has this id',
  E_CHANGE_NOT_PENDING: 'the eligibility change was already approved, rejected or superseded',
  E_INVALID: 'the request body is not valid (the message names the field)',
} as const;
export type EligibilityErrorCode = keyof typeof ELIGIBILITY_ERROR_CODES;

export class EligibilityError extends errorClass('EligibilityError', ELIGIBILITY_ERROR_CODES) {}

/** The HTTP status of each refusal, the protocol's included (a submission is a signed message). */
export const ELIGIBILITY_STATUS: Record<EligibilityErrorCode | ProtocolError['code'], number> = {
  E_UNSIGNED: 401,
  E_TOO_LARGE: 413,
  E_ELIGIBILITY_LIMIT: 409,
  E_CHANGE_UNKNOWN: 404,
  E_CHANGE_NOT_PENDING: 409,
  E_INVALID: 400,
  E_MALFORMED: 400,
  E_UNKNOWN_KEY: 403,
  E_BAD_SIGNATURE: 403,
  E_EXPIRED: 400,
  E_NOT_YET_VALID: 400,
  E_REPLAYED: 409,
  E_BAD_ID: 400,
  E_BAD_TOKEN: 401,
  E_TOKEN_EXPIRED: 401,
  E_BAD_ENROLMENT_TOKEN: 400,
  E_STALE_REQUEST: 400,
  E_SAME_KEY: 400,
  E_PROOF_REQUIRED: 401,
  E_BAD_PROOF: 401,
  E_PROOF_EXPIRED: 401,
};
