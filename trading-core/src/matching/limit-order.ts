import { toAtoms } from '../atoms.js';
import type { Candle } from '../candle.js';
import type { FillCosts, OrderSide } from '../fill-model.js';
import { fillAt, quoteCost, type MatchedFill } from './fill.js';

/** A limit order as matching sees it: amounts in atoms. */
export interface LimitOrder {
  side: OrderSide;
  quantity: bigint;
  limit: bigint;
}

/**
 * A limit order against one bar: it fills when the bar trades through the limit, at the limit
 * or at the open when the bar gapped past it, never worse than the limit; no slippage. Only
 * whole fills: matching works at bar level. The bar's prices are taken to the atom first.
 */
export function limitOrderFill(
  order: LimitOrder,
  bar: Pick<Candle, 'open' | 'high' | 'low'>,
  costs: FillCosts,
): MatchedFill | null {
  const open = toAtoms(bar.open);
  if (order.side === 'buy') {
    if (toAtoms(bar.low) > order.limit) return null;
    return fillAt('buy', order.quantity, open < order.limit ? open : order.limit, costs);
  }
  if (toAtoms(bar.high) < order.limit) return null;
  return fillAt('sell', order.quantity, open > order.limit ? open : order.limit, costs);
}

/** A limit order on arrival, marketable when the latest close is at or through its limit. */
export function limitOrderFillAt(order: LimitOrder, close: number, costs: FillCosts): MatchedFill | null {
  return limitOrderFill(order, { open: close, high: close, low: close }, costs);
}

/**
 * What a resting order holds back: a buy, what a fill at its limit would cost with the fee (a
 * fill is never worse); a sell, its quantity of base.
 */
export function limitOrderReserve(order: LimitOrder, costs: FillCosts): bigint {
  return order.side === 'buy' ? quoteCost(fillAt('buy', order.quantity, order.limit, costs)) : order.quantity;
}
