import type { OrderSide } from '../fill-model.js';

// What the order book takes and answers. Amounts are bigint atoms (1e-8) as everywhere in the
// core; order ids are the caller's (an exchange's order ids), positive safe integers.

export type BookTimeInForce = 'GTC' | 'IOC' | 'FOK';

export type BookOrder =
  | {
      id: number;
      side: OrderSide;
      type: 'limit';
      price: bigint;
      quantity: bigint;
      /** Default GTC. */
      timeInForce?: BookTimeInForce;
      /** Only with GTC: refused (not repriced) when it would take on arrival. Default false. */
      postOnly?: boolean;
    }
  | { id: number; side: OrderSide; type: 'market'; quantity: bigint };

/** A replace: a new limit price and/or a new total quantity (filled part included), as FIX's OrderQty. */
export interface BookReplace {
  price?: bigint;
  quantity?: bigint;
}

/** One match: the taker met a resting maker at the maker's price. */
export interface BookTrade {
  makerId: number;
  takerId: number;
  /** The taker's side. */
  side: OrderSide;
  price: bigint;
  quantity: bigint;
}

/**
 * Why quantity left the book without a fill:
 * - `cancelled`: cancel(id);
 * - `replaced`: a replace lowered the quantity (the part taken off);
 * - `replaced-to-filled`: a replace to a total at or below what had filled ends the order;
 * - `ioc`: the rest of an IOC order after matching;
 * - `market`: the rest of a market order the book had no more liquidity for;
 * - `fok`: a FOK order the book could not fill whole (nothing traded);
 * - `post-only`: a post-only order (or a post-only order repriced by a replace) would have taken.
 */
export type RemovalReason =
  'cancelled' | 'replaced' | 'replaced-to-filled' | 'ioc' | 'market' | 'fok' | 'post-only';

/** What one call did to one order. place + trades + what rests + what was removed add up. */
export interface BookResult {
  orderId: number;
  /** Matches this call made, in the order they happened (price, then time priority). */
  trades: readonly BookTrade[];
  /** What of the order rests after the call; 0n when it is not in the book. */
  resting: bigint;
  /** What the call took off without a fill (see reason); 0n when nothing. */
  removed: bigint;
  reason: RemovalReason | null;
  /** A replace: whether the order kept its place in its queue; null for every other call. */
  priority: 'kept' | 'lost' | null;
}

/** A bar as a sweep reads it, in atoms: the range it traded and its volume in base. */
export interface SweepBar {
  open: bigint;
  high: bigint;
  low: bigint;
  volume: bigint;
}

/** A resting order a bar filled, whole or in part; `resting` is what is left in the book. */
export interface BarFill {
  orderId: number;
  side: OrderSide;
  price: bigint;
  quantity: bigint;
  resting: bigint;
}

/** A resting order as the book reports it. */
export interface RestingOrder {
  id: number;
  side: OrderSide;
  price: bigint;
  /** Still resting. */
  quantity: bigint;
  filled: bigint;
  postOnly: boolean;
}
