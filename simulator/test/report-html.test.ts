import t from 'tap';
import { escapeHtml, renderReport, scriptJson } from '../src/report-html.js';
import type { SimulationResults } from '../src/results.js';
import { resultsTable } from '../src/results-table.js';

const EVIL = '<img src=x onerror="alert(1)">&\'</script>';
const metrics = {
  totalReturn: 0.1,
  cagr: 0.1,
  sharpe: Infinity,
  sortino: 1,
  maxDrawdown: 0.2,
  winRate: null,
  profitFactor: null,
  exposure: 0.5,
  trades: 2,
  roundTrips: 1,
  fees: 1,
  buyAndHold: { totalReturn: 0.05 },
  returns: { count: 3, periodsPerYear: 8766, mean: 0, stdev: 0, skewness: 0, kurtosis: 3 },
};
const results: SimulationResults = {
  runId: `sim-${EVIL}`,
  end: Date.UTC(2024, 0, 1),
  endIso: '2024-01-01T00:00:00.000Z',
  createdAt: EVIL,
  runs: [
    {
      jobId: 'j1',
      stream: `x.1h${EVIL}`,
      strategy: 'x',
      params: {},
      symbol: `BTC/${EVIL}`,
      timeframe: '1h',
      window: '1m',
      range: { start: 0, end: 1 },
      metrics,
      error: null,
      candles: 3,
      threadId: 1,
      equity: { time: [1, 2, 3], value: [1, 2, 3] },
      drawdown: { time: [1, 2, 3], value: [0, 0, 0.1] },
    },
  ],
  trials: [],
  eligibility: [
    {
      stream: `x.1h${EVIL}`,
      strategy: 'x',
      symbol: `BTC/${EVIL}`,
      eligible: false,
      passed: false,
      reason: `not eligible: ${EVIL}`,
      checks: [{ name: 'windows', passed: false, clear: false, text: EVIL }],
      state: { eligible: false, passes: 0, fails: 1 },
      deflatedSharpe: null,
      walkForward: null,
    },
  ],
  dataProblems: [
    {
      file: EVIL,
      symbol: 'BTC/USDT',
      problems: [{ row: 2, kind: 'gap', detail: EVIL }],
      problemCount: 1,
      refused: null,
    },
  ],
  skipped: [{ stream: EVIL, symbol: 'BTC/USDT', reason: EVIL }],
  missing: [],
  duplicates: 0,
};

t.test('every string from the results is escaped', async (t) => {
  const html = renderReport(results, { js: '/* uplot */', css: '/* css */' });
  t.notOk(html.includes('<img'), 'no markup from the data');
  t.notOk(html.includes('onerror="'), 'no attribute from the data');
  t.equal(html.split('</script>').length - 1, 3, 'only the page’s own three scripts end');
  t.ok(html.includes(escapeHtml(EVIL)), 'shown as text');
  t.ok(html.includes('/* uplot */') && html.includes('/* css */'), 'the assets inlined');
});

t.test('escapeHtml and scriptJson', async (t) => {
  t.equal(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  const json = scriptJson({ s: '</script><!--\u2028', n: Infinity });
  t.notMatch(json, /[<>\u2028]/);
  t.strictSame(JSON.parse(json), { s: '</script><!--\u2028', n: null }, 'the same data once parsed');
});

t.test('inline code cannot close its element early', async (t) => {
  const html = renderReport(results, { js: 'var s = "</script><b>";', css: 'a{}</style><b>' });
  t.notOk(html.includes('</script><b>') || html.includes('</style><b>'));
});

t.test('the table shows the figures and the verdict with the failed checks', async (t) => {
  const text = resultsTable(results);
  const [header, rule, row] = text.trimEnd().split('\n');
  t.match(header, /^stream +symbol +window +return +B&H +Sharpe +max DD +trades +eligible +reason$/);
  t.match(rule, /^-+( +-+)+$/);
  t.match(row, /^x\.1h.* +1m +\+10\.0% +\+5\.0% +Infinity +-20\.0% +2 +no +not eligible: failed windows$/);
});
