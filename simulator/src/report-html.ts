import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { number, percent, verdict } from './results-table.js';
import type { EligibilityRecord, RunRecord, SimulationResults } from './results.js';

/**
 * The results as one self-contained HTML file: uPlot's code and CSS inlined, so it opens from a
 * USB stick on a machine with no network, and nothing in it is fetched from anywhere.
 *
 * Every string from the results goes through `escapeHtml`, or into the page's data block as JSON
 * with `<`, `>` and `&` escaped, and the page's script only ever sets `textContent`: a symbol or a
 * reason is rendered as text, never as markup.
 */

export interface UplotAssets {
  js: string;
  css: string;
}

/** uPlot's browser build and stylesheet from node_modules. */
export function readUplotAssets(): UplotAssets {
  const require = createRequire(import.meta.url);
  // The package has no `exports`, so its dist files resolve as plain paths.
  const js = readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8');
  const css = readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8');
  return { js, css };
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/**
 * JSON that is safe inside a <script> element: no `</script>`, no `<!--`, and no line
 * separators JavaScript would choke on. Infinity (a Sharpe with no downside) becomes null.
 */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** Inline code must not end its own element early. */
function inline(code: string, element: 'script' | 'style'): string {
  return code.replace(new RegExp(`</(${element})`, 'gi'), '<\\/$1');
}

export function renderReport(results: SimulationResults, assets: UplotAssets): string {
  const charts = results.runs
    .filter((r) => r.equity !== null && r.drawdown !== null)
    .map((r, i) => ({ id: `run-${i}`, run: r }));
  const data = charts.map(({ id, run }) => ({
    id,
    equity: run.equity,
    drawdown: run.drawdown,
  }));
  const title = `Simulation ${results.runId}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${inline(assets.css, 'style')}</style>
<style>${inline(PAGE_CSS, 'style')}</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
<p>Windows end ${escapeHtml(results.endIso)} (exclusive). Made ${escapeHtml(results.createdAt)}.
${results.missing.length > 0 ? `<strong>${results.missing.length} job(s) gave no result.</strong>` : ''}</p>
<h2>Eligibility</h2>
${eligibilityTable(results.eligibility)}
${skippedList(results)}
<h2>Data problems</h2>
${dataProblems(results)}
<h2>Runs</h2>
${runsTable(results.runs)}
<h2>Equity and drawdown</h2>
${charts.map(({ id, run }) => chartSection(id, run)).join('\n')}
<script type="application/json" id="chart-data">${scriptJson(data)}</script>
<script>${inline(assets.js, 'script')}</script>
<script>${inline(PAGE_JS, 'script')}</script>
</body>
</html>
`;
}

function table(header: string[], rows: string[][]): string {
  const th = header.map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  const body = rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('\n');
  return `<table><thead><tr>${th}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

function eligibilityTable(records: readonly EligibilityRecord[]): string {
  if (records.length === 0) return '<p>No stream was judged.</p>';
  return table(
    ['stream', 'symbol', 'eligible', 'deflated Sharpe', 'walk-forward', 'why'],
    records.map((e) => [
      escapeHtml(e.stream),
      escapeHtml(e.symbol),
      `<span class="${e.eligible ? 'yes' : 'no'}">${e.eligible ? 'yes' : 'no'}</span>`,
      e.deflatedSharpe === null
        ? '-'
        : escapeHtml(`${number(e.deflatedSharpe.probability)} (of ${e.deflatedSharpe.trials} trials)`),
      e.walkForward === null ? '-' : escapeHtml(e.walkForward.reason),
      `${escapeHtml(verdict(e))}<ul>${e.checks
        .map(
          (c) =>
            `<li class="${c.passed ? 'yes' : 'no'}">${c.passed ? 'pass' : 'fail'}: ${escapeHtml(c.text)}</li>`,
        )
        .join('')}</ul>`,
    ]),
  );
}

function skippedList(results: SimulationResults): string {
  if (results.skipped.length === 0) return '';
  return `<h3>Not run</h3><ul>${results.skipped
    .map((s) => `<li>${escapeHtml(`${s.stream} on ${s.symbol}: ${s.reason}`)}</li>`)
    .join('')}</ul>`;
}

function dataProblems(results: SimulationResults): string {
  const files = results.dataProblems.filter((d) => d.problemCount > 0 || d.refused !== null);
  if (files.length === 0) return '<p>None found.</p>';
  return files
    .map(
      (d) =>
        `<h3>${escapeHtml(`${d.symbol}: ${d.file}`)}</h3>${d.refused === null ? '' : `<p class="no">${escapeHtml(`Refused: ${d.refused}`)}</p>`}
<p>${d.problemCount} problem(s)${d.problemCount > d.problems.length ? `, the first ${d.problems.length} shown` : ''}.</p>
${table(
  ['row', 'kind', 'detail'],
  d.problems.map((p) => [escapeHtml(String(p.row)), escapeHtml(p.kind), escapeHtml(p.detail)]),
)}`,
    )
    .join('\n');
}

function runsTable(runs: readonly RunRecord[]): string {
  return table(
    [
      'stream',
      'symbol',
      'window',
      'return',
      'B&H',
      'Sharpe',
      'Sortino',
      'max DD',
      'trades',
      'exposure',
      'note',
    ],
    runs.map((r) => {
      const m = r.metrics;
      const cells = [escapeHtml(r.stream), escapeHtml(r.symbol), escapeHtml(r.window)];
      if (m === null) return [...cells, '-', '-', '-', '-', '-', '-', '-', escapeHtml(r.error ?? '')];
      return [
        ...cells,
        escapeHtml(percent(m.totalReturn)),
        escapeHtml(percent(m.buyAndHold.totalReturn)),
        escapeHtml(number(m.sharpe)),
        escapeHtml(number(m.sortino)),
        escapeHtml(percent(-m.maxDrawdown)),
        escapeHtml(String(m.trades)),
        escapeHtml(`${(m.exposure * 100).toFixed(1)}%`),
        '',
      ];
    }),
  );
}

function chartSection(id: string, run: RunRecord): string {
  const heading = `${run.stream} · ${run.symbol} · ${run.window}`;
  return `<section class="run"><h3>${escapeHtml(heading)}</h3>
<div class="chart" id="${escapeHtml(id)}-equity"></div>
<div class="chart" id="${escapeHtml(id)}-drawdown"></div></section>`;
}

const PAGE_CSS = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: left; vertical-align: top; }
td ul { margin: 0; padding-left: 1.2em; }
.yes { color: #176b2c; font-weight: bold; }
.no { color: #a11; font-weight: bold; }
section.run { display: inline-block; margin: 0 1em 1.5em 0; vertical-align: top; }
`;

// The page's only script besides uPlot: reads the data block and draws two charts per run.
const PAGE_JS = `
(function () {
  var data = JSON.parse(document.getElementById('chart-data').textContent);
  function chart(el, title, label, series, color, fill) {
    if (!el || series.time.length === 0) return;
    var xs = series.time.map(function (t) { return t / 1000; });
    new uPlot({
      title: title, width: 440, height: 200,
      series: [{}, { label: label, stroke: color, fill: fill }],
      axes: [{}, { size: 70 }]
    }, [xs, series.value], el);
  }
  data.forEach(function (d) {
    chart(document.getElementById(d.id + '-equity'), 'Equity', 'equity', d.equity, '#1f5fa8', null);
    var dd = { time: d.drawdown.time, value: d.drawdown.value.map(function (v) { return -v * 100; }) };
    chart(document.getElementById(d.id + '-drawdown'), 'Drawdown, %', 'drawdown %', dd, '#a11', 'rgba(170,17,17,0.15)');
  });
})();
`;
