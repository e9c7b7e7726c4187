/** The user's pause switch stops buys only: selling what is held must stay possible. */
import { ALLOW, deny, type RuleResult } from '../rule.js';
import type { UserSettings } from '../settings.js';

export function pausedRule(settings: UserSettings): RuleResult {
  return settings.paused === true ? deny('R_PAUSED', 'Buying is paused in your settings') : ALLOW;
}
