import { threadId } from 'node:worker_threads';
import t from 'tap';
import { aggregate } from '../src/aggregate.js';
import { planSimulation } from '../src/plan.js';
import { runJobs } from '../src/pool.js';
import type { JobResult } from '../src/worker.js';

const DATA = '/work/shared/data/ohlcv';
const BTC = `${DATA}/binance_BTC-USDT_1h.csv`;

// One real file, two strategies: ema-cross-volume's grid of 7 sets and buy-and-hold.
const plan = planSimulation({ files: [BTC], strategies: ['ema-cross-volume', 'buy-and-hold'], seed: 10_000 });
const results = await runJobs(plan.jobs, { threads: 2 });
const createdAt = '2024-01-01T00:00:00.000Z';

/** A rule every buy-and-hold passes when all its runs came back: only the 1y drawdown must be known. */
const LENIENT = {
  minWindowsBeaten: 0,
  maxDrawdown: 1,
  drawdownOn: '1y',
  minDeflatedSharpe: null,
  requireWalkForward: false,
  passesToGain: 1,
};

t.test('the pool runs jobs on worker threads, more than one with two', async (t) => {
  t.equal(results.length, plan.jobs.length, 'one result per job');
  t.strictSame(new Set(results.map((r) => r.jobId)), new Set(plan.jobs.map((j) => j.jobId)));
  const threads = new Set(results.map((r) => r.threadId));
  t.notOk(threads.has(threadId), 'none on the main thread');
  t.equal(threads.size, 2, `two worker threads ran jobs: ${[...threads].join(', ')}`);
  t.ok(
    results.every((r) => r.error === null && r.metrics !== null),
    'every job made metrics',
  );
});

t.test('a result delivered twice is counted once, the first kept', async (t) => {
  const once = aggregate(plan, results, { createdAt });
  const forged = results
    .slice(0, 5)
    .map((r): JobResult => ({ ...r, metrics: r.metrics && { ...r.metrics, totalReturn: 99 } }));
  const twice = aggregate(plan, [...results, ...forged, ...results], { createdAt });
  t.equal(once.duplicates, 0);
  t.equal(twice.duplicates, results.length + forged.length);
  t.strictSame(twice.runs, once.runs, 'the same runs');
  t.strictSame(twice.trials, once.trials, 'the same trials');
  t.strictSame(twice.eligibility, once.eligibility, 'the same decisions');
  t.notOk(
    [...twice.runs, ...twice.trials].some((r) => r.metrics?.totalReturn === 99),
    'a later copy does not replace the first',
  );
  t.equal(once.runs.length, 2 * 4, '4 windows per stream');
  t.equal(once.trials.length, plan.jobs.length - 8);
});

t.test('a result for a job not in the plan is ignored', async (t) => {
  const stranger = { ...results[0]!, jobId: 'someone-else:BTC/USDT:default:1y:0000' };
  const r = aggregate(plan, [stranger, ...results], { createdAt });
  t.strictSame(r, aggregate(plan, results, { createdAt }));
});

t.test('a job whose result never came is listed and judged as failed', async (t) => {
  const year = plan.jobs.find((j) => j.stream === 'buy-and-hold.1h' && j.segment === '1y')!;
  const all = aggregate(plan, results, { createdAt, rule: LENIENT });
  const lost = aggregate(
    plan,
    results.filter((r) => r.jobId !== year.jobId),
    { createdAt, rule: LENIENT },
  );
  const hold = (r: typeof all) => r.eligibility.find((e) => e.stream === 'buy-and-hold.1h')!;
  t.equal(hold(all).eligible, true, 'eligible with every result');
  t.strictSame(lost.missing, [year.jobId]);
  const run = lost.runs.find((r) => r.jobId === year.jobId)!;
  t.equal(run.metrics, null);
  t.equal(run.error, 'no result came for this job');
  t.equal(hold(lost).eligible, false, 'not eligible without it');
  t.match(hold(lost).reason, /max drawdown unknown/);
});

t.test(
  'each (stream, symbol) gets a decision with its reason; the state carries to the next run',
  async (t) => {
    const rule = { ...LENIENT, passesToGain: 2 };
    const first = aggregate(plan, results, { createdAt, rule });
    t.strictSame(
      first.eligibility.map((e) => [e.stream, e.symbol]),
      [
        ['ema-cross.1h', 'BTC/USDT'],
        ['buy-and-hold.1h', 'BTC/USDT'],
      ],
    );
    for (const e of first.eligibility)
      t.ok(e.reason.length > 0 && e.checks.length === 4, `${e.stream}: reasoned`);
    const hold = (r: typeof first) => r.eligibility.find((e) => e.stream === 'buy-and-hold.1h')!;
    t.equal(hold(first).eligible, false);
    t.match(hold(first).reason, /^not yet eligible \(passed 1 of 2 runs needed\)/);
    const second = aggregate(plan, results, { createdAt, rule, previous: first.eligibility });
    t.equal(hold(second).eligible, true);
    t.match(hold(second).reason, /^became eligible after 2 passing runs: /);
  },
);

t.test('the deflated Sharpe counts every set of every strategy on the symbol as a trial', async (t) => {
  const r = aggregate(plan, results, { createdAt });
  for (const e of r.eligibility) t.equal(e.deflatedSharpe?.trials, plan.trials, e.stream);
  t.equal(plan.trials, 7 + 1);
  const ema = r.eligibility.find((e) => e.stream === 'ema-cross.1h')!;
  t.equal(ema.walkForward?.candidates, 7, 'the walk-forward chose among the 7 sets');
});
