/**
 * Input checks: bad input is a rejection (`R_BAD_INPUT`) with a clear reason, never an
 * exception. A sell checks only what a sell uses (signal, holdings, market), so broken
 * settings or a broken policy can never trap the user in a position.
 */
import { MAX_HELD, MAX_PRICE, MAX_QUOTE } from '../bounds.js';
import { excerpt } from '../format.js';
import { isTimestamp, isKnownTimeZone } from '../local-time.js';
import { UserSettings } from '../settings.js';
import { ALLOW, badInput, type Denial, type RuleResult } from '../rule.js';
import type { DecisionSignal, DecisionState } from '../types.js';

const SYMBOL = /^[A-Z0-9]{1,20}\/[A-Z0-9]{1,20}$/;

const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
const isNonNeg = (x: unknown): x is number => isNum(x) && x >= 0;
const isPos = (x: unknown): x is number => isNum(x) && x > 0;

/** The first zod issue as `path: message`. */
export function firstIssue(error: {
  issues: readonly { path: readonly PropertyKey[]; message: string }[];
}): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid';
  const path = issue.path.map(String).join('.');
  return path ? `${path}: ${issue.message}` : issue.message;
}

export function signalInputRule(signal: DecisionSignal, state: DecisionState, now: number): RuleResult {
  if (!isTimestamp(now)) return badInput(`the current time is not a valid timestamp (${String(now)})`);
  if (typeof signal.stream !== 'string') return badInput('the signal has no stream');
  if (typeof signal.symbol !== 'string' || !SYMBOL.test(signal.symbol)) {
    return badInput(`the signal's symbol ${JSON.stringify(signal.symbol)} is not of the form BASE/QUOTE`);
  }
  if (signal.side !== 'buy' && signal.side !== 'sell') {
    return badInput(`the signal's side ${JSON.stringify(signal.side)} is neither buy nor sell`);
  }
  if (!isPos(signal.price))
    return badInput(`the signal price is not a positive number (${String(signal.price)})`);
  if (signal.price > MAX_PRICE) return badInput(tooLarge('the signal price', signal.price, MAX_PRICE));
  if (!isTimestamp(signal.ts) || !isNonNeg(signal.ttlMs)) {
    return badInput(
      `the signal's time or validity is not a number (ts ${String(signal.ts)}, ttlMs ${String(signal.ttlMs)})`,
    );
  }
  const quote = signal.symbol.split('/')[1];
  if (quote !== state.quote)
    return badInput(`the signal is priced in ${quote}, but this device trades in ${state.quote}`);
  return ALLOW;
}

function tooLarge(what: string, x: number, max: number): string {
  return `${what} ${String(x)} is above the largest accepted (${String(max)})`;
}

/** One scope's breaker level: a known level, a multiplier in 0..1, a text reason if any. */
function isBreakerLevel(x: unknown): boolean {
  const b = x as { level?: unknown; multiplier?: unknown; reason?: unknown } | null;
  return (
    typeof b === 'object' &&
    b !== null &&
    ['normal', 'caution', 'halt'].includes(b.level as string) &&
    isNum(b.multiplier) &&
    b.multiplier >= 0 &&
    b.multiplier <= 1 &&
    (b.reason === undefined || typeof b.reason === 'string')
  );
}

/** Part of a bad value for a reason: JSON, cut short (a breaker may carry 500 assets). */
function brief(x: unknown): string {
  return excerpt(JSON.stringify(x) ?? String(x), 120);
}

/** The exchange's price as a sell reads it: a usable number, or null (unknown or unusable). */
export function usableMarketPrice(state: DecisionState): number | null {
  const p: unknown = state.marketPrice;
  return isPos(p) && p <= MAX_PRICE ? p : null;
}

/** The settings, parsed (defaults applied), or why they are unusable. */
export function settingsInput(settings: UserSettings): { allowed: true; settings: UserSettings } | Denial {
  if (!isKnownTimeZone(settings.timeZone)) {
    return badInput(`the time zone ${JSON.stringify(settings.timeZone)} in your settings is not known`);
  }
  const parsed = UserSettings.safeParse(settings);
  if (!parsed.success) return badInput(`your settings are invalid (${firstIssue(parsed.error)})`);
  return { allowed: true, settings: parsed.data };
}

/** Holdings of one asset, for a sell. */
export function heldInput(asset: string, held: unknown): RuleResult {
  if (held === undefined) return ALLOW;
  if (!isNonNeg(held)) {
    return badInput(`the held amount of ${asset} is not a number of at least 0 (${String(held)})`);
  }
  return held > MAX_HELD ? badInput(tooLarge(`the held amount of ${asset}`, held, MAX_HELD)) : ALLOW;
}

/** Everything of the state a buy reads (the market is checked by the market rule). */
export function stateInputRule(state: DecisionState): RuleResult {
  if (!isNonNeg(state.quoteFree)) {
    return badInput(
      `the free ${state.quote} balance is not a number of at least 0 (${String(state.quoteFree)})`,
    );
  }
  if (state.quoteFree > MAX_QUOTE) {
    return badInput(tooLarge(`the free ${state.quote} balance`, state.quoteFree, MAX_QUOTE));
  }
  for (const [asset, held] of Object.entries(state.holdings ?? {})) {
    const r = heldInput(asset, held);
    if (!r.allowed) return r;
  }
  for (const [symbol, mark] of Object.entries(state.marks ?? {})) {
    if (!isPos(mark)) return badInput(`the price of ${symbol} is not a positive number (${String(mark)})`);
    if (mark > MAX_PRICE) return badInput(tooLarge(`the price of ${symbol}`, mark, MAX_PRICE));
  }
  const mp: unknown = state.marketPrice;
  if (mp !== null && mp !== undefined && !(isPos(mp) && mp <= MAX_PRICE)) {
    return badInput(
      `the exchange's price is not a positive number of at most ${String(MAX_PRICE)} (${String(mp)})`,
    );
  }
  if (!isPos(state.seedEquity))
    return badInput(`the starting equity is not a positive number (${String(state.seedEquity)})`);
  if (!isPos(state.dayStartEquity)) {
    return badInput(
      `the equity at the start of the day is not a positive number (${String(state.dayStartEquity)})`,
    );
  }
  if (!Array.isArray(state.spends)) return badInput('the recorded spends are not a list');
  for (const s of state.spends) {
    if (!isTimestamp(s?.ts) || !isNonNeg(s.quote) || s.quote > MAX_QUOTE)
      return badInput(`a recorded spend is invalid (${JSON.stringify(s)})`);
  }
  if (state.lastHeartbeatAt !== null && !isTimestamp(state.lastHeartbeatAt)) {
    return badInput(
      `the time of the last heartbeat is not a valid timestamp (${String(state.lastHeartbeatAt)})`,
    );
  }
  const b = state.breaker;
  if (b !== null) {
    if (!isBreakerLevel(b)) return badInput(`the circuit breaker state is invalid (${brief(b)})`);
    const assets: unknown = b.assets;
    if (assets !== undefined && (typeof assets !== 'object' || assets === null || Array.isArray(assets))) {
      return badInput("the circuit breaker's assets are not a list by symbol");
    }
    for (const [symbol, level] of Object.entries(assets ?? {})) {
      if (!isBreakerLevel(level)) {
        return badInput(`the circuit breaker state of ${brief(symbol)} is invalid (${brief(level)})`);
      }
    }
  }
  const e = state.eligibility;
  if (e !== null && (typeof e !== 'object' || Object.values(e).some((l) => !Array.isArray(l)))) {
    return badInput('the eligibility lists are invalid');
  }
  return ALLOW;
}
