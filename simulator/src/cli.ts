#!/usr/bin/env node
import { accessSync, constants, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import cliProgress from 'cli-progress';
import { z } from 'zod';
import { EXIT, exitWith, startShell } from '@appliance/runtime';
import { strategyNames } from '@appliance/trading-core';
import { renderReport, readUplotAssets } from './report-html.js';
import { resultsTable } from './results-table.js';
import { DEFAULT_SEED, SimulationError, planSimulation, type SimulationOptions } from './plan.js';
import { runSimulation } from './runner.js';

/**
 * `npm run simulate -- --data FILE... --out DIR`: backtests every strategy over 1m, 3m, 6m and
 * 1y windows of each file, prints a table, and writes DIR/results.json and DIR/report.html.
 * Every input is checked before anything runs or is written: a bad one exits 2 and leaves DIR as
 * it was. Flags and their variables are documented in simulator/README.md (## CLI).
 */

/** `2024-01-01`, or with a time: `2024-01-01T00:00:00Z`, `2024-01-01T12:30+02:00`. */
const ISO = /^(\d{4})-(\d{2})-(\d{2})(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2}))?$/;

const Config = z.object({
  data: z.array(z.string().min(1)).min(1, 'required: at least one candle CSV file'),
  symbol: z
    .string()
    .regex(/^[A-Z0-9]+\/[A-Z0-9]+$/, 'expected BASE/QUOTE, e.g. BTC/USDT')
    .optional(),
  timeframe: z
    .string()
    .regex(/^[1-9]\d*[mhd]$/, 'expected e.g. 1m, 15m, 1h, 4h or 1d')
    .optional(),
  end: z
    .string()
    .refine(isIsoDate, 'expected an ISO date such as 2024-01-01 or 2024-01-01T00:00:00Z')
    .optional(),
  strategies: z.array(z.string().min(1)).optional(),
  out: z.string().min(1, 'required: the directory results.json and report.html are written to'),
  threads: z.coerce.number().int().min(1).max(256),
  seed: z.coerce.number().positive().finite(),
});

function isIsoDate(text: string): boolean {
  const m = ISO.exec(text);
  if (m === null) return false;
  const time = Date.parse(m[4] === undefined ? `${text}T00:00:00Z` : text);
  // Date.parse rolls 2024-02-30 over into March: the day must survive the round trip.
  const day = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return (
    Number.isFinite(time) &&
    day.getUTCFullYear() === Number(m[1]) &&
    day.getUTCMonth() === Number(m[2]) - 1 &&
    day.getUTCDate() === Number(m[3])
  );
}

const { options, out } = startShell(
  {
    name: 'simulate',
    description:
      'Backtests strategies over 1m, 3m, 6m and 1y windows of candle files on worker threads, judges each stream for eligibility, and writes results.json and report.html',
    schema: Config,
    options: [
      {
        flag: '--data <file...>',
        env: 'SIMULATE_DATA',
        description:
          'candle CSV files (time,open,high,low,close,volume), one per symbol; symbol and timeframe from names like binance_BTC-USDT_1h.csv',
      },
      {
        flag: '--symbol <pair>',
        env: 'SIMULATE_SYMBOL',
        description:
          'pair of the one --data file whose name does not tell it (e.g. BTC/USDT); refused with several files',
      },
      {
        flag: '--timeframe <tf>',
        env: 'SIMULATE_TIMEFRAME',
        description: 'candle timeframe of the --data files (e.g. 1h); default: from the names',
      },
      {
        flag: '--end <iso-date>',
        env: 'SIMULATE_END',
        description:
          'where every window ends, exclusive, UTC unless an offset is given (e.g. 2024-01-01); default: just after the last candle',
      },
      {
        flag: '--strategies <name...>',
        env: 'SIMULATE_STRATEGIES',
        description: `strategies to run, comma separated; default: all (${strategyNames().join(', ')})`,
      },
      {
        flag: '--out <dir>',
        env: 'SIMULATE_OUT',
        description: 'directory for results.json and report.html (created if missing; its parent must exist)',
      },
      {
        flag: '--threads <n>',
        env: 'SIMULATE_THREADS',
        description: 'worker threads (default: one per CPU)',
        default: String(availableParallelism()),
      },
      {
        flag: '--seed <quote>',
        env: 'SIMULATE_SEED',
        description: 'starting virtual balance of every backtest, in the quote currency',
        default: String(DEFAULT_SEED),
      },
    ],
    helpAfter:
      'Prints a results table on stdout and progress on stderr; on bad input (exit 2) nothing is written.',
  },
  (shell) => {
    const c = shell.config;
    if (c.symbol !== undefined && c.data.length > 1)
      throw shell.problem(
        'symbol',
        `names the pair of one file, but ${c.data.length} files were given: name each file like binance_BTC-USDT_1h.csv`,
      );
    const known = strategyNames();
    for (const s of c.strategies ?? [])
      if (!known.includes(s))
        throw shell.problem(
          'strategies',
          `unknown strategy ${JSON.stringify(s)}; known: ${known.join(', ')}`,
        );
    const out = resolve(c.out);
    const unwritable = directoryProblem(out);
    if (unwritable !== null) throw shell.problem('out', unwritable);
    const options: SimulationOptions = {
      files: c.data,
      ...(c.symbol === undefined ? {} : { symbols: [c.symbol] }),
      ...(c.timeframe === undefined ? {} : { timeframe: c.timeframe }),
      ...(c.end === undefined
        ? {}
        : { end: Date.parse(ISO.exec(c.end)![4] === undefined ? `${c.end}T00:00:00Z` : c.end) }),
      ...(c.strategies === undefined ? {} : { strategies: c.strategies }),
      threads: c.threads,
      seed: c.seed,
    };
    try {
      // Every input checked (files, strategies, end) before anything runs or is written.
      planSimulation(options);
      return { options, out };
    } catch (err) {
      if (err instanceof SimulationError) throw shell.problem('data', err.message);
      throw err;
    }
  },
);

