import { stat } from 'node:fs/promises';
import { threadId } from 'node:worker_threads';
import { AppError } from '@appliance/errors';
import { FeedError, readCandleCsv, timeframeMs } from '@appliance/datafeed-node';
import { backtest, createStrategy, type Candle } from '@appliance/trading-core';
import { DataError, checkCandles, usableCandles, type DataProblem, type ProblemKind } from './data-check.js';
import type { SimJob } from './jobs.js';
import { computeMetrics, type RunMetrics } from './metrics.js';
import { sliceWindow } from './windows.js';

/**
 * One job on one thread of the pool (piscina loads this file by path; its default export is the
 * task). It reads candle files itself, so a job stays a few hundred bytes of JSON whether it
 * comes from this process or a jobs topic, and keeps each file for the jobs after it: a worker
 * runs every window and variant of a symbol from one read.
 */

/** At most this many points per curve: a report with 60 charts of 8,760 points would be megabytes. */
export const CURVE_POINTS = 500;
/** Data problems a result carries per file; the count says how many there were. */
export const PROBLEMS_SHOWN = 50;

export interface Curve {
  time: number[];
  /** Equity at the close, quote; drawdown as a fraction of the running peak, in [0, 1]. */
  value: number[];
}

/** What the data check of a file found, as every job on it reports it. */
/** A data-check problem, or the reader's refusal of a row it cannot read at all. */
export interface FileProblem extends Omit<DataProblem, 'kind'> {
  kind: ProblemKind | 'unreadable';
}

export interface FileCheck {
  file: string;
  symbol: string;
  /** The first PROBLEMS_SHOWN problems. */
  problems: FileProblem[];
  problemCount: number;
  /** Why the file is not used at all, or null. */
  refused: string | null;
}

export interface JobResult {
  jobId: string;
  /** The worker thread that ran it (0 on the main thread). */
  threadId: number;
  /** Null when the job could not run: `error` says why. */
  metrics: RunMetrics | null;
  error: string | null;
  /** Candles in the job's window. */
  candles: number;
  /** Only for jobs with `curve`: at most CURVE_POINTS points each. */
  equity?: Curve;
  drawdown?: Curve;
  data: FileCheck[];
}

interface Loaded {
  candles: Candle[];
  check: FileCheck;
}

/**
 * Files read, by path, with the size and modification time they had: a file that grew since (a
 * candle store a node appends to, in a pool that outlives a run) is read again, never served stale.
 */
const cache = new Map<string, { version: string; loaded: Promise<Loaded> }>();

export default async function runJob(job: SimJob): Promise<JobResult> {
  const tfMs = timeframeMs(job.timeframe);
  const own = await load(job.source.file, job.symbol);
  const inputs: Record<string, Candle[]> = {};
  const data = [own.check];
  for (const [symbol, source] of Object.entries(job.inputs ?? {})) {
    const loaded = await load(source.file, symbol);
    inputs[symbol] = loaded.candles;
    data.push(loaded.check);
  }
  const base = { jobId: job.jobId, threadId, data };
  const refused = data.find((d) => d.refused !== null);
  if (refused !== undefined)
    return { ...base, metrics: null, error: `${refused.file}: ${refused.refused}`, candles: 0 };
  if (tfMs === undefined)
    return { ...base, metrics: null, error: `unknown timeframe ${job.timeframe}`, candles: 0 };

  const candles = sliceWindow(own.candles, job.range);
  if (candles.length === 0)
    return {
      ...base,
      metrics: null,
      error: 'no candles in the window: the data does not reach back so far',
      candles: 0,
    };
  try {
    return run(job, candles, inputs, tfMs, base);
  } catch (err) {
    // A job the backtest or the metrics refuse (a strategy's params, a candle it cannot use) is
    // this job's failure, reported in its result; the other jobs of the run go on.
    if (err instanceof RangeError || err instanceof AppError)
      return { ...base, metrics: null, error: `${err.name}: ${err.message}`, candles: candles.length };
    throw err;
  }
}

