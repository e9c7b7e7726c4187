/**
 * Kill switches on losses: below the maximum drawdown from the seed, or the daily loss limit
 * from the day's start, no more buying (selling stays possible). Reaching a limit exactly is
 * still allowed; only going beyond it stops buying.
 */
import type { BuyContext } from '../context.js';
import { money, percent } from '../format.js';
import { ALLOW, deny, type RuleResult } from '../rule.js';

/** Without a price for every holding, equity (and every limit built on it) is unknown. */
export function portfolioValueRule(ctx: BuyContext): RuleResult {
  const asset = ctx.valuation.unpriced;
  return asset === null
    ? ALLOW
    : deny(
        'R_NO_MARK',
        `Buying is off: there is no current price for ${asset}, so the portfolio's value is unknown`,
      );
}

export function drawdownRule(ctx: BuyContext): RuleResult {
  const { equity } = ctx.valuation;
  const { seedEquity } = ctx.state;
  const pct = ctx.limits.maxDrawdownPct;
  if (equity >= seedEquity * (1 - pct)) return ALLOW;
  const q = ctx.state.quote;
  return deny(
    'R_DRAWDOWN',
    `Buying is off: the portfolio is worth ${money(equity, q)}, more than ${percent(pct)} below its starting value of ${money(seedEquity, q)}`,
  );
}

export function dailyLossRule(ctx: BuyContext): RuleResult {
  const { equity } = ctx.valuation;
  const { dayStartEquity } = ctx.state;
  const pct = ctx.limits.dailyLossLimitPct;
  if (equity >= dayStartEquity * (1 - pct)) return ALLOW;
  const q = ctx.state.quote;
  return deny(
    'R_DAILY_LOSS',
    `Buying is off for today: the portfolio is worth ${money(equity, q)}, more than ${percent(pct)} below the ${money(dayStartEquity, q)} it was worth at the start of the day`,
  );
}
