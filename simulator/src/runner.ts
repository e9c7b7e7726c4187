import { accessSync, closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve as resolvePath } from 'node:path';
import { Piscina } from 'piscina';
import { errorClass } from '@appliance/errors';
import { FeedError, resolveReplayFiles, timeframeMs } from '@appliance/datafeed-node';
import {
  DEFAULT_FILL_COSTS,
  StrategyError,
  fillCostsProblem,
  strategyNames,
  strategySpec,
  type FillCosts,
  type StrategyParams,
} from '@appliance/trading-core';
import { deflatedSharpeOfRuns, type DeflatedSharpe } from './deflated-sharpe.js';
import {
  decideEligibility,
  EligibilityRule,
  type EligibilityCheck,
  type EligibilityState,
  type WindowResult,
} from './eligibility.js';
import {
  IN_SAMPLE,
  OUT_OF_SAMPLE,
  TRIAL_WINDOW,
  planJobs,
  type DataFile,
  type Segment,
  type SimJob,
  type SimulationPlan,
  type Skipped,
} from './jobs.js';
import type { RunMetrics } from './metrics.js';
import { DEFAULT_VARIANT } from './param-grid.js';
import { walkForward, type ParameterSetResult, type WalkForwardVerdict } from './walk-forward.js';
import { WINDOWS, expectedCandles, type TimeRange, type Window } from './windows.js';
import type { Curve, FileCheck, JobResult } from './worker.js';

/**
 * A simulation from files to verdicts: plan the jobs (jobs.ts), run them on a pool of worker
 * threads (worker.ts), and `aggregate` what comes back into runs, deflated Sharpe ratios,
 * walk-forward results and eligibility decisions. `aggregate` is pure, so a simulator node that
 * gets its results from a jobs topic instead of threads judges them the same way.
 */

const SIMULATION_ERROR_CODES = {
  E_INPUT: 'the simulation cannot start: a file, symbol, timeframe, strategy, date or cost is unusable',
} as const;
export class SimulationError extends errorClass('SimulationError', SIMULATION_ERROR_CODES) {}

export const DEFAULT_SEED = 10_000;

export interface SimulationOptions {
  /** Candle CSV files, one per symbol: `time,open,high,low,close,volume`. */
  files: readonly string[];
  /** The symbol of each file, in order; default: from each file's name (`binance_BTC-USDT_1h.csv`). */
  symbols?: readonly string[];
  /** The timeframe of every file; default: from each file's name. */
  timeframe?: string;
  /** Where every window ends (exclusive), ms; default: just after the last candle of the files. */
  end?: number;
  /** Strategy names; default: every strategy of the registry. */
  strategies?: readonly string[];
  /** Starting cash of every backtest, in quote (default DEFAULT_SEED). */
  seed?: number;
  costs?: FillCosts;
  /** Worker threads (default: one per CPU). */
  threads?: number;
  onProgress?: (done: number, total: number) => void;
  /** The eligibility rule (defaults from eligibility.ts) and the decisions of the previous run, for its hysteresis. */
  rule?: unknown;
  previous?: readonly PreviousDecision[];
  /** When the results were made (default: now); ISO. */
  createdAt?: string;
}

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

/**
 * The plan for `options`, every input checked first: a SimulationError E_INPUT for a missing
 * file, a name that says nothing and no --symbol, an unknown strategy, a bad end or bad costs.
 */
export function planSimulation(options: SimulationOptions): SimulationPlan {
  const files = dataFiles(options);
  const strategies = [...(options.strategies ?? strategyNames())];
  if (strategies.length === 0) throw new SimulationError('E_INPUT', 'no strategies to run');
  for (const s of strategies) {
    try {
      strategySpec(s);
    } catch (err) {
      if (err instanceof StrategyError) throw new SimulationError('E_INPUT', err.message, { cause: err });
      throw err;
    }
  }
  const twice = strategies.find((s, i) => strategies.indexOf(s) !== i);
  if (twice !== undefined) throw new SimulationError('E_INPUT', `strategy ${twice} is named twice`);
  const seed = options.seed ?? DEFAULT_SEED;
  if (!(seed > 0 && Number.isFinite(seed)))
    throw new SimulationError('E_INPUT', `seed must be a positive amount of quote, got ${seed}`);
  const costs = options.costs ?? DEFAULT_FILL_COSTS;
  const problem = fillCostsProblem(costs);
  if (problem !== null) throw new SimulationError('E_INPUT', problem);
  const end = options.end ?? Math.max(...files.map(fileEnd));
  if (!Number.isSafeInteger(end) || end <= 0)
    throw new SimulationError('E_INPUT', `end must be a time in ms after 1970, got ${end}`);
  return planJobs({ files, end, strategies, seed, costs });
}

