/**
 * The adaptive circuit breaker's vocabulary: levels, scopes, what goes in (readings of the
 * market and the venue) and what comes out (past-tense events with the inputs that caused them).
 * Pure: no clock, no I/O; every call passes `now`.
 */

export type BreakerLevel = 'normal' | 'caution' | 'halt';

/** Strictness order: a larger rank is stricter. */
export const LEVEL_RANK: Readonly<Record<BreakerLevel, number>> = { normal: 0, caution: 1, halt: 2 };

/** The market-wide scope; any other scope is a symbol in unified ccxt form (`BTC/USDT`). */
export const MARKET = 'market';
export type BreakerScope = string;

/** A scope's level as devices receive it. */
export interface ScopeLevel {
  level: BreakerLevel;
  /** 1 at normal, `cautionMultiplier` at caution, 0 at halt. */
  multiplier: number;
  /** For people: why this level (the input that holds it, in plain words), or why it is normal. */
  reason: string;
}

/** The inputs the breaker reads. */
export type BreakerInput =
  | 'return' // short-window return of one asset as a z-score against its rolling baseline
  | 'volatility' // realised volatility of one asset as a percentile of its own rolling history
  | 'breadth' // share of assets moving sharply in the same direction (market)
  | 'drawdown' // the house virtual portfolio's drawdown (market)
  | 'venue-errors' // share of the venue's API calls that failed (market)
  | 'venue-latency' // the venue's API latency against its own rolling history (market)
  | 'venue-silent' // no venue report for too long: the datafeed or the venue stopped (market)
  | 'stale' // an asset's candles stopped arriving (asset; every asset stale: market)
  | 'peg' // the quote stablecoin off its peg against a second stablecoin (market)
  | 'override'; // an operator's manual level

/** One input's reading at one moment, kept with every event it caused. */
export interface InputReading {
  input: BreakerInput;
  scope: BreakerScope;
  /** The measured value (a z-score, a percentile in 0..1, a share in 0..1, ms, a fraction...). */
  value: number;
  /** The thresholds in force when it was read (adaptive ones as computed then). */
  caution: number;
  halt: number;
  /** The level this input asks for on its own. */
  wants: BreakerLevel;
  /** The reading in plain words: "BTC/USDT fell 9.8 % in 2 h, 4.1 σ". */
  text: string;
}

/** An operator's manual level for one scope. */
export interface BreakerOverride {
  level: BreakerLevel;
  reason: string;
  /** Who set it (an operator's name); shown and logged. */
  by: string;
  setAt: number;
  /** When it lapses by itself (ms epoch); null: until an operator clears it. */
  expiresAt: number | null;
}

interface LevelChange {
  at: number;
  scope: BreakerScope;
  from: BreakerLevel;
  to: BreakerLevel;
  multiplier: number;
  reason: string;
  /** The readings that decided it (for a trip, those at or above the new level). */
  inputs: InputReading[];
}

/** A scope's effective level rose (automatic or by an override). */
export interface BreakerTripped extends LevelChange {
  type: 'BreakerTripped';
}
/** A scope's effective level fell (inputs calm for the cool-down, or an override cleared). */
export interface BreakerEased extends LevelChange {
  type: 'BreakerEased';
}
export interface OverrideSet {
  type: 'OverrideSet';
  at: number;
  scope: BreakerScope;
  override: BreakerOverride;
}
export interface OverrideCleared {
  type: 'OverrideCleared';
  at: number;
  scope: BreakerScope;
  /** The operator who cleared it; null when it expired. */
  by: string | null;
  expired: boolean;
}
export type BreakerEvent = BreakerTripped | BreakerEased | OverrideSet | OverrideCleared;

/** A candle as the breaker reads it: the bar, its length, and when it was received. */
export interface CandleReading {
  symbol: string;
  /** Bar open time, ms. */
  time: number;
  close: number;
  /** The bar's length in ms (3 600 000 for 1h): turns `returnBars` into words ("in 2 h"). */
  timeframeMs: number;
}

/** A datafeed's report on one venue over its last period. */
export interface VenueReading {
  venue: string;
  /** API calls made in the period, and how many failed (errors, timeouts, 5xx). */
  requests: number;
  errors: number;
  /** The period's 99th-percentile latency of successful calls, ms; null without any. */
  latencyP99Ms: number | null;
}

/** A scope's full state, for the operator's view and for tests. */
export interface ScopeState extends ScopeLevel {
  scope: BreakerScope;
  /** When the effective level last changed (null: never, still the initial normal). */
  since: number | null;
  /** What the inputs alone say, before any override. */
  automatic: BreakerLevel;
  override: BreakerOverride | null;
  /** The latest reading of each input of this scope. */
  readings: InputReading[];
  /** The earliest time the automatic level may ease one step (cool-down), or null. */
  easesNoEarlierThan: number | null;
}

export interface BreakerSnapshot {
  market: ScopeState;
  /** Every asset seen, by symbol. */
  assets: Record<string, ScopeState>;
}
