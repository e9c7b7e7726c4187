import type { StrategyParams } from '@appliance/trading-core';
import type { DeflatedSharpe } from './deflated-sharpe.js';
import type { EligibilityCheck, EligibilityState } from './eligibility.js';
import type { Segment, Skipped } from './jobs.js';
import type { RunMetrics } from './metrics.js';
import type { WalkForwardVerdict } from './walk-forward.js';
import type { TimeRange, Window } from './windows.js';
import type { Curve, FileCheck } from './worker.js';

/** The results of a simulation, as results.json keeps them: what `aggregate` (aggregate.ts) makes. */

/** One backtest of a stream at its own parameters over one window, as results.json keeps it. */
export interface RunRecord {
  jobId: string;
  stream: string;
  strategy: string;
  params: StrategyParams;
  symbol: string;
  timeframe: string;
  window: Window;
  range: TimeRange;
  /** Null when the run could not be made (`error` says why) or its result never came. */
  metrics: RunMetrics | null;
  error: string | null;
  candles: number;
  threadId: number | null;
  equity: Curve | null;
  drawdown: Curve | null;
}

/** A run of the grid that only feeds the deflated Sharpe and the walk-forward. */
export interface TrialRecord {
  jobId: string;
  stream: string;
  symbol: string;
  variant: string;
  params: StrategyParams;
  segment: Segment;
  metrics: RunMetrics | null;
  error: string | null;
  threadId: number | null;
}

export interface EligibilityRecord {
  stream: string;
  strategy: string;
  symbol: string;
  /** After hysteresis: what live trading obeys. */
  eligible: boolean;
  /** This run's verdict on the rule alone, before hysteresis. */
  passed: boolean;
  /** Why, in one line: the verdict, then every check with its figures. */
  reason: string;
  checks: EligibilityCheck[];
  /** Give back as `previous` on the next run, for the hysteresis. */
  state: EligibilityState;
  deflatedSharpe: (DeflatedSharpe & { trials: number }) | null;
  walkForward: WalkForwardVerdict | null;
}

export interface SimulationResults {
  runId: string;
  /** Where every window ends (exclusive): ms and ISO. */
  end: number;
  endIso: string;
  createdAt: string;
  runs: RunRecord[];
  trials: TrialRecord[];
  eligibility: EligibilityRecord[];
  dataProblems: FileCheck[];
  skipped: Skipped[];
  /** Jobs planned whose result never came (always 0 for a run on this machine's threads). */
  missing: string[];
  /** Results for a job already counted, ignored (at-least-once delivery repeats some). */
  duplicates: number;
}
