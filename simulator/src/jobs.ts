import { createHash } from 'node:crypto';
import { DEFAULT_STRATEGY, DEFAULT_STREAM } from '@appliance/datafeed-node';
import { strategySpec, type FillCosts, type StrategyParams } from '@appliance/trading-core';
import { paramGrid, DEFAULT_VARIANT } from './param-grid.js';
import { walkForwardRanges } from './walk-forward.js';
import { WINDOWS, windowRange, type TimeRange, type Window } from './windows.js';

/**
 * The plan of a simulation: every backtest it runs, as plain JSON jobs. A job says everything a
 * worker needs (file, window, params, costs) and nothing it has to share, so the same job can go
 * to a thread here or over a Kafka jobs topic to another machine.
 *
 * Per (stream, symbol):
 * - the stream's own parameters over each of WINDOWS, with the equity curve for the report;
 * - every parameter set of the grid (param-grid.ts) over `in-sample` and `3m`: the walk-forward
 *   picks the set with the best in-sample Sharpe and judges it on the following three months;
 * - every parameter set over `1y`: the trials the deflated Sharpe discounts the stream's own
 *   one-year Sharpe for.
 * Jobs that would repeat one already planned (the defaults over `3m` and `1y`) are planned once.
 */

/** Where a job's candles come from: a CSV file on a disk the worker can read. */
export interface CandleSource {
  file: string;
}

/** A window of WINDOWS, or the walk-forward's in-sample span (the 6m window without its last 3 months). */
export type Segment = Window | 'in-sample';

export const IN_SAMPLE = 'in-sample' satisfies Segment;
/** The walk-forward judges its choice on this window: the three months after the in-sample span. */
export const OUT_OF_SAMPLE: Window = '3m';
/** The window whose Sharpe the deflated Sharpe judges, and whose trials it deflates over. */
export const TRIAL_WINDOW: Window = '1y';

export interface SimJob {
  runId: string;
  /** Deterministic from the rest of the job: a result delivered twice is recognised as one. */
  jobId: string;
  /**
   * The datafeed's stream the decisions are for: `<strategy>.<timeframe>` (e.g.
   * `turtle.1h`), except the datafeed's default stream, `ema-cross.1h`, which carries
   * `ema-cross-volume` on 1h candles.
   */
  stream: string;
  strategy: string;
  /** Which parameter set of the grid: `default` for the stream's own. */
  variant: string;
  params: StrategyParams;
  /** Unified symbol, e.g. `BTC/USDT`. */
  symbol: string;
  timeframe: string;
  source: CandleSource;
  /** Candles of the symbols the strategy reads as inputs (a correlation leader), by symbol. */
  inputs?: Record<string, CandleSource>;
  segment: Segment;
  range: TimeRange;
  /** Starting cash in the quote currency. */
  seed: number;
  costs: FillCosts;
  /** Whether the worker returns the equity and drawdown curves (for the report). */
  curve: boolean;
}

export interface DataFile {
  path: string;
  symbol: string;
  timeframe: string;
}

export interface PlanInput {
  files: readonly DataFile[];
  /** The moment every window ends at (exclusive), ms. */
  end: number;
  strategies: readonly string[];
  seed: number;
  costs: FillCosts;
}

/** A (stream, symbol) that is not run, and why. */
export interface Skipped {
  stream: string;
  symbol: string;
  reason: string;
}

export interface SimulationPlan {
  runId: string;
  end: number;
  jobs: SimJob[];
  /** Parameter sets tried per symbol over all strategies: the deflated Sharpe's number of trials. */
  trials: number;
  skipped: Skipped[];
}

/**
 * The name of the datafeed stream that runs `strategy` at its defaults on `timeframe` candles:
 * the datafeed's default stream keeps the name it has always had, every other is
 * `<strategy>.<timeframe>` (name a datafeed's `streams` entry so for its decisions to apply).
 */
function streamName(strategy: string, timeframe: string): string {
  return strategy === DEFAULT_STRATEGY && timeframe === '1h' ? DEFAULT_STREAM : `${strategy}.${timeframe}`;
}

