import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { FileInfo } from './replay-input.js';
import type { Comparison, VariantFigures } from './replay-compare.js';
import type { LevelChange, ReplaySeries, SymbolTrack } from './replay-run.js';

/**
 * The replay as one self-contained HTML page, as the simulator's report is made: uPlot's code and
 * CSS inlined, nothing fetched from anywhere. Every string goes through `escapeHtml`, or into the
 * page's data block as JSON with `<`, `>` and `&` escaped; the page's script never writes markup.
 */

interface UplotAssets {
  js: string;
  css: string;
}

/** uPlot's browser build and stylesheet from node_modules (the package has no `exports`). */
export function readUplotAssets(): UplotAssets {
  const require = createRequire(import.meta.url);
  const js = readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8');
  const css = readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8');
  return { js, css };
}

export interface ReplayReport {
  files: FileInfo[];
  pegFile: FileInfo | null;
  series: readonly ReplaySeries[];
  tracks: readonly SymbolTrack[];
  changes: readonly LevelChange[];
  comparison: Comparison;
}

/** At most this many points per chart: each bucket keeps its last close, its highest heat and level. */
const MAX_POINTS = 3000;
/** Heat is drawn up to this (a return of 30 σ would flatten everything else). */
const HEAT_CAP = 5;
const LEVELS = ['normal', 'caution', 'halt'] as const;

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** JSON safe inside a <script> element: no `</script>`, no `<!--`, no line separators. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

function inline(code: string, element: 'script' | 'style'): string {
  return code.replace(new RegExp(`</(${element})`, 'gi'), '<\\/$1');
}

export function renderReplayReport(r: ReplayReport, assets: UplotAssets): string {
  const charts = r.series.map((s, i) => ({
    id: `sym-${i}`,
    symbol: s.symbol,
    ...chartData(s, r.tracks[i]!),
  }));
  const c = r.comparison;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Circuit breaker replay</title>
<style>${inline(assets.css, 'style')}</style>
<style>${inline(PAGE_CSS, 'style')}</style>
</head>
<body>
<h1>Circuit breaker replay</h1>
${table(
  ['file', 'symbol', 'timeframe', 'candles', 'from', 'to', 'gaps (missing candles)'],
  [...r.files, ...(r.pegFile ? [{ ...r.pegFile, symbol: `${r.pegFile.symbol} (peg)` }] : [])].map((f) => [
    f.path,
    f.symbol,
    f.timeframe,
    String(f.candles),
    iso(f.first),
    iso(f.last),
    `${f.gaps} (${f.missing})`,
  ]),
)}
<h2>How to read it</h2>
<p>Per symbol, the close with the level a device would have applied to its buys shaded behind it
(the stricter of the market's and the asset's: <span class="caution">amber caution</span>,
<span class="halt">red halt</span>), and below it the <strong>heat</strong>: the strongest of the
asset's and the market's input readings divided by that input's caution threshold (1, the dashed
line, is the caution threshold; a return reading is |z| &divide; returnZ.caution), drawn up to
${HEAT_CAP}, with the level as a step line (0 normal, 1 caution, 2 halt). Long runs are thinned
to ${MAX_POINTS} points: each point keeps its stretch's last close and its highest heat and level.</p>
<h2>House strategy with and without the breaker</h2>
<p>${escapeHtml(`${c.strategy.name} (stream ${c.strategy.stream}, params ${JSON.stringify(c.strategy.params)}), ${c.seed} quote per symbol, slippage ${c.costs.slippageBps} bps, fee ${c.costs.feeBps} bps. With the breaker a buy is skipped at halt and sized at the multiplier at caution; sells always pass.`)}</p>
${comparisonTable(c)}
<h2>Changes by scope</h2>
${countsTable(r.changes)}
${charts.map((ch) => `<section><h2>${escapeHtml(ch.symbol)}</h2><div id="${ch.id}-price"></div><div id="${ch.id}-heat"></div></section>`).join('\n')}
<h2>Every change</h2>
${table(
  ['time (UTC)', 'scope', 'from', 'to', 'multiplier', 'reason'],
  r.changes.map((ch) => [ch.iso, ch.scope, ch.from, ch.level, String(ch.multiplier), ch.reason]),
  (row) => row[3] ?? '',
)}
<script type="application/json" id="chart-data">${scriptJson(charts)}</script>
<script>${inline(assets.js, 'script')}</script>
<script>${inline(PAGE_JS, 'script')}</script>
</body>
</html>
`;
}

function iso(t: number | null): string {
  return t === null ? '-' : new Date(t).toISOString();
}

/** Every cell is text, escaped here; `rowClass` picks a row's class (a level name). */
function table(header: string[], rows: string[][], rowClass?: (row: string[]) => string): string {
  const th = header.map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  const body = rows
    .map((row) => {
      const cls = rowClass ? ` class="${escapeHtml(rowClass(row))}"` : '';
      return `<tr${cls}>${row.map((cell) => `<td>${escapeHtml(cell)}</td>`).join('')}</tr>`;
    })
    .join('\n');
  return `<table><thead><tr>${th}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

