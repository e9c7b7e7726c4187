/** A buy of an asset not yet held opens a position; there may be at most `maxOpenPositions`. */
import type { SizingContext } from '../context.js';
import { openPositions } from '../portfolio.js';
import { ALLOW, deny, type RuleResult } from '../rule.js';

export function openPositionsRule(ctx: SizingContext): RuleResult {
  const open = openPositions(ctx.valuation.values, ctx.market.minNotional);
  if (open.includes(ctx.base)) return ALLOW; // adding to a position opens none
  const max = ctx.limits.maxOpenPositions;
  if (open.length < max) return ALLOW;
  const n = open.length;
  return deny(
    'R_MAX_POSITIONS',
    `Buying ${ctx.base} would open a new position, but ${n} ${n === 1 ? 'position is' : 'positions are'} already open (the limit is ${max})`,
  );
}
