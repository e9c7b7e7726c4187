/** The central circuit breaker: unknown or `halt` stops buying; `caution` only scales (see sizing). */
import type { BuyContext } from '../context.js';
import { ALLOW, deny, type RuleResult } from '../rule.js';

export function breakerKnownRule(ctx: BuyContext): RuleResult {
  return ctx.state.breaker === null
    ? deny('R_BREAKER_UNKNOWN', 'Buying is off: the state of the central circuit breaker is not known yet')
    : ALLOW;
}

export function haltRule(ctx: BuyContext): RuleResult {
  return ctx.state.breaker?.level === 'halt'
    ? deny('R_HALT', 'Buying is halted by the central circuit breaker')
    : ALLOW;
}