/** Plans, runs every job on a pool of worker threads, and aggregates. */
export async function runSimulation(options: SimulationOptions): Promise<SimulationResults> {
  const plan = planSimulation(options);
  const results = await runJobs(plan.jobs, {
    ...(options.threads === undefined ? {} : { threads: options.threads }),
    ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
  });
  return aggregate(plan, results, {
    createdAt: options.createdAt ?? new Date().toISOString(),
    ...(options.rule === undefined ? {} : { rule: options.rule }),
    ...(options.previous === undefined ? {} : { previous: options.previous }),
  });
}

export interface PoolOptions {
  threads?: number;
  onProgress?: (done: number, total: number) => void;
}

/** The worker's file: loaded by path, TypeScript through the `--import tsx` its thread inherits. */
export const WORKER_URL = new URL('./worker.ts', import.meta.url);

/**
 * Runs jobs on a piscina pool of `threads` worker threads (default one per CPU) and returns
 * their results in the order they finished. The pool is destroyed at the end, even on failure.
 */
export async function runJobs(jobs: readonly SimJob[], o: PoolOptions = {}): Promise<JobResult[]> {
  const threads = o.threads ?? availableParallelism();
  if (!(Number.isInteger(threads) && threads >= 1))
    throw new SimulationError('E_INPUT', `threads must be a whole number >= 1, got ${threads}`);
  const pool = new Piscina<SimJob, JobResult>({
    filename: WORKER_URL.href,
    minThreads: threads,
    maxThreads: threads,
    // Every job is queued at once: the pool must hold them all, not refuse the overflow.
    maxQueue: Infinity,
  });
  const results: JobResult[] = [];
  let done = 0;
  o.onProgress?.(0, jobs.length);
  try {
    await Promise.all(
      jobs.map(async (job) => {
        results.push(await pool.run(job));
        o.onProgress?.(++done, jobs.length);
      }),
    );
  } finally {
    await pool.destroy();
  }
  return results;
}

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

/** The files with their symbol and timeframe, each checked readable. */
function dataFiles(o: SimulationOptions): DataFile[] {
  if (o.files.length === 0) throw new SimulationError('E_INPUT', 'no data files given');
  if (o.symbols !== undefined && o.symbols.length !== o.files.length)
    throw new SimulationError(
      'E_INPUT',
      `${o.symbols.length} symbols for ${o.files.length} files: give one symbol per file, in order`,
    );
  let files: DataFile[];
  try {
    files = o.files.flatMap((file, i) =>
      resolveReplayFiles([file], {
        ...(o.symbols === undefined ? {} : { symbol: o.symbols[i]! }),
        ...(o.timeframe === undefined ? {} : { timeframe: o.timeframe }),
      }),
    );
  } catch (err) {
    if (err instanceof FeedError) throw new SimulationError('E_INPUT', err.message, { cause: err });
    throw err;
  }
  const seen = new Set<string>();
  for (const f of files) {
    const key = `${f.symbol} ${f.timeframe}`;
    if (seen.has(key))
      throw new SimulationError('E_INPUT', `two files are both ${f.symbol} on ${f.timeframe}`);
    seen.add(key);
    try {
      accessSync(f.path, constants.R_OK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new SimulationError(
        'E_INPUT',
        `${f.path}: ${code === 'ENOENT' ? 'no such file' : `cannot be read (${code ?? 'error'})`}`,
        { cause: err },
      );
    }
  }
  return files.map((f) => ({ ...f, path: resolvePath(f.path) }));
}

/**
 * Just after the file's last candle: its open time plus one timeframe. Read from the file's
 * tail, without parsing the rest (the workers check the whole file).
 */
function fileEnd(file: DataFile): number {
  const tail = readTail(file.path, 4096);
  const last = tail
    .split(/\r?\n|\r/)
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .at(-1);
  const time = Number(last?.split(',')[0]);
  const tf = timeframeMs(file.timeframe);
  if (last === undefined || !Number.isSafeInteger(time) || time <= 0 || tf === undefined)
    throw new SimulationError(
      'E_INPUT',
      `${file.path}: cannot tell the time of its last candle (last line ${JSON.stringify(last ?? '')}); give --end`,
    );
  return time + tf;
}

function readTail(path: string, bytes: number): string {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const length = Math.min(size, bytes);
    const buffer = Buffer.alloc(length);
    readSync(fd, buffer, 0, length, size - length);
    return buffer.toString('utf8');
  } finally {
    closeSync(fd);
  }
}
