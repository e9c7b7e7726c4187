import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import {
  FeedError,
  describeCsvFile,
  readCandleCsv,
  resolveReplayFiles,
  timeframeMs,
  type CandleGap,
} from '@appliance/datafeed-node';
import { Breaker, BreakerError, type Candle } from '@appliance/trading-core';
import { BreakerCliError } from './admin.js';
import type { ReplaySeries } from './replay-run.js';

/**
 * `breaker replay`'s inputs, every one checked before anything runs or is written: the files
 * read whole with the datafeed's CSV reader (a bad row stops it, naming file and line), the
 * config parsed by the breaker itself, the output directory writable. Any problem is a
 * BreakerCliError E_USAGE (exit 2) in one line.
 */

export interface ReplayFlags {
  data: string[];
  symbol?: string;
  timeframe?: string;
  out: string;
  config?: string;
  peg?: string;
}

/** A file as levels.json lists it. */
export interface FileInfo {
  path: string;
  symbol: string;
  timeframe: string;
  candles: number;
  /** Open times of its first and last candle (ms), null when it has none. */
  first: number | null;
  last: number | null;
  /** Runs of missing candles, and how many candles they miss in all. */
  gaps: number;
  missing: number;
}

export interface ReplayInputs {
  breaker: Breaker;
  series: ReplaySeries[];
  peg: Candle[] | null;
  files: FileInfo[];
  pegFile: FileInfo | null;
  out: string;
}

const usage = (message: string, cause?: unknown) =>
  new BreakerCliError('E_USAGE', message, cause === undefined ? undefined : { cause });

export async function readReplayInputs(f: ReplayFlags): Promise<ReplayInputs> {
  const out = resolve(f.out);
  const problem = directoryProblem(out);
  if (problem !== null) throw usage(`--out ${f.out}: ${problem}`);
  const breaker = breakerFrom(f.config);
  let resolved;
  try {
    resolved = resolveReplayFiles(f.data, { symbol: f.symbol, timeframe: f.timeframe });
  } catch (err) {
    if (err instanceof FeedError) throw usage(err.message, err);
    throw err;
  }
  const series: ReplaySeries[] = [];
  const files: FileInfo[] = [];
  for (const r of resolved) {
    const { candles, info } = await readFile(r.path, r.symbol, r.timeframe);
    if (candles.length === 0) throw usage(`${r.path}: no candles`);
    series.push({ symbol: r.symbol, timeframeMs: timeframeMs(r.timeframe)!, candles });
    files.push(info);
  }
  let peg: Candle[] | null = null;
  let pegFile: FileInfo | null = null;
  if (f.peg !== undefined) {
    const timeframe = resolved[0]!.timeframe;
    const named = describeCsvFile(f.peg);
    if (named !== undefined && named.timeframe !== timeframe)
      throw usage(`--peg ${f.peg}: its name says ${named.timeframe}, the --data files are ${timeframe}`);
    const read = await readFile(f.peg, named?.symbol ?? 'peg', timeframe);
    peg = read.candles;
    pegFile = read.info;
  }
  return { breaker, series, peg, files, pegFile, out };
}

/** A breaker on `--config FILE` (JSON, any part of BreakerConfig), or on the defaults. */
function breakerFrom(file: string | undefined): Breaker {
  if (file === undefined) return new Breaker();
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    const why = err instanceof SyntaxError ? `not JSON (${err.message})` : `cannot be read (${code(err)})`;
    throw usage(`--config ${file}: ${why}`, err);
  }
  try {
    return new Breaker(json as never);
  } catch (err) {
    // The breaker names every bad field: "breaker config: returnZ.halt: must be at least ...".
    if (err instanceof BreakerError) throw usage(`--config ${file}: ${err.message}`, err);
    throw err;
  }
}

async function readFile(path: string, symbol: string, timeframe: string) {
  try {
    accessSync(path, constants.R_OK);
    if (!statSync(path).isFile()) throw usage(`${path}: not a file`);
  } catch (err) {
    if (err instanceof BreakerCliError) throw err;
    throw usage(`${path}: ${code(err) === 'ENOENT' ? 'no such file' : `cannot be read (${code(err)})`}`, err);
  }
  const gaps: CandleGap[] = [];
  const candles: Candle[] = [];
  try {
    for await (const c of readCandleCsv(path, { timeframe, onGap: (g) => gaps.push(g) })) candles.push(c);
  } catch (err) {
    if (err instanceof FeedError) throw usage(err.message, err);
    throw err;
  }
  const info: FileInfo = {
    path,
    symbol,
    timeframe,
    candles: candles.length,
    first: candles[0]?.time ?? null,
    last: candles.at(-1)?.time ?? null,
    gaps: gaps.length,
    missing: gaps.reduce((n, g) => n + g.missing, 0),
  };
  return { candles, info };
}

/**
 * Why `dir` cannot be written, or null. It may be missing (it is created, with its parents):
 * then the nearest folder that exists must be a writable directory.
 */
function directoryProblem(dir: string): string | null {
  let target = dir;
  for (;;) {
    try {
      if (!statSync(target).isDirectory())
        return target === dir ? 'not a directory' : `${target} is not a directory`;
      break;
    } catch (err) {
      if (code(err) !== 'ENOENT') return `${target} cannot be read (${code(err)})`;
      if (dirname(target) === target) return `${target} does not exist`;
      target = dirname(target);
    }
  }
  try {
    accessSync(target, constants.W_OK | constants.X_OK);
  } catch (err) {
    return `${target} is not writable (${code(err)})`;
  }
  return null;
}

function code(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? String(err);
}
