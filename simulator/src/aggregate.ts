import { timeframeMs } from '@appliance/datafeed-node';
import type { StrategyParams } from '@appliance/trading-core';
import { deflatedSharpeOfRuns } from './deflated-sharpe.js';
import { decideEligibility, EligibilityRule, type WindowResult } from './eligibility.js';
import {
  IN_SAMPLE,
  OUT_OF_SAMPLE,
  TRIAL_WINDOW,
  type Segment,
  type SimJob,
  type SimulationPlan,
} from './jobs.js';
import type { RunMetrics } from './metrics.js';
import { DEFAULT_VARIANT } from './param-grid.js';
import type { EligibilityRecord, RunRecord, SimulationResults, TrialRecord } from './results.js';
import { walkForward, type ParameterSetResult, type WalkForwardVerdict } from './walk-forward.js';
import { WINDOWS, expectedCandles, type Window } from './windows.js';
import type { FileCheck, JobResult } from './worker.js';

export interface AggregateOptions {
  /** When the results were made, ISO: passed in so that aggregation stays pure. */
  createdAt: string;
  /** The eligibility rule, checked by its schema (defaults filled in). */
  rule?: unknown;
  previous?: readonly PreviousDecision[];
}

/** What the hysteresis needs of the previous run: an EligibilityRecord of its results.json will do. */
export type PreviousDecision = Pick<EligibilityRecord, 'stream' | 'symbol' | 'state'>;

/**
 * Results of a plan's jobs into runs, trials and one eligibility record per (stream, symbol).
 * Pure. Results are keyed by jobId: one delivered twice counts once (the first kept), one for a
 * job not in the plan is ignored, and a job without a result is listed in `missing` and judged
 * as if it had failed, so a lost message cannot make a stream eligible.
 */
export function aggregate(
  plan: Pick<SimulationPlan, 'runId' | 'end' | 'jobs' | 'skipped'>,
  results: Iterable<JobResult>,
  o: AggregateOptions,
): SimulationResults {
  const planned = new Set(plan.jobs.map((j) => j.jobId));
  const byJob = new Map<string, JobResult>();
  let duplicates = 0;
  for (const r of results) {
    if (!planned.has(r.jobId)) continue;
    if (byJob.has(r.jobId)) duplicates++;
    else byJob.set(r.jobId, r);
  }
  const runs: RunRecord[] = [];
  const trials: TrialRecord[] = [];
  const missing: string[] = [];
  for (const job of plan.jobs) {
    const r = byJob.get(job.jobId);
    if (r === undefined) missing.push(job.jobId);
    const metrics = r?.metrics ?? null;
    const error = r === undefined ? 'no result came for this job' : r.error;
    const threadId = r?.threadId ?? null;
    if (isWindowRun(job))
      runs.push({
        jobId: job.jobId,
        stream: job.stream,
        strategy: job.strategy,
        params: job.params,
        symbol: job.symbol,
        timeframe: job.timeframe,
        window: job.segment as Window,
        range: job.range,
        metrics,
        error,
        candles: r?.candles ?? 0,
        threadId,
        equity: r?.equity ?? null,
        drawdown: r?.drawdown ?? null,
      });
    else
      trials.push({
        jobId: job.jobId,
        stream: job.stream,
        symbol: job.symbol,
        variant: job.variant,
        params: job.params,
        segment: job.segment,
        metrics,
        error,
        threadId,
      });
  }
  const rule = EligibilityRule.parse(o.rule ?? {});
  const eligibility = judge(plan.jobs, byJob, rule, o.previous ?? []);
  return {
    runId: plan.runId,
    end: plan.end,
    endIso: new Date(plan.end).toISOString(),
    createdAt: o.createdAt,
    runs,
    trials,
    eligibility,
    dataProblems: dataProblems(byJob.values()),
    skipped: plan.skipped,
    missing,
    duplicates,
  };
}

function isWindowRun(job: SimJob): boolean {
  return job.variant === DEFAULT_VARIANT && (WINDOWS as readonly string[]).includes(job.segment);
}

