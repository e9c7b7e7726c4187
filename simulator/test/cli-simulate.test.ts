import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { SimulationResults } from '../src/results.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const DATA = '/work/shared/data/ohlcv';
const BTC = `${DATA}/binance_BTC-USDT_1h.csv`;
const ETH = `${DATA}/binance_ETH-USDT_1h.csv`;
const dir = mkdtempSync(join(tmpdir(), 'simulate-cli-'));

/** The CLI as `npm run simulate` runs it, with a clean environment of SIMULATE_* variables. */
async function simulate(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SIMULATE_')));
  const child = spawn(process.execPath, ['--import', 'tsx', 'simulator/src/cli.ts', ...args], {
    cwd: ROOT,
    env,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { status, stdout, stderr };
}

t.test(
  'two real files: every window of every stream and symbol, a decision each, an offline report',
  async (t) => {
    const out = join(dir, 'out');
    const r = await simulate([
      '--data',
      BTC,
      ETH,
      '--strategies',
      'ema-cross-volume,buy-and-hold',
      '--out',
      out,
      '--threads',
      '2',
    ]);
    t.equal(r.status, 0, r.stderr);
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as SimulationResults;

    const streams = ['ema-cross.1h', 'buy-and-hold.1h'];
    const symbols = ['BTC/USDT', 'ETH/USDT'];
    const expected = symbols.flatMap((symbol) =>
      streams.flatMap((stream) => ['1m', '3m', '6m', '1y'].map((w) => `${stream} ${symbol} ${w}`)),
    );
    t.strictSame(
      results.runs.map((x) => `${x.stream} ${x.symbol} ${x.window}`),
      expected,
      '4 windows × 2 streams × 2 symbols',
    );
    t.ok(
      results.runs.every(
        (x) => x.metrics !== null && x.equity!.time.length <= 500 && x.equity!.time.length > 0,
      ),
      'each with metrics and a curve of at most 500 points',
    );
    t.strictSame(
      results.eligibility.map((e) => `${e.stream} ${e.symbol}`).sort(),
      symbols.flatMap((s) => streams.map((st) => `${st} ${s}`)).sort(),
      'one decision per (stream, symbol)',
    );
    for (const e of results.eligibility) {
      t.equal(typeof e.eligible, 'boolean');
      t.match(
        e.reason,
        /^(not eligible|not yet eligible|eligible|became eligible).*: .*walk-forward/,
        `${e.stream} ${e.symbol} says why`,
      );
    }
    t.strictSame(
      results.dataProblems.map((d) => d.file),
      [BTC, ETH],
      'the data check of each file',
    );
    t.ok(results.dataProblems.every((d) => d.refused === null && d.problems.every((p) => p.kind === 'gap')));
    t.strictSame(results.missing, []);

    // The table: a header, a rule and a row per run.
    const lines = r.stdout.trimEnd().split('\n');
    t.match(lines[0], /^stream +symbol +window +return +B&H +Sharpe +max DD +trades +eligible +reason$/);
    t.equal(lines.length, 2 + expected.length);
    t.match(r.stderr, /simulate: 0\/\d+ jobs\n/, 'line progress on a pipe');

    const html = readFileSync(join(out, 'report.html'), 'utf8');
    const uplot = readFileSync(join(ROOT, 'node_modules/uplot/dist/uPlot.iife.min.js'), 'utf8');
    const css = readFileSync(join(ROOT, 'node_modules/uplot/dist/uPlot.min.css'), 'utf8');
    t.ok(html.includes(uplot), 'uPlot inlined');
    t.ok(html.includes(css), "uPlot's CSS inlined");
    t.notMatch(html, /\b(src|href)\s*=/i, 'nothing loaded by src or href');
    t.notMatch(html, /url\(|@import|<link\b/i, 'nor by CSS');
    t.notMatch(html.replace(uplot, ''), /https?:\/\//, 'no URL at all outside uPlot’s licence banner');
    for (const s of symbols) t.ok(html.includes(s), `${s} reported`);
  },
);

t.test('bad input exits 2 with one line naming the problem, and writes nothing', async (t) => {
  const file = join(dir, 'a-file');
  writeFileSync(file, 'not a directory');
  const existing = join(dir, 'existing');
  mkdirSync(existing);
  const cases: [string, string[], RegExp][] = [
    [
      'unknown strategy',
      ['--data', BTC, '--strategies', 'ema-cross-volume,moon', '--out', existing],
      /strategies \(--strategies, SIMULATE_STRATEGIES\): unknown strategy "moon"; known: ema-cross-volume, /,
    ],
    [
      'missing file',
      ['--data', `${DATA}/binance_NOPE-USDT_1h.csv`, '--out', existing],
      /data \(--data, SIMULATE_DATA\): .*binance_NOPE-USDT_1h\.csv: no such file/,
    ],
    [
      'a date that is not one',
      ['--data', BTC, '--end', 'yesterday', '--out', existing],
      /end \(--end, SIMULATE_END\): expected an ISO date such as 2024-01-01/,
    ],
    [
      'a day February lacks',
      ['--data', BTC, '--end', '2023-02-30', '--out', existing],
      /end \(--end, SIMULATE_END\): expected an ISO date/,
    ],
    [
      'an out dir under a file',
      ['--data', BTC, '--out', join(file, 'out')],
      /out \(--out, SIMULATE_OUT\): .*a-file is not a directory/,
    ],
    [
      'an out dir whose parent is missing',
      ['--data', BTC, '--out', join(dir, 'no', 'such')],
      /out \(--out, SIMULATE_OUT\): .*cannot be created: .*no does not exist/,
    ],
    [
      '--symbol with several files',
      ['--data', BTC, ETH, '--symbol', 'BTC/USDT', '--out', existing],
      /symbol \(--symbol, SIMULATE_SYMBOL\): names the pair of one file, but 2 files were given/,
    ],
    ['no --data', ['--out', existing], /data \(--data, SIMULATE_DATA\): /],
    ['no --out', ['--data', BTC], /out \(--out, SIMULATE_OUT\): /],
  ];
  // Each is a process start of a couple of seconds: side by side, they cost little more than one.
  const runs = await Promise.all(cases.map(([, args]) => simulate(args)));
  for (const [i, [name, , message]] of cases.entries()) {
    const r = runs[i]!;
    t.equal(r.status, 2, `${name}: exit 2`);
    t.match(r.stderr, message, `${name}: says why`);
    t.notMatch(r.stderr, /\n\s+at /, `${name}: no stack trace`);
    t.equal(r.stdout, '', `${name}: no table`);
  }
  t.strictSame(readdirSync(existing), [], 'nothing written to the out dir');
  t.notOk(existsSync(join(dir, 'no')), 'no directory made');
});
