/**
 * Sizing, in the order the brief fixes: the order size within the per-order limit, x the
 * caution multiplier, then capped by the window, the day, the exposure room and the cash
 * above reserve and buffer; then rounded down to the market's step. Below the market's
 * minimum: rejected with the code of the limit that bound last.
 */
import type { SizingContext } from '../context.js';
import { money } from '../format.js';
import { floorToStep, meetsMinimums, minOrderAmount, roundQuote } from '../precision.js';
import type { Decision } from '../types.js';
import { cautionRule, startSize } from './order-size.js';
import { cashReserveCap, exposureCap, fundsCap } from './portfolio-caps.js';
import type { SizingRule } from './size.js';
import { dailyCap, windowCaps } from './spend-caps.js';

const SIZING_RULES: readonly SizingRule[] = [
  cautionRule,
  windowCaps,
  dailyCap,
  exposureCap,
  cashReserveCap,
  fundsCap,
];

/** The largest amount on the step grid whose value at `price` does not exceed `quote`. */
function amountFor(quote: number, price: number, step: number): number {
  let amount = floorToStep(quote / price, step);
  // floorToStep forgives float noise a hair below a step; never let that overshoot the cap.
  if (amount * price > quote * (1 + 1e-12)) amount = floorToStep(amount - step / 2, step);
  return amount;
}

export function sizeBuy(ctx: SizingContext): Decision {
  let size = startSize(ctx);
  for (const rule of SIZING_RULES) size = rule(ctx, size);
  const { market, price } = ctx;
  const amount = size.quote > 0 ? amountFor(size.quote, price, market.amountStep) : 0;
  if (!meetsMinimums(market, amount, price)) {
    const min = money(minOrderAmount(market, price) * price, ctx.state.quote);
    return { accept: false, code: size.bound.code, reason: size.bound.explain(size.quote, min) };
  }
  return { accept: true, side: 'buy', amount, price, quote: roundQuote(amount * price), notes: size.notes };
}