/** One eligibility record per (stream, symbol) the plan runs, in plan order. */
function judge(
  jobs: readonly SimJob[],
  byJob: ReadonlyMap<string, JobResult>,
  rule: EligibilityRule,
  previous: readonly PreviousDecision[],
): EligibilityRecord[] {
  const metricsOf = (j: SimJob | undefined) =>
    j === undefined ? null : (byJob.get(j.jobId)?.metrics ?? null);
  const groups = new Map<string, SimJob[]>();
  for (const j of jobs) {
    const key = `${j.stream}\u0000${j.symbol}`;
    groups.set(key, [...(groups.get(key) ?? []), j]);
  }
  const out: EligibilityRecord[] = [];
  for (const group of groups.values()) {
    const { stream, strategy, symbol, timeframe } = group[0]!;
    const tfMs = timeframeMs(timeframe) ?? 1;
    const find = (variant: string, segment: Segment) =>
      group.find((j) => j.variant === variant && j.segment === segment);
    const windows = Object.fromEntries(
      WINDOWS.map((w): [Window, WindowResult] => {
        const j = find(DEFAULT_VARIANT, w);
        const r = j === undefined ? undefined : byJob.get(j.jobId);
        return [
          w,
          {
            candles: r?.candles ?? 0,
            expected: j === undefined ? 0 : expectedCandles(j.range, tfMs),
            metrics: r?.metrics ?? null,
          },
        ];
      }),
    ) as Record<Window, WindowResult>;

    // The trials the one-year Sharpe is the best of: every parameter set of every strategy on this symbol.
    const trialMetrics = jobs
      .filter((j) => j.symbol === symbol && j.timeframe === timeframe && j.segment === TRIAL_WINDOW)
      .map(metricsOf);
    const year = windows[TRIAL_WINDOW].metrics as RunMetrics | null;
    const dsr =
      year !== null && trialMetrics.every((m) => m !== null)
        ? safeDeflatedSharpe(year, trialMetrics as RunMetrics[])
        : null;

    const variants = [...new Set(group.map((j) => j.variant))].map((variant) => ({
      variant,
      params: find(variant, IN_SAMPLE)?.params ?? {},
      inSample: metricsOf(find(variant, IN_SAMPLE)),
      outOfSample: metricsOf(find(variant, OUT_OF_SAMPLE)),
    }));
    const wf = walkForwardOf(variants);

    const before = previous.find((p) => p.stream === stream && p.symbol === symbol)?.state ?? null;
    const decision = decideEligibility(
      { stream, symbol, windows, deflatedSharpe: dsr?.probability ?? null, walkForward: wf },
      rule,
      before,
    );
    out.push({
      stream,
      strategy,
      symbol,
      eligible: decision.eligible,
      passed: decision.passed,
      reason: decision.reason,
      checks: decision.checks,
      state: decision.state,
      deflatedSharpe: dsr,
      walkForward: wf,
    });
  }
  return out;
}

/** The DSR, or null when it is undefined for these returns (a spread term ≤ 0: too few or odd returns). */
function safeDeflatedSharpe(
  chosen: RunMetrics,
  trials: readonly RunMetrics[],
): EligibilityRecord['deflatedSharpe'] {
  try {
    return { ...deflatedSharpeOfRuns(chosen, trials), trials: trials.length };
  } catch (err) {
    if (err instanceof RangeError) return null;
    throw err;
  }
}

/**
 * The walk-forward over the sets whose two runs both came back, or null when none did (or every
 * in-sample Sharpe is NaN): then there is nothing to judge and the rule says so.
 */
function walkForwardOf(
  variants: {
    variant: string;
    params: StrategyParams;
    inSample: RunMetrics | null;
    outOfSample: RunMetrics | null;
  }[],
): WalkForwardVerdict | null {
  const sets: ParameterSetResult[] = [];
  for (const v of variants)
    if (v.inSample !== null && v.outOfSample !== null)
      sets.push({ id: v.variant, params: v.params, inSample: v.inSample, outOfSample: v.outOfSample });
  if (sets.length === 0) return null;
  try {
    return walkForward(sets);
  } catch (err) {
    if (err instanceof RangeError) return null;
    throw err;
  }
}

/** Each file's check once, however many jobs reported it. */
function dataProblems(results: Iterable<JobResult>): FileCheck[] {
  const byFile = new Map<string, FileCheck>();
  for (const r of results) for (const d of r.data) if (!byFile.has(d.file)) byFile.set(d.file, d);
  return [...byFile.values()];
}
