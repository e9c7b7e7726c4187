/**
 * The device's decision: one pure function of the signal, what the device knows, the
 * central policy, the user's settings and the time. No clock, no I/O, no exceptions for a
 * normal "no": a rejection is a value with a code and a plain reason.
 */
import type { ReceivedPolicy } from './policy.js';
import { decideBuy } from './buy.js';
import { authenticityRule, expiryRule } from './rules/authenticity.js';
import { signalInputRule } from './rules/inputs.js';
import { streamRule } from './rules/stream.js';
import type { RuleResult } from './rule.js';
import { decideSell } from './sell.js';
import type { UserSettings } from './settings.js';
import type { Decision, DecisionSignal, DecisionState } from './types.js';

/**
 * Decide whether and how much to trade on `signal`.
 *
 * Checks run in this order, and the first "no" is the answer: authenticity (the protocol's
 * verdict, then bad input, then expiry against `now`), the followed streams; then for a
 * sell only holdings and the market; for a buy the pause, the fail-safe conditions, the
 * limits and the sizing (see `decideBuy`).
 *
 * @param policy  the parsed central policy (`ReceivedPolicy`); null if none is known.
 * @param settings the parsed user settings (`UserSettings`).
 * @param now     the current time, epoch ms.
 */
export function decide(
  signal: DecisionSignal,
  state: DecisionState,
  policy: ReceivedPolicy | null,
  settings: UserSettings,
  now: number,
): Decision {
  const gates: (() => RuleResult)[] = [
    () => authenticityRule(signal),
    () => signalInputRule(signal, state, now),
    () => expiryRule(signal, now),
    () => streamRule(signal, settings),
  ];
  for (const gate of gates) {
    const r = gate();
    if (!r.allowed) return { accept: false, code: r.code, reason: r.reason };
  }
  return signal.side === 'sell' ? decideSell(signal, state) : decideBuy(signal, state, policy, settings, now);
}
