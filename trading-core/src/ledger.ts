// The ledger's public API; each noun lives in its own module under ledger/.
export {
  CAPITAL_ACCOUNT,
  FEES_ACCOUNT,
  REALISED_PNL_ACCOUNT,
  cashAccount,
  positionAccount,
} from './ledger/accounts.js';
export type { Posting, RecordedFill, Transaction } from './ledger/transaction.js';
export type { FillInput } from './ledger/fill-input.js';
export { LEDGER_FORMAT, type LedgerJson } from './ledger/journal-json.js';
export { Ledger, type LedgerOptions, type Position, type PositionAtoms } from './ledger/ledger.js';
