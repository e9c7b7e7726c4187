/** Without the exchange's rules no order can be rounded or checked, so none is placed. */
import { roundToStep, validMarket } from '../precision.js';
import { badInput, deny, type Denial } from '../rule.js';
import type { DecisionSignal, MarketRules } from '../types.js';

/**
 * The market's rules, and `reference` (the price the order is sized and checked at) rounded
 * to its tick.
 */
export function marketRule(
  signal: DecisionSignal,
  market: MarketRules | undefined,
  reference: number,
): { allowed: true; market: MarketRules; price: number } | Denial {
  if (!market) {
    return deny(
      'R_NO_MARKET',
      `The exchange's trading rules for ${signal.symbol} are not known, so no order can be placed`,
    );
  }
  const problem = validMarket(market);
  if (problem) return badInput(`the exchange's trading rules for ${signal.symbol} are invalid (${problem})`);
  const price = roundToStep(reference, market.priceTick);
  if (!(price > 0)) {
    return badInput(`the price ${reference} rounds to 0 at the market's price tick of ${market.priceTick}`);
  }
  return { allowed: true, market, price };
}
