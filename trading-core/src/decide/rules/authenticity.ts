/**
 * First gate, for buys and sells alike: the protocol layer's verdict, then an expiry re-check
 * of our own (defence in depth: a signal that sat in a queue may have expired since).
 */
import { AUTHENTICITY_REASONS, type AuthenticityCode } from '../codes.js';
import { duration } from '../format.js';
import { ALLOW, badInput, deny, type RuleResult } from '../rule.js';
import type { DecisionSignal } from '../types.js';

const PROTOCOL_CODE = /^E_[A-Z0-9_]{1,60}$/;

export function authenticityRule(signal: DecisionSignal): RuleResult {
  const a: unknown = signal.authenticity;
  if (a === 'verified') return ALLOW;
  if (typeof a === 'string' && PROTOCOL_CODE.test(a)) {
    const reason =
      AUTHENTICITY_REASONS[a] ?? `The signal was ignored: it failed its authenticity check (${a})`;
    return deny(a as AuthenticityCode, reason);
  }
  // Neither verified nor a protocol code: we cannot tell it was checked, so it is not trusted.
  return badInput(`the signal's authenticity is not known (${String(a)})`);
}

/** Same boundary as the protocol's `checkWindow`: valid through `ts + ttlMs` inclusive. */
export function expiryRule(signal: DecisionSignal, now: number): RuleResult {
  const late = now - (signal.ts + signal.ttlMs);
  return late > 0 ? deny('E_EXPIRED', `The signal was ignored: it expired ${duration(late)} ago`) : ALLOW;
}