/** Why results cannot be written to `dir`, or null: checked before the run, so a bad one costs nothing. */
function directoryProblem(dir: string): string | null {
  const code = (err: unknown) => (err as NodeJS.ErrnoException).code ?? 'error';
  let target = dir;
  try {
    if (!statSync(dir).isDirectory()) return `${dir} is not a directory`;
  } catch (err) {
    // ENOTDIR: a part of the path is a file; the parent's check below says which.
    if (code(err) !== 'ENOENT' && code(err) !== 'ENOTDIR') return `${dir} cannot be read (${code(err)})`;
    target = dirname(dir);
    try {
      if (!statSync(target).isDirectory()) return `${target} is not a directory`;
    } catch (err2) {
      return `${dir} cannot be created: ${target} ${code(err2) === 'ENOENT' ? 'does not exist' : `cannot be read (${code(err2)})`}`;
    }
  }
  try {
    accessSync(target, constants.W_OK | constants.X_OK);
  } catch (err) {
    return `${target} is not writable (${code(err)})`;
  }
  return null;
}

/** A bar on a terminal; on a pipe or a log, a line at every tenth of the jobs. */
function progress(): (done: number, total: number) => void {
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      { stream: process.stderr, format: 'simulate [{bar}] {value}/{total} jobs, {eta_formatted} left' },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return (done, total) => {
      if (!started) {
        bar.start(total, done);
        started = true;
      } else bar.update(done);
      if (done === total) bar.stop();
    };
  }
  let shown = -1;
  return (done, total) => {
    const tenth = total === 0 ? 10 : Math.floor((done * 10) / total);
    if (tenth === shown) return;
    shown = tenth;
    process.stderr.write(`simulate: ${done}/${total} jobs\n`);
  };
}

/** JSON has no Infinity or NaN: they are written as the strings "Infinity", "-Infinity", "NaN". */
function jsonText(value: unknown): string {
  return `${JSON.stringify(value, (_key, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v), 2)}\n`;
}

try {
  const results = await runSimulation({ ...options, onProgress: progress() });
  const report = renderReport(results, readUplotAssets());
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'results.json'), jsonText(results));
  writeFileSync(join(out, 'report.html'), report);
  process.stdout.write(resultsTable(results));
  for (const s of results.skipped)
    process.stderr.write(`simulate: not run: ${s.stream} on ${s.symbol}: ${s.reason}\n`);
  process.stderr.write(`simulate: wrote ${join(out, 'results.json')} and ${join(out, 'report.html')}\n`);
} catch (err) {
  exitWith(EXIT.failure, `simulate: ${err instanceof Error ? err.message : String(err)}`);
}
