/**
 * Everything the buy rules read, computed once: effective limits, the portfolio's value,
 * the local time of `now` and of recent spends, and the windows covering `now`.
 */
import { effectiveLimits, type EffectiveLimits } from './effective-limits.js';
import { localTime, type LocalTime } from './local-time.js';
import type { CentralPolicy } from './policy.js';
import { activeWindows, type ActiveWindow } from './schedule-time.js';
import type { UserSettings } from './settings.js';
import { valuePortfolio, type Valuation } from './portfolio.js';
import type { DecisionSignal, DecisionState, MarketRules } from './types.js';

/** No local day or window instance is longer than this, so older spends cannot count. */
const SPEND_LOOKBACK_MS = 50 * 60 * 60 * 1000;

export interface LocalSpend {
  ts: number;
  quote: number;
  local: LocalTime;
}

export interface BuyContext {
  signal: DecisionSignal;
  state: DecisionState;
  settings: UserSettings;
  limits: EffectiveLimits;
  now: number;
  base: string;
  valuation: Valuation;
  local: LocalTime;
  /** Spends of the last `SPEND_LOOKBACK_MS` (and any stamped after `now`), with local times. */
  spends: LocalSpend[];
  /** Windows of every applying schedule that cover `now`. */
  windows: ActiveWindow[];
}

/** Once the market is known: its rules and the signal price rounded to its tick. */
export interface SizingContext extends BuyContext {
  market: MarketRules;
  price: number;
}

export function buyContext(
  signal: DecisionSignal,
  state: DecisionState,
  policy: CentralPolicy,
  settings: UserSettings,
  now: number,
): BuyContext {
  const tz = settings.timeZone;
  const local = localTime(now, tz);
  const limits = effectiveLimits(policy, settings);
  const spends = state.spends
    .filter((s) => s.ts > now - SPEND_LOOKBACK_MS)
    .map((s) => ({ ts: s.ts, quote: s.quote, local: localTime(s.ts, tz) }));
  return {
    signal,
    state,
    settings,
    limits,
    now,
    base: signal.symbol.split('/')[0]!,
    valuation: valuePortfolio(state, signal),
    local,
    spends,
    windows: limits.schedules.flatMap((s) => activeWindows(s.owner, s.schedule, local)),
  };
}
