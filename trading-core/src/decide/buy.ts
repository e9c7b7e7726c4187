/**
 * The buy path, in the order that picks the reason shown: the user's pause, the operator's
 * halt, then what must
 * be known (policy, valid settings and state, breaker, heartbeat, the exchange's price and
 * the signal's agreement with it, prices of holdings), the kill switches, then the limits
 * (eligibility, schedule, market, positions), then sizing at the exchange's price.
 */
import { buyContext, type BuyContext } from './context.js';
import { breakerKnownRule, haltRule } from './rules/breaker.js';
import { dailyLossRule, drawdownRule, portfolioValueRule } from './rules/drawdown.js';
import { eligibilityRule } from './rules/eligibility.js';
import { fleetHaltRule } from './rules/fleet-halt.js';
import { heartbeatRule } from './rules/heartbeat.js';
import { settingsInput, stateInputRule } from './rules/inputs.js';
import { marketRule } from './rules/market.js';
import { marketPriceRule, priceDeviationRule } from './rules/market-price.js';
import { openPositionsRule } from './rules/open-positions.js';
import { pausedRule } from './rules/paused.js';
import { policyRule } from './rules/policy.js';
import { scheduleRule } from './rules/schedule.js';
import type { ReceivedPolicy } from './policy.js';
import type { Denial, RuleResult } from './rule.js';
import type { UserSettings } from './settings.js';
import { sizeBuy } from './sizing/size-buy.js';
import type { Decision, DecisionSignal, DecisionState } from './types.js';

const BUY_RULES: readonly ((ctx: BuyContext) => RuleResult)[] = [
  breakerKnownRule,
  haltRule,
  heartbeatRule,
  marketPriceRule,
  priceDeviationRule,
  portfolioValueRule,
  drawdownRule,
  dailyLossRule,
  eligibilityRule,
  scheduleRule,
];

function reject(r: Denial): Decision {
  return { accept: false, code: r.code, reason: r.reason };
}

export function decideBuy(
  signal: DecisionSignal,
  state: DecisionState,
  policy: ReceivedPolicy | null,
  rawSettings: UserSettings,
  now: number,
): Decision {
  const paused = pausedRule(rawSettings);
  if (!paused.allowed) return reject(paused);
  const halted = fleetHaltRule(state);
  if (!halted.allowed) return reject(halted);
  const p = policyRule(policy);
  if (!p.allowed) return reject(p);
  const s = settingsInput(rawSettings);
  if (!s.allowed) return reject(s);
  const st = stateInputRule(state);
  if (!st.allowed) return reject(st);

  const ctx = buyContext(signal, state, p.policy, s.settings, now);
  for (const rule of BUY_RULES) {
    const r = rule(ctx);
    if (!r.allowed) return reject(r);
  }
  // Sized at the exchange's price (known by now), never at the price the signal carries.
  const m = marketRule(signal, state.market, state.marketPrice as number);
  if (!m.allowed) return reject(m);
  const sizing = { ...ctx, market: m.market, price: m.price };
  const positions = openPositionsRule(sizing);
  if (!positions.allowed) return reject(positions);
  return sizeBuy(sizing);
}