function run(
  job: SimJob,
  candles: Candle[],
  inputs: Record<string, Candle[]>,
  tfMs: number,
  base: Pick<JobResult, 'jobId' | 'threadId' | 'data'>,
): JobResult {
  const result = backtest(candles, createStrategy(job.strategy, job.params), {
    symbol: job.symbol,
    seed: job.seed,
    costs: job.costs,
    equityCurve: true,
    // The leader's candles up to the window's end: the backtest hands each over in time order.
    ...(Object.keys(inputs).length === 0
      ? {}
      : {
          inputs: Object.fromEntries(
            Object.entries(inputs).map(([s, c]) => [s, sliceWindow(c, { start: 0, end: job.range.end })]),
          ),
        }),
  });
  const metrics = computeMetrics({ candles, result, seed: job.seed, costs: job.costs, timeframeMs: tfMs });
  const out: JobResult = { ...base, metrics, error: null, candles: candles.length };
  if (job.curve) Object.assign(out, curves(candles, result.equity!, job.seed));
  return out;
}

async function load(file: string, symbol: string): Promise<Loaded> {
  const version = await stat(file).then(
    (s) => `${s.size}:${s.mtimeMs}`,
    // Not there (any more): read it anyway, so the reader's error says why.
    () => 'unreadable',
  );
  const hit = cache.get(file);
  if (hit !== undefined && hit.version === version) return hit.loaded;
  const loaded = read(file, symbol);
  cache.set(file, { version, loaded });
  return loaded;
}

async function read(file: string, symbol: string): Promise<Loaded> {
  const rows: Candle[] = [];
  try {
    for await (const c of readCandleCsv(file)) rows.push(c);
  } catch (err) {
    // The reader stops at the first bad row (unsorted, duplicate, impossible prices): a file
    // with one is not traded on at all, rather than on a part of it.
    if (!(err instanceof FeedError)) throw err;
    const line = /:(\d+):/.exec(err.message)?.[1];
    const problem: FileProblem = {
      row: line === undefined ? 0 : Number(line),
      kind: 'unreadable',
      detail: `${err.code}: ${err.message}`,
    };
    return {
      candles: [],
      check: { file, symbol, problems: [problem], problemCount: 1, refused: problem.detail },
    };
  }
  // Row 1 of the file is its header.
  const checked = checkCandles(rows, { firstRow: 2 });
  return {
    candles: checked.candles,
    check: {
      file,
      symbol,
      problems: checked.problems.slice(0, PROBLEMS_SHOWN),
      problemCount: checked.problems.length,
      refused: checked.refused ? refusal(rows) : null,
    },
  };
}

/** Why data-check refuses these rows: its error names every refusing row. */
function refusal(rows: readonly Candle[]): string {
  try {
    usableCandles(rows, { firstRow: 2 });
  } catch (err) {
    if (err instanceof DataError) return `${err.code}: ${err.message}`;
    throw err;
  }
  return 'refused';
}

/**
 * Equity and drawdown, each at most CURVE_POINTS points: the candles in equal buckets, equity at
 * each bucket's last close, drawdown at its deepest, so the chart never hides the worst fall.
 */
export function curves(
  candles: readonly Candle[],
  equity: ArrayLike<number>,
  seed: number,
): { equity: Curve; drawdown: Curve } {
  const n = candles.length;
  const step = Math.max(1, Math.ceil(n / CURVE_POINTS));
  const e: Curve = { time: [], value: [] };
  const d: Curve = { time: [], value: [] };
  let peak = seed;
  for (let from = 0; from < n; from += step) {
    const to = Math.min(n, from + step);
    let deepest = 0;
    for (let i = from; i < to; i++) {
      const v = equity[i]!;
      if (v > peak) peak = v;
      deepest = Math.max(deepest, (peak - v) / peak);
    }
    e.time.push(candles[to - 1]!.time);
    e.value.push(equity[to - 1]!);
    d.time.push(candles[to - 1]!.time);
    d.value.push(deepest);
  }
  return { equity: e, drawdown: d };
}