/** The walk-forward's split: chosen over the 6m window without its last 3 months, judged on those. */
const WALK_FORWARD_SPLIT = { inSample: '6m', outOfSample: OUT_OF_SAMPLE } as const;

export function inSampleRange(end: number): TimeRange {
  return walkForwardRanges(end, WALK_FORWARD_SPLIT.inSample, WALK_FORWARD_SPLIT.outOfSample).inSample;
}

function segmentRange(end: number, segment: Segment): TimeRange {
  return segment === IN_SAMPLE ? inSampleRange(end) : windowRange(end, segment);
}

/** Strategies named twice or unknown are a bug of the caller here: the CLI checks them first. */
export function planJobs(input: PlanInput): SimulationPlan {
  const { files, end, seed, costs } = input;
  const runId = `sim-${digest({ files: files.map((f) => [f.path, f.symbol, f.timeframe]), end, strategies: input.strategies, seed, costs })}`;
  const jobs: SimJob[] = [];
  const skipped: Skipped[] = [];
  const grids = new Map(input.strategies.map((s) => [s, paramGrid(s)]));
  let trials = 0;
  for (const grid of grids.values()) trials += grid.length;
  const bySymbol = new Map(files.map((f) => [f.symbol, f]));

  for (const file of files) {
    for (const [strategy, grid] of grids) {
      const stream = streamName(strategy, file.timeframe);
      const inputs = strategyInputs(strategy, grid[0]!.params, file, bySymbol);
      if (typeof inputs === 'string') {
        skipped.push({ stream, symbol: file.symbol, reason: inputs });
        continue;
      }
      const job = (variant: string, params: StrategyParams, segment: Segment, curve: boolean): SimJob => {
        const content = {
          runId,
          stream,
          strategy,
          variant,
          params,
          symbol: file.symbol,
          timeframe: file.timeframe,
          source: { file: file.path },
          ...(inputs === null ? {} : { inputs }),
          segment,
          range: segmentRange(end, segment),
          seed,
          costs,
          curve,
        };
        return { jobId: `${stream}:${file.symbol}:${variant}:${segment}:${digest(content)}`, ...content };
      };
      for (const segment of WINDOWS) jobs.push(job(DEFAULT_VARIANT, grid[0]!.params, segment, true));
      jobs.push(job(DEFAULT_VARIANT, grid[0]!.params, IN_SAMPLE, false));
      for (const { variant, params } of grid.slice(1))
        for (const segment of [IN_SAMPLE, OUT_OF_SAMPLE, TRIAL_WINDOW] as const)
          jobs.push(job(variant, params, segment, false));
    }
  }
  return { runId, end, jobs, trials, skipped };
}

/**
 * The files of the symbols a strategy reads besides its own (a leader), null when it reads none,
 * or why it cannot run on this symbol.
 */
function strategyInputs(
  strategy: string,
  params: StrategyParams,
  file: DataFile,
  bySymbol: ReadonlyMap<string, DataFile>,
): Record<string, CandleSource> | null | string {
  const wanted = strategySpec(strategy).create({ ...params }).inputs ?? [];
  if (wanted.length === 0) return null;
  const out: Record<string, CandleSource> = {};
  for (const symbol of wanted) {
    if (symbol === file.symbol) return `${strategy} follows ${symbol}, the symbol itself`;
    const leader = bySymbol.get(symbol);
    if (leader === undefined) return `${strategy} reads ${symbol}: give its file with --data`;
    if (leader.timeframe !== file.timeframe)
      return `${strategy} reads ${symbol} on ${file.timeframe}, its file is ${leader.timeframe}`;
    out[symbol] = { file: leader.path };
  }
  return out;
}

/** A short stable digest of JSON content: keys sorted, so property order does not matter. */
function digest(value: unknown): string {
  return createHash('sha256').update(canonical(value)).digest('hex').slice(0, 16);
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object')
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(value);
}
