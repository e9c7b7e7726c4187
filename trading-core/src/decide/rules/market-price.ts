/**
 * The signal's price against the exchange's own. A signed price is the feed's view of a
 * candle's close; the exchange's ticker is what a market order will actually pay. A buy
 * whose signal price is more than `maxPriceDeviationPct` away from it is refused: the feed
 * is stale, wrong or lying, and whatever it is, the device does not act on it. Without the
 * exchange's price the signal cannot be checked, so no buy is placed (fail safe). Sells never
 * come here: refusing them would trap the user in a position just when prices move fastest.
 */
import type { BuyContext } from '../context.js';
import { percent, price } from '../format.js';
import { ALLOW, deny, type RuleResult } from '../rule.js';

export function marketPriceRule(ctx: BuyContext): RuleResult {
  const m = ctx.state.marketPrice;
  return m === null || m === undefined
    ? deny(
        'R_NO_MARKET_PRICE',
        `Buying is off: the exchange's current price for ${ctx.signal.symbol} is not known, so the signal's price cannot be checked against it`,
      )
    : ALLOW;
}

export function priceDeviationRule(ctx: BuyContext): RuleResult {
  const market = ctx.state.marketPrice as number; // marketPriceRule ran first
  const signalled = ctx.signal.price;
  const max = ctx.limits.maxPriceDeviationPct;
  const deviation = Math.abs(signalled - market) / market;
  if (deviation <= max) return ALLOW;
  const q = ctx.state.quote;
  const where = signalled < market ? 'below' : 'above';
  return deny(
    'R_PRICE_DEVIATION',
    `The signal's price of ${price(signalled, q)} is ${deviationText(deviation, max)} ${where} the exchange's current price of ${price(market, q)}; the most allowed is ${percent(max)}, so it was not acted on`,
  );
}

/** The deviation to 4 digits; one just over the limit that would read as the limit says "more than". */
function deviationText(f: number, max: number): string {
  const shown = Number((f * 100).toPrecision(4));
  return shown > max * 100 ? `${shown}%` : `more than ${percent(max)}`;
}
