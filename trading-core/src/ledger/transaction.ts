import type { OrderSide } from '../fill-model.js';

/** Debit positive, credit negative; the postings of one transaction sum to exactly 0n. */
export interface Posting {
  readonly account: string;
  readonly amount: bigint;
}

/** The fill a transaction records, normalised to atoms, so the journal can be replayed and checked. */
export interface RecordedFill {
  readonly asset: string;
  readonly side: OrderSide;
  /** Base-asset atoms. */
  readonly quantity: bigint;
  /** Quote per unit, as given; the notional is derived from it. */
  readonly price: number;
  /** Quote atoms: toAtoms(fromAtoms(quantity) × price). */
  readonly notional: bigint;
  /** Quote atoms. */
  readonly fee: bigint;
}

export interface Transaction {
  /** 1 for the seed, then consecutive. */
  readonly seq: number;
  readonly ts: number;
  readonly ref: string;
  readonly postings: readonly Posting[];
  /** null for the seed transaction. */
  readonly fill: RecordedFill | null;
}
