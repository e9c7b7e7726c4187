import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { DEFAULT_STRATEGY, DEFAULT_STREAM } from '@appliance/datafeed-node';
import { DEFAULT_FILL_COSTS } from '@appliance/trading-core';
import { compareWithBreaker, type Comparison, type VariantFigures } from './replay-compare.js';
import { readReplayInputs, type ReplayFlags } from './replay-input.js';
import { changeCounts, readUplotAssets, renderReplayReport } from './replay-report.js';
import { replayBreaker, type LevelChange, type ReplayRun } from './replay-run.js';

/**
 * `breaker replay --data FILE... [--symbol S --timeframe T] [--config FILE] [--peg FILE] --out DIR`:
 * the breaker over candle files, offline. Writes DIR/levels.json (every change of a scope's
 * level), DIR/comparison.json (the house strategy with and without the breaker) and
 * DIR/report.html; prints a summary on stdout and progress on stderr. Every input is checked
 * first: a bad one exits 2 in one line and DIR is left as it was. control-server/README.md,
 * "### replay".
 */

/** Starting cash of each symbol's portfolio in the comparison (the simulator's default seed). */
const SEED = 10_000;

export function registerReplay(program: Command): void {
  program
    .command('replay')
    .description('runs the breaker over candle files and compares the house strategy with and without it')
    .requiredOption(
      '--data <file...>',
      'candle CSV files (time,open,high,low,close,volume), one per symbol, named like binance_BTC-USDT_1h.csv',
    )
    .option('--symbol <pair>', 'the pair of a single --data file whose name does not tell it (e.g. BTC/USDT)')
    .option('--timeframe <tf>', 'the timeframe of the --data files (e.g. 1h); default: from the names')
    .option('--config <file>', 'a JSON breaker config (any part of it; the rest are the defaults)')
    .option('--peg <file>', 'a candle CSV of a second stablecoin against the quote (fed as 1 / close)')
    .requiredOption(
      '--out <dir>',
      'directory for levels.json, comparison.json and report.html (created if missing)',
    )
    .action(async (flags: ReplayFlags) => {
      await runReplay(flags);
    });
}

async function runReplay(flags: ReplayFlags): Promise<void> {
  const started = performance.now();
  const inputs = await readReplayInputs(flags);
  for (const f of [...inputs.files, ...(inputs.pegFile ? [inputs.pegFile] : [])])
    if (f.gaps > 0) log(`${f.path}: ${f.gaps} gap(s), ${f.missing} candle(s) missing; replay goes on`);
  const run = replayBreaker(inputs.breaker, inputs.series, inputs.peg, progress());
  const comparison = compareWithBreaker(inputs.series, run.tracks, {
    strategy: DEFAULT_STRATEGY,
    stream: DEFAULT_STREAM,
    seed: SEED,
    costs: DEFAULT_FILL_COSTS,
  });
  const levels = {
    config: inputs.breaker.config,
    files: inputs.files,
    peg: inputs.pegFile,
    bars: run.bars,
    changes: run.changes,
  };
  const html = renderReplayReport(
    { ...inputs, tracks: run.tracks, changes: run.changes, comparison },
    readUplotAssets(),
  );
  mkdirSync(inputs.out, { recursive: true });
  writeFileSync(join(inputs.out, 'levels.json'), `${JSON.stringify(levels, null, 2)}\n`);
  writeFileSync(join(inputs.out, 'comparison.json'), `${JSON.stringify(comparison, null, 2)}\n`);
  writeFileSync(join(inputs.out, 'report.html'), html);
  process.stdout.write(summary(run, inputs.files.length, comparison));
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  log(`wrote levels.json, comparison.json and report.html to ${inputs.out} in ${seconds} s`);
}

function log(line: string): void {
  process.stderr.write(`breaker replay: ${line}\n`);
}

/** A line at every tenth of the bars. */
function progress(): (done: number, total: number) => void {
  let shown = 0;
  return (done, total) => {
    const tenth = Math.floor((done * 10) / total);
    if (tenth === shown) return;
    shown = tenth;
    log(`${tenth * 10} % (${done} of ${total} bars)`);
  };
}

function summary(run: ReplayRun, files: number, c: Comparison): string {
  const iso = (t: number | null) => (t === null ? '-' : new Date(t).toISOString());
  const lines = [
    `${files} file(s), ${run.bars} bars from ${iso(run.first)} to ${iso(run.last)}: ${run.changes.length} level change(s)`,
    '',
    'times each scope entered each level:',
    columns(countRows(run.changes)),
    '',
    `${c.strategy.name} (${c.strategy.stream}), ${c.seed} quote per symbol, with the breaker: buys skipped at halt, sized at the multiplier at caution:`,
    columns(comparisonRows(c)),
  ];
  return `${lines.join('\n')}\n`;
}

function countRows(changes: readonly LevelChange[]): string[][] {
  const rows = [['scope', 'caution', 'halt', 'normal']];
  for (const [scope, n] of changeCounts(changes))
    rows.push([scope, String(n.caution ?? 0), String(n.halt ?? 0), String(n.normal ?? 0)]);
  return rows;
}

function comparisonRows(c: Comparison): string[][] {
  const pct = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(2)}%`;
  const row = (name: string, w: VariantFigures, b: VariantFigures) => [
    name,
    pct(w.returnPct),
    pct(b.returnPct),
    `${w.maxDrawdownPct.toFixed(2)}%`,
    `${b.maxDrawdownPct.toFixed(2)}%`,
    String(w.trades),
    String(b.trades),
    String(b.buysSkipped),
    String(b.buysScaled),
  ];
  return [
    [
      'symbol',
      'return without',
      'with',
      'max DD without',
      'with',
      'trades without',
      'with',
      'buys skipped',
      'buys scaled',
    ],
    ...c.symbols.map((s) => row(s.symbol, s.without, s.with)),
    row('total', c.total.without, c.total.with),
  ];
}

/** Left-aligned first column, the rest right-aligned, two spaces apart. */
function columns(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) =>
      r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  '),
    )
    .join('\n');
}
