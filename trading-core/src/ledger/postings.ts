import { formatAtoms, mulDivRound } from '../atoms.js';
import { LedgerError } from '../ledger-error.js';
import { FEES_ACCOUNT, REALISED_PNL_ACCOUNT, cashAccount, positionAccount } from './accounts.js';
import type { Posting, RecordedFill } from './transaction.js';

/** What a fill's postings depend on in the books before it. */
export interface BooksBefore {
  quote: string;
  /** Quote atoms in cash. */
  cash: bigint;
  /** Base atoms held of the fill's asset. */
  held: bigint;
  /** Cost of what is held of the fill's asset, quote atoms. */
  cost: bigint;
}

/**
 * What a fill moves in each account, debit positive: the one statement of how a fill is booked,
 * which `fillPostings` turns into postings and a journal-less ledger adds to its balances
 * directly. The four sum to zero.
 */
export interface FillAmounts {
  /** To `cash:<QUOTE>`. */
  cash: bigint;
  /** To `fees`. */
  fees: bigint;
  /** To `position:<ASSET>`, at average cost. */
  position: bigint;
  /** To `realised-pnl` (credit = gain); 0n for a buy. */
  realised: bigint;
}

/** The amounts a fill moves against the books; throws a LedgerError if the books cannot take it. */
export function fillAmounts(fill: RecordedFill, books: BooksBefore): FillAmounts {
  const { side, quantity, notional, fee } = fill;
  const { quote, cash, held, cost } = books;
  if (side === 'buy') {
    const total = notional + fee;
    if (shortOfCash(fill, cash)) {
      throw new LedgerError(
        'E_INSUFFICIENT_CASH',
        `buy of ${what(fill)} needs ${formatAtoms(total)} ${quote} with fee, cash is ${formatAtoms(cash)} ${quote}`,
      );
    }
    return { cash: -total, fees: fee, position: notional, realised: 0n };
  }
  if (quantity > held) {
    throw new LedgerError(
      'E_INSUFFICIENT_POSITION',
      `sell of ${what(fill)} exceeds the position of ${formatAtoms(held)} ${fill.asset}`,
    );
  }
  // Average cost, prorated exactly; a full close takes the whole cost so no dust is left behind.
  const basis = quantity === held ? cost : mulDivRound(cost, quantity, held);
  if (shortOfCash(fill, cash)) {
    throw new LedgerError(
      'E_INSUFFICIENT_CASH',
      `sell of ${what(fill)} pays a fee of ${formatAtoms(fee)} ${quote} that cash of ${formatAtoms(cash)} ${quote} and proceeds of ${formatAtoms(notional)} ${quote} cannot cover`,
    );
  }
  return { cash: notional - fee, fees: fee, position: -basis, realised: basis - notional };
}

/** The postings a fill makes against the books (`fillAmounts`, each to its account); throws a LedgerError if the books cannot take it. */
export function fillPostings(fill: RecordedFill, books: BooksBefore): Posting[] {
  const a = fillAmounts(fill, books);
  const cash = cashAccount(books.quote);
  const position = positionAccount(fill.asset);
  if (fill.side === 'buy') {
    return nonZero([
      { account: position, amount: a.position },
      { account: FEES_ACCOUNT, amount: a.fees },
      { account: cash, amount: a.cash },
    ]);
  }
  return nonZero([
    { account: cash, amount: a.cash },
    { account: FEES_ACCOUNT, amount: a.fees },
    { account: position, amount: a.position },
    { account: REALISED_PNL_ACCOUNT, amount: a.realised },
  ]);
}

/**
 * Whether the cash cannot cover the fill: a buy's notional and fee, or a sell's fee beyond its
 * proceeds. fillPostings refuses such a fill with E_INSUFFICIENT_CASH.
 */
export function shortOfCash(fill: RecordedFill, cash: bigint): boolean {
  return fill.side === 'buy' ? fill.notional + fill.fee > cash : cash + (fill.notional - fill.fee) < 0n;
}

/** A fill in a refusal's words; built only then, as formatting atoms costs more than the rest of a fill. */
function what(fill: RecordedFill): string {
  return `${formatAtoms(fill.quantity)} ${fill.asset} at ${fill.price}`;
}

/** The postings that move something (a fee of 0, say, is left out), in the order given. */
function nonZero(postings: Posting[]): Posting[] {
  // Most fills move every account: then the array itself, without building another.
  let zeros = 0;
  for (const p of postings) if (p.amount === 0n) zeros++;
  if (zeros === 0) return postings;
  const out: Posting[] = [];
  for (const p of postings) if (p.amount !== 0n) out.push(p);
  return out;
}