function comparisonTable(c: Comparison): string {
  const pct = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(2)} %`;
  const row = (name: string, w: VariantFigures, b: VariantFigures) => [
    name,
    pct(w.returnPct),
    pct(b.returnPct),
    `${w.maxDrawdownPct.toFixed(2)} %`,
    `${b.maxDrawdownPct.toFixed(2)} %`,
    String(w.trades),
    String(b.trades),
    String(b.buysSkipped),
    String(b.buysScaled),
  ];
  return table(
    [
      'symbol',
      'return without',
      'return with',
      'max DD without',
      'max DD with',
      'trades without',
      'trades with',
      'buys skipped (halt)',
      'buys scaled (caution)',
    ],
    [...c.symbols.map((s) => row(s.symbol, s.without, s.with)), row('total', c.total.without, c.total.with)],
  );
}

/** How many times each scope entered each level, the market first. */
export function changeCounts(changes: readonly LevelChange[]): Map<string, Record<string, number>> {
  const counts = new Map<string, Record<string, number>>();
  for (const ch of changes) {
    const row = counts.get(ch.scope) ?? { normal: 0, caution: 0, halt: 0 };
    row[ch.level] = (row[ch.level] ?? 0) + 1;
    counts.set(ch.scope, row);
  }
  // The market first, then the symbols in order.
  const order = (s: string) => (s === 'market' ? '' : s);
  return new Map([...counts].sort(([a], [b]) => order(a).localeCompare(order(b))));
}

function countsTable(changes: readonly LevelChange[]): string {
  const counts = changeCounts(changes);
  if (counts.size === 0) return '<p>No scope changed level.</p>';
  return table(
    ['scope', ...LEVELS.map((l) => `to ${l}`)],
    [...counts].map(([scope, row]) => [scope, ...LEVELS.map((l) => String(row[l] ?? 0))]),
  );
}

/** The chart's points: time in seconds, close, heat (capped) and level, thinned to MAX_POINTS. */
function chartData(s: ReplaySeries, track: SymbolTrack) {
  const n = s.candles.length;
  const step = Math.max(1, Math.ceil(n / MAX_POINTS));
  const out = { time: [] as number[], close: [] as number[], heat: [] as number[], level: [] as number[] };
  for (let start = 0; start < n; start += step) {
    const end = Math.min(n, start + step);
    let heat = 0;
    let level = 0;
    for (let i = start; i < end; i++) {
      heat = Math.max(heat, track.heat[i]!);
      level = Math.max(level, track.level[i]!);
    }
    const last = s.candles[end - 1]!;
    out.time.push((last.time + s.timeframeMs) / 1000);
    out.close.push(last.close);
    out.heat.push(Math.round(Math.min(heat, HEAT_CAP) * 1000) / 1000);
    out.level.push(level);
  }
  return out;
}

const PAGE_CSS = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: left; vertical-align: top; }
tr.caution td, .caution { background: rgba(230, 160, 0, 0.18); }
tr.halt td, .halt { background: rgba(200, 30, 30, 0.18); }
section { margin: 0 0 1.5em; }
`;

// The page's only script besides uPlot: reads the data block and draws two charts per symbol.
const PAGE_JS = `
(function () {
  var data = JSON.parse(document.getElementById('chart-data').textContent);
  var SHADE = [null, 'rgba(230,160,0,0.25)', 'rgba(200,30,30,0.28)'];
  function bands(level) {
    return function (u) {
      var xs = u.data[0], ctx = u.ctx;
      for (var i = 0; i < xs.length; i++) {
        if (!SHADE[level[i]]) continue;
        var x0 = u.valToPos(i === 0 ? xs[i] : xs[i - 1], 'x', true);
        var x1 = u.valToPos(xs[i], 'x', true);
        ctx.fillStyle = SHADE[level[i]];
        ctx.fillRect(x0, u.bbox.top, Math.max(1, x1 - x0), u.bbox.height);
      }
    };
  }
  var width = Math.min(1100, document.body.clientWidth - 20);
  data.forEach(function (d) {
    new uPlot({
      title: d.symbol + ': close, shaded by level', width: width, height: 260,
      series: [{}, { label: 'close', stroke: '#1f5fa8' }],
      axes: [{}, { size: 70 }],
      hooks: { drawClear: [bands(d.level)] }
    }, [d.time, d.close], document.getElementById(d.id + '-price'));
    var one = d.time.map(function () { return 1; });
    new uPlot({
      title: d.symbol + ': heat and level', width: width, height: 200,
      scales: { level: { range: [0, 2.2] } },
      series: [{},
        { label: 'heat', stroke: '#a11', width: 1 },
        { label: 'caution threshold', stroke: '#888', dash: [4, 4] },
        { label: 'level', stroke: '#777', width: 1, fill: 'rgba(0,0,0,0.05)', scale: 'level', paths: uPlot.paths.stepped({ align: 1 }) }],
      axes: [{}, { size: 50 }, { scale: 'level', side: 1, size: 64, values: function (u, v) {
        return v.map(function (x) { return ['normal', 'caution', 'halt'][x] || ''; });
      } }]
    }, [d.time, d.heat, one, d.level], document.getElementById(d.id + '-heat'));
  });
})();
`;
