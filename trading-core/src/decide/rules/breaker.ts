/**
 * The central circuit breaker: unknown, or `halt` for the whole market or for the signal's asset,
 * stops buying; `caution` only scales (see sizing). Sells never come here.
 */
import { breakerFor } from '../breaker-scope.js';
import type { BuyContext } from '../context.js';
import { excerpt } from '../format.js';
import { ALLOW, deny, type RuleResult } from '../rule.js';

export function breakerKnownRule(ctx: BuyContext): RuleResult {
  return ctx.state.breaker === null
    ? deny('R_BREAKER_UNKNOWN', 'Buying is off: the state of the central circuit breaker is not known yet')
    : ALLOW;
}

export function haltRule(ctx: BuyContext): RuleResult {
  const breaker = ctx.state.breaker;
  if (breaker === null) return ALLOW; // breakerKnownRule has said no already
  const b = breakerFor(breaker, ctx.signal.symbol);
  if (b.level !== 'halt') return ALLOW;
  const symbol = ctx.signal.symbol;
  const what = {
    market: 'Buying is halted by the circuit breaker (whole market)',
    asset: `Buying ${symbol} is halted by the circuit breaker`,
    both: `Buying ${symbol} is halted by the circuit breaker (whole market and ${symbol} itself)`,
  }[b.scope];
  return deny('R_HALT', b.reason === '' ? what : `${what}: ${excerpt(b.reason)}`);
}
