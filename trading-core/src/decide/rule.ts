import type { RejectCode } from './codes.js';

/** What a gate rule says: go on, or stop with a code and a plain reason. */
export type RuleResult = { allowed: true } | { allowed: false; code: RejectCode; reason: string };
export type Denial = Extract<RuleResult, { allowed: false }>;

export const ALLOW: RuleResult = Object.freeze({ allowed: true });

export function deny(code: RejectCode, reason: string): Denial {
  return { allowed: false, code, reason };
}

/** `R_BAD_INPUT`, with the common prefix so every such reason reads the same. */
export function badInput(what: string): Denial {
  return deny('R_BAD_INPUT', `The device could not decide: ${what}`);
}
