/**
 * The operator's halt (a fleet `halt` or `flat` covering this device, until a `resume`): no
 * buys. Sells never come here, so unwinding stays possible. Anything but null counts as a halt,
 * even without a readable reason: a halt that cannot be read is still a halt.
 */
import { excerpt } from '../format.js';
import { ALLOW, deny, type RuleResult } from '../rule.js';
import type { DecisionState } from '../types.js';

export function fleetHaltRule(state: Pick<DecisionState, 'fleetHalt'>): RuleResult {
  const halt: unknown = state.fleetHalt;
  if (halt === null || halt === undefined) return ALLOW;
  const reason = (halt as { reason?: unknown }).reason;
  const why = typeof reason === 'string' && reason.trim() !== '' ? excerpt(reason) : 'no reason given';
  return deny('R_FLEET_HALT', `Buying is halted by the operator: ${why}`);
}
