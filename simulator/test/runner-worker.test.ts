import { appendFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { SimJob } from '../src/jobs.js';
import runJob, { CURVE_POINTS, curves } from '../src/worker.js';

const HOUR = 3_600_000;
const START = Date.UTC(2024, 0, 1);
const dir = mkdtempSync(join(tmpdir(), 'sim-worker-'));

/** Hourly candles from `from`: a slow zigzag, so a buy-and-hold has a drawdown. */
function rows(from: number, count: number): string {
  let text = '';
  for (let i = from; i < from + count; i++) {
    const price = 100 + 10 * Math.sin(i / 7) + i / 10;
    text += `${START + i * HOUR},${price},${price + 1},${price - 1},${price + 0.5},${10 + (i % 5)}\n`;
  }
  return text;
}

function job(file: string, range: { start: number; end: number }, over: Partial<SimJob> = {}): SimJob {
  return {
    runId: 'run',
    jobId: `job-${range.start}-${range.end}`,
    stream: 'buy-and-hold.1h',
    strategy: 'buy-and-hold',
    variant: 'default',
    params: {},
    symbol: 'BTC/USDT',
    timeframe: '1h',
    source: { file },
    segment: '1m',
    range,
    seed: 10_000,
    costs: { slippageBps: 5, feeBps: 10 },
    curve: true,
    ...over,
  };
}

t.test('a job runs its window, with curves that keep the deepest drawdown', async (t) => {
  const file = join(dir, 'a.csv');
  writeFileSync(file, `time,open,high,low,close,volume\n${rows(0, 2000)}`);
  const r = await runJob(job(file, { start: START, end: START + 1500 * HOUR }));
  t.equal(r.error, null);
  t.equal(r.candles, 1500, 'the window only');
  t.equal(r.metrics!.trades, 1);
  t.ok(r.equity!.time.length <= CURVE_POINTS && r.equity!.time.length >= CURVE_POINTS - 1);
  t.equal(r.equity!.time.at(-1), START + 1499 * HOUR, 'the last point is the last close');
  t.equal(Math.max(...r.drawdown!.value), r.metrics!.maxDrawdown, 'the chart shows the worst fall');
  t.strictSame(r.data, [{ file, symbol: 'BTC/USDT', problems: [], problemCount: 0, refused: null }]);
  t.equal(r.threadId, 0, 'here, on the main thread');
});

t.test('a file that grew is read again', async (t) => {
  const file = join(dir, 'grows.csv');
  writeFileSync(file, `time,open,high,low,close,volume\n${rows(0, 100)}`);
  const range = { start: START, end: START + 1000 * HOUR };
  t.equal((await runJob(job(file, range))).candles, 100);
  appendFileSync(file, rows(100, 50));
  t.equal((await runJob(job(file, range))).candles, 150, 'not the cached 100');
});

t.test('an unreadable file, an empty window and gaps are said in the result', async (t) => {
  const bad = join(dir, 'unsorted.csv');
  const lines = rows(0, 10).split('\n');
  writeFileSync(
    bad,
    `time,open,high,low,close,volume\n${[lines[1], lines[0], ...lines.slice(2)].join('\n')}`,
  );
  const r = await runJob(job(bad, { start: START, end: START + 10 * HOUR }));
  t.equal(r.metrics, null);
  t.match(r.error, /^.*unsorted\.csv: E_NOT_SORTED: /);
  t.equal(r.data[0]!.problems[0]!.kind, 'unreadable');
  t.equal(r.data[0]!.problems[0]!.row, 3, 'the line the reader stopped at');

  const gappy = join(dir, 'gappy.csv');
  writeFileSync(gappy, `time,open,high,low,close,volume\n${rows(0, 10)}${rows(13, 10)}`);
  const g = await runJob(job(gappy, { start: START - 1000 * HOUR, end: START - 10 * HOUR }));
  t.equal(g.error, 'no candles in the window: the data does not reach back so far');
  t.strictSame(
    g.data[0]!.problems.map((p) => [p.row, p.kind]),
    [[12, 'gap']],
  );
});

t.test('curves of a short run keep every point', async (t) => {
  const candles = [0, 1, 2].map((i) => ({ time: i, open: 1, high: 1, low: 1, close: 1, volume: 1 }));
  t.strictSame(curves(candles, [100, 80, 120], 100), {
    equity: { time: [0, 1, 2], value: [100, 80, 120] },
    drawdown: { time: [0, 1, 2], value: [0, 0.2, 0] },
  });
});
