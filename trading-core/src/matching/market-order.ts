import { ATOMS_PER_UNIT, fromAtoms, toAtoms } from '../atoms.js';
import { marketFill, type FillCosts, type OrderSide } from '../fill-model.js';
import { fillAt, type MatchedFill } from './fill.js';

/**
 * The price a market order fills at: the reference (the latest close) moved against the taker by
 * the fill model's slippage, then put on the atom grid against the taker as well (up for a buy,
 * down for a sell), so rounding never favours the taker.
 */
export function marketPrice(side: OrderSide, reference: number, costs: FillCosts): bigint {
  const price = marketFill(side, 1, reference, costs).price;
  const nearest = toAtoms(price);
  const back = fromAtoms(nearest);
  if (side === 'buy') return back < price ? nearest + 1n : nearest;
  return back > price ? nearest - 1n : nearest;
}

/** A market order for a base quantity, against the reference price. */
export function marketOrderFill(
  side: OrderSide,
  quantity: bigint,
  reference: number,
  costs: FillCosts,
): MatchedFill {
  return fillAt(side, quantity, marketPrice(side, reference, costs), costs);
}

/**
 * The most base a quote amount pays for (a buy) or brings in (a sell) at `price`, on a lot grid
 * of `step` counted from `minQty` (Binance's rule), so notionalOf(quantity, price) <= quote.
 * 0 when not even minQty fits. The fee comes on top.
 */
export function quantityForQuote(quote: bigint, price: bigint, step: bigint, minQty: bigint): bigint {
  if (price <= 0n || step <= 0n) throw new RangeError('price and step must be > 0 atoms');
  const most = (quote * ATOMS_PER_UNIT) / price;
  if (most < minQty) return 0n;
  return most - ((most - minQty) % step);
}
