import { accessSync, closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { errorClass } from '@appliance/errors';
import { FeedError, resolveReplayFiles, timeframeMs } from '@appliance/datafeed-node';
import {
  DEFAULT_FILL_COSTS,
  StrategyError,
  fillCostsProblem,
  strategyNames,
  strategySpec,
  type FillCosts,
} from '@appliance/trading-core';
import type { PreviousDecision } from './aggregate.js';
import { planJobs, type DataFile, type SimulationPlan } from './jobs.js';

/**
 * A simulation's options, every input checked (`planSimulation`), and the plan of its jobs
 * (jobs.ts). An unusable input is a SimulationError E_INPUT, before anything runs.
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
