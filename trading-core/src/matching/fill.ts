import { ATOMS_PER_UNIT, mulDivRound, toAtoms } from '../atoms.js';
import type { FillCosts, OrderSide } from '../fill-model.js';

/**
 * A whole fill in atoms, as balances move: every amount is an integer of 1e-8, so what one side
 * of the wire books and what the other reports are the same numbers, to the atom.
 */
export interface MatchedFill {
  side: OrderSide;
  quantity: bigint;
  price: bigint;
  /** quantity × price, rounded down: never more quote than the price asks. */
  notional: bigint;
  /** On the notional, in quote. */
  fee: bigint;
}

/** quantity × price in atoms, rounded down (so a quote amount is never passed, see quantityForQuote). */
export function notionalOf(quantity: bigint, price: bigint): bigint {
  return (quantity * price) / ATOMS_PER_UNIT;
}

/**
 * The fee on a notional, rounded half away from zero. Exact for any fee written with at most 8
 * decimals of a basis point, which keeps it an integer computation.
 */
export function feeOn(notional: bigint, costs: FillCosts): bigint {
  return mulDivRound(notional, toAtoms(costs.feeBps), 10_000n * ATOMS_PER_UNIT);
}

/** A fill of `quantity` at `price`, both already in atoms. */
export function fillAt(side: OrderSide, quantity: bigint, price: bigint, costs: FillCosts): MatchedFill {
  if (quantity <= 0n) throw new RangeError(`fill quantity must be > 0 atoms, got ${quantity}`);
  if (price <= 0n) throw new RangeError(`fill price must be > 0 atoms, got ${price}`);
  const notional = notionalOf(quantity, price);
  return { side, quantity, price, notional, fee: feeOn(notional, costs) };
}

/** What a buy takes from the buyer (notional and fee); a sell's quote proceeds are notional - fee. */
export function quoteCost(fill: MatchedFill): bigint {
  return fill.notional + fill.fee;
}
