import type { EligibilityRecord, RunRecord, SimulationResults } from './results.js';

/**
 * The results as a plain-text table for a terminal: one row per run of a stream at its own
 * parameters (stream, symbol, window), and the eligibility of its (stream, symbol) with the
 * deciding reason on the group's first row. Pure: the CLI prints it.
 */

const HEADER = [
  'stream',
  'symbol',
  'window',
  'return',
  'B&H',
  'Sharpe',
  'max DD',
  'trades',
  'eligible',
  'reason',
];
/** Numbers are right-aligned; text left. */
const RIGHT = new Set(['return', 'B&H', 'Sharpe', 'max DD', 'trades']);

export function resultsTable(results: Pick<SimulationResults, 'runs' | 'eligibility'>): string {
  const verdicts = new Map(results.eligibility.map((e) => [key(e), e]));
  const rows: string[][] = [];
  let previous = '';
  for (const run of results.runs) {
    const group = key(run);
    const judged = verdicts.get(group);
    const first = group !== previous;
    previous = group;
    rows.push([
      run.stream,
      run.symbol,
      run.window,
      ...figures(run),
      judged === undefined ? '-' : judged.eligible ? 'yes' : 'no',
      first && judged !== undefined ? shortReason(judged) : '',
    ]);
  }
  const widths = HEADER.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (RIGHT.has(HEADER[i]!) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(HEADER), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n') + '\n';
}

/** The hysteresis verdict alone: the part of the reason before the checks. */
export function verdict(e: Pick<EligibilityRecord, 'reason'>): string {
  const colon = e.reason.indexOf(': ');
  return colon < 0 ? e.reason : e.reason.slice(0, colon);
}

/** The verdict and the checks that failed, short enough for a terminal; results.json has the figures. */
function shortReason(e: Pick<EligibilityRecord, 'reason' | 'checks'>): string {
  const failed = e.checks.filter((c) => !c.passed).map((c) => c.name);
  return failed.length === 0
    ? `${verdict(e)}: every check passed`
    : `${verdict(e)}: failed ${failed.join(', ')}`;
}

function key(r: Pick<RunRecord | EligibilityRecord, 'stream' | 'symbol'>): string {
  return `${r.stream}\u0000${r.symbol}`;
}

function figures(run: RunRecord): string[] {
  const m = run.metrics;
  if (m === null) return ['-', '-', '-', '-', '-'];
  return [
    percent(m.totalReturn),
    percent(m.buyAndHold.totalReturn),
    number(m.sharpe),
    percent(-m.maxDrawdown),
    String(m.trades),
  ];
}

/** A fraction as a signed percentage, one decimal: +2.1%, -0.4%. */
export function percent(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const text = `${(x * 100).toFixed(1)}%`;
  return x >= 0 && !text.startsWith('-') ? `+${text}` : text;
}

export function number(x: number): string {
  return Number.isFinite(x) ? x.toFixed(2) : String(x);
}
