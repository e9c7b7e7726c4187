import type { Candle } from './candle.js';

export type OrderSide = 'buy' | 'sell';

export interface FillCosts {
  /** Adverse price move applied to market orders, in basis points. */
  slippageBps: number;
  /** Fee charged on the notional, in basis points, paid in the quote currency. */
  feeBps: number;
}

export const DEFAULT_FILL_COSTS: FillCosts = { slippageBps: 5, feeBps: 10 };

export interface Fill {
  side: OrderSide;
  quantity: number;
  price: number;
  /** quantity × price, in quote. */
  notional: number;
  /** In quote. */
  fee: number;
}

function validate(quantity: number, price: number, costs: FillCosts): void {
  if (!(quantity > 0) || !Number.isFinite(quantity))
    throw new RangeError(`fill quantity must be > 0, got ${quantity}`);
  if (!(price > 0) || !Number.isFinite(price)) throw new RangeError(`fill price must be > 0, got ${price}`);
  if (costs.slippageBps < 0 || costs.feeBps < 0) throw new RangeError('slippage and fee must be >= 0 bps');
}

function fill(side: OrderSide, quantity: number, price: number, feeBps: number): Fill {
  const notional = quantity * price;
  return { side, quantity, price, notional, fee: (notional * feeBps) / 10_000 };
}

/**
 * A market order at bar level: it fills at the reference price (the next bar's open in a
 * backtest, the latest mark on the paper exchange) moved against the taker by the slippage.
 */
export function marketFill(
  side: OrderSide,
  quantity: number,
  referencePrice: number,
  costs: FillCosts,
): Fill {
  validate(quantity, referencePrice, costs);
  const factor = side === 'buy' ? 1 + costs.slippageBps / 10_000 : 1 - costs.slippageBps / 10_000;
  return fill(side, quantity, referencePrice * factor, costs.feeBps);
}

/**
 * A resting limit order against one bar: it fills when the bar trades through the limit, at
 * the limit or at the open when the bar gapped past it (never worse than the limit). No
 * slippage: a limit order cannot be filled beyond its price.
 */
export function limitFill(
  side: OrderSide,
  quantity: number,
  limitPrice: number,
  bar: Pick<Candle, 'open' | 'high' | 'low'>,
  costs: FillCosts,
): Fill | null {
  validate(quantity, limitPrice, costs);
  if (side === 'buy') {
    if (bar.low > limitPrice) return null;
    return fill(side, quantity, Math.min(limitPrice, bar.open), costs.feeBps);
  }
  if (bar.high < limitPrice) return null;
  return fill(side, quantity, Math.max(limitPrice, bar.open), costs.feeBps);
}
