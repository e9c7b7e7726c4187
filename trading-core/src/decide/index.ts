export { decide } from './decide.js';
export type {
  AssetBreakerState,
  Authenticity,
  BreakerState,
  Decision,
  DecisionSignal,
  DecisionState,
  FleetHalt,
  MarketRules,
  Spend,
} from './types.js';
export {
  AUTHENTICITY_REASONS,
  REJECT_CODES,
  type AuthenticityCode,
  type DecideCode,
  type RejectCode,
} from './codes.js';
export {
  CentralPolicy,
  DEFAULT_COST_BUFFER_BPS,
  DEFAULT_MAX_DRAWDOWN_PCT,
  DEFAULT_MAX_EXPOSURE_PCT,
  DEFAULT_MAX_PRICE_DEVIATION_PCT,
  FuturePolicy,
  POLICY_SCHEMA_VERSION,
  ReceivedPolicy,
  Schedule,
  ScheduleWindow,
  WEEKDAYS,
  isCurrentPolicy,
  type LimitName,
  type Weekday,
} from './policy.js';
export { UserSettings } from './settings.js';
export { DEFAULT_FAMILY_POLICY } from './default-policy.js';
export { MAX_HELD, MAX_PRICE, MAX_PRICE_DEVIATION_PCT, MAX_QUOTE } from './bounds.js';
export {
  effectiveLimits,
  type EffectiveLimits,
  type OwnedSchedule,
  type ScheduleOwner,
} from './effective-limits.js';
export { isKnownTimeZone, localTime, type LocalTime } from './local-time.js';
export { breakerFor, type EffectiveBreaker } from './breaker-scope.js';
export { excerpt } from './format.js';
export { floorToStep } from './precision.js';
