import { errorClass } from '@appliance/errors';

/** Every way the ledger refuses something, as a stable code with its plain meaning. */
export const LEDGER_ERROR_CODES = {
  E_BAD_OPTIONS: 'the ledger options are invalid',
  E_BAD_FILL: 'the fill has a missing, non-finite, non-positive or unrepresentable field',
  E_INSUFFICIENT_CASH: 'the fill would make cash negative',
  E_INSUFFICIENT_POSITION: 'the sell is larger than the position (no shorting)',
  E_NO_MARK: 'a held asset has no usable mark price',
  E_CORRUPT: 'the persisted journal is malformed, unbalanced or inconsistent with its fills',
  E_NO_JOURNAL: 'the ledger was made without a journal (journal: false), so it has none to give',
} as const;

export type LedgerErrorCode = keyof typeof LEDGER_ERROR_CODES;

/** Thrown before anything changes: a ledger that threw is exactly as it was. */
export class LedgerError extends errorClass('LedgerError', LEDGER_ERROR_CODES) {
  constructor(code: LedgerErrorCode, message?: string, cause?: unknown) {
    super(code, message, { cause });
  }
}

export function isLedgerError(err: unknown, code?: LedgerErrorCode): err is LedgerError {
  return LedgerError.is(err, code);
}
