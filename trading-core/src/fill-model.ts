import type { Candle } from './candle.js';

export type OrderSide = 'buy' | 'sell';

export interface FillCosts {
  /** Adverse price move applied to market orders, in basis points. */
  slippageBps: number;
  /** Fee charged on the notional, in basis points, paid in the quote currency. */
  feeBps: number;
  /**
   * Market impact at bar level: further slippage, in basis points, per whole bar volume the
   * order takes, so an order of 10 % of the bar's volume moves 0.1 × impactBps more than
   * `slippageBps`. Default 0 (size does not move the price).
   */
  impactBps?: number;
  /**
   * The most of a bar's traded volume one market order may take, in (0, 1]; what is left of the
   * order is not filled (a partial fill; the order is then over). Default: no cap.
   */
  maxVolumeShare?: number;
}

const BPS = 10_000;

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

/** Why these costs are unusable, or null: every backtest and virtual portfolio checks them once. */
export function fillCostsProblem(costs: FillCosts): string | null {
  if (typeof costs !== 'object' || costs === null) return `costs must be an object, got ${String(costs)}`;
  for (const key of ['slippageBps', 'feeBps', 'impactBps'] as const) {
    const bps = costs[key];
    if (bps === undefined && key === 'impactBps') continue;
    if (!(typeof bps === 'number' && Number.isFinite(bps) && bps >= 0 && bps < BPS))
      return `costs.${key} must be in [0, ${BPS}), got ${String(bps)}`;
  }
  const share = costs.maxVolumeShare;
  if (share !== undefined && !(typeof share === 'number' && share > 0 && share <= 1))
    return `costs.maxVolumeShare must be in (0, 1], got ${String(share)}`;
  return null;
}

/**
 * The slippage of a market order for `quantity` in a bar that traded `barVolume`, in bps: the
 * fixed part plus the impact of its share of the volume (a bar with no volume counts as wholly
 * taken). Without impact, exactly `slippageBps`.
 */
export function slippageFor(quantity: number, barVolume: number | undefined, costs: FillCosts): number {
  const impact = costs.impactBps ?? 0;
  if (impact === 0 || barVolume === undefined) return costs.slippageBps;
  const share = barVolume > 0 ? Math.min(1, quantity / barVolume) : 1;
  return costs.slippageBps + impact * share;
}

/**
 * How much of a market order for `quantity` a bar that traded `barVolume` fills: all of it, or
 * `maxVolumeShare` of the bar's volume when that is less.
 */
export function fillableQuantity(quantity: number, barVolume: number, costs: FillCosts): number {
  const share = costs.maxVolumeShare;
  return share === undefined ? quantity : Math.min(quantity, share * barVolume);
}

/** A copy of costs that nobody can change under a running portfolio, only the keys that are set. */
export function frozenCosts(costs: FillCosts): Readonly<FillCosts> {
  const copy: FillCosts = { slippageBps: costs.slippageBps, feeBps: costs.feeBps };
  if (costs.impactBps !== undefined) copy.impactBps = costs.impactBps;
  if (costs.maxVolumeShare !== undefined) copy.maxVolumeShare = costs.maxVolumeShare;
  return Object.freeze(copy);
}

function validate(quantity: number, price: number, costs: FillCosts): void {
  if (!(quantity > 0) || !Number.isFinite(quantity))
    throw new RangeError(`fill quantity must be > 0, got ${quantity}`);
  if (!(price > 0) || !Number.isFinite(price)) throw new RangeError(`fill price must be > 0, got ${price}`);
  if (costs.slippageBps < 0 || costs.feeBps < 0) throw new RangeError('slippage and fee must be >= 0 bps');
}

function fill(side: OrderSide, quantity: number, price: number, feeBps: number): Fill {
  const notional = quantity * price;
  return { side, quantity, price, notional, fee: (notional * feeBps) / BPS };
}

/**
 * A market order at bar level: it fills at the reference price (the next bar's open in a
 * backtest, the latest mark on the paper exchange) moved against the taker by the slippage,
 * which grows with the order's share of `barVolume` when the costs have an impact.
 */
export function marketFill(
  side: OrderSide,
  quantity: number,
  referencePrice: number,
  costs: FillCosts,
  barVolume?: number,
): Fill {
  validate(quantity, referencePrice, costs);
  const slippage = slippageFor(quantity, barVolume, costs);
  const factor = side === 'buy' ? 1 + slippage / BPS : 1 - slippage / BPS;
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
