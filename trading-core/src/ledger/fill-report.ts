import { fromAtoms } from '../atoms.js';
import type { Fill } from '../fill-model.js';
import type { RecordedFill } from './transaction.js';

/**
 * A booked fill as the ledger recorded it, for trade reports: notional and fee are the
 * recorded atoms, not the fill model's floats, so a report adds up to the books to the atom
 * (a float `quantity × price` such as 3 × 100.1 = 300.29999999999995 is booked as 300.3).
 */
export function reportedFill(recorded: RecordedFill): Fill {
  return {
    side: recorded.side,
    quantity: fromAtoms(recorded.quantity),
    price: recorded.price,
    notional: fromAtoms(recorded.notional),
    fee: fromAtoms(recorded.fee),
  };
}
