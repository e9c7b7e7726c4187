/** Only symbols the control server currently lists as eligible for the stream may be bought. */
import type { BuyContext } from '../context.js';
import { ALLOW, deny, type RuleResult } from '../rule.js';

export function eligibilityRule(ctx: BuyContext): RuleResult {
  const { stream, symbol } = ctx.signal;
  const list = ctx.state.eligibility?.[stream];
  if (!list) {
    // No list yet is not "everything is eligible": fail safe.
    return deny(
      'R_NO_ELIGIBILITY',
      `Buying is off: no list of eligible coins for the stream "${stream}" has been received yet`,
    );
  }
  return list.includes(symbol)
    ? ALLOW
    : deny(
        'R_NOT_ELIGIBLE',
        `${symbol} is not on the current list of eligible coins for the stream "${stream}"`,
      );
}
