import t from 'tap';
import { inSampleRange, planJobs } from '../src/jobs.js';
import { SimulationError, planSimulation } from '../src/plan.js';
import { windowRange } from '../src/windows.js';
import { throwsExactly } from './helpers/assert.js';

const DATA = '/work/shared/data/ohlcv';
const BTC = `${DATA}/binance_BTC-USDT_1h.csv`;
const ETH = `${DATA}/binance_ETH-USDT_1h.csv`;
const costs = { slippageBps: 5, feeBps: 10 };
const END = Date.UTC(2024, 0, 1);

t.test('jobs are plain JSON with ids from their content', async (t) => {
  const input = {
    files: [{ path: BTC, symbol: 'BTC/USDT', timeframe: '1h' }],
    end: END,
    strategies: ['ema-cross-volume', 'buy-and-hold'],
    seed: 10_000,
    costs,
  };
  const plan = planJobs(input);
  t.strictSame(JSON.parse(JSON.stringify(plan.jobs)), plan.jobs, 'survives JSON');
  t.strictSame(planJobs(input), plan, 'the same input plans the same jobs and run id');
  t.equal(new Set(plan.jobs.map((j) => j.jobId)).size, plan.jobs.length, 'ids unique');
  t.not(planJobs({ ...input, seed: 20_000 }).jobs[0]!.jobId, plan.jobs[0]!.jobId, 'another seed, another id');
  const own = plan.jobs.filter((j) => j.stream === 'ema-cross.1h' && j.variant === 'default');
  t.strictSame(
    own.map((j) => [j.segment, j.range, j.curve]),
    [
      ['1m', windowRange(END, '1m'), true],
      ['3m', windowRange(END, '3m'), true],
      ['6m', windowRange(END, '6m'), true],
      ['1y', windowRange(END, '1y'), true],
      ['in-sample', { start: Date.UTC(2023, 6, 1), end: Date.UTC(2023, 9, 1) }, false],
    ],
  );
  t.equal(inSampleRange(END).end, windowRange(END, '3m').start, 'in sample ends where the 3m window starts');
  // 7 sets: 5 jobs of the defaults, 3 (in-sample, 3m, 1y) of each other; buy-and-hold 5.
  t.equal(plan.jobs.length, 5 + 6 * 3 + 5);
  t.equal(plan.jobs[0]!.stream, 'ema-cross.1h');
});

t.test('a strategy reading a leader gets its file, or is skipped with why', async (t) => {
  const plan = planJobs({
    files: [
      { path: BTC, symbol: 'BTC/USDT', timeframe: '1h' },
      { path: ETH, symbol: 'ETH/USDT', timeframe: '1h' },
    ],
    end: END,
    strategies: ['correlation'],
    seed: 10_000,
    costs,
  });
  t.ok(plan.jobs.every((j) => j.symbol === 'ETH/USDT' && j.inputs?.['BTC/USDT']?.file === BTC));
  t.strictSame(plan.skipped, [
    {
      stream: 'correlation.1h',
      symbol: 'BTC/USDT',
      reason: 'correlation follows BTC/USDT, the symbol itself',
    },
  ]);
});

t.test('bad input is refused before anything runs', async (t) => {
  const bad = (options: Parameters<typeof planSimulation>[0], message: string) =>
    throwsExactly(t, () => planSimulation(options), { message, code: 'E_INPUT', name: 'SimulationError' });
  bad({ files: [`${DATA}/binance_NOPE-USDT_1h.csv`] }, `${DATA}/binance_NOPE-USDT_1h.csv: no such file`);
  bad(
    { files: [BTC], strategies: ['nope'] },
    'unknown strategy "nope"; known: ema-cross-volume, rsi-divergence-vwap, bollinger-reversion, turtle, consolidation-pop, nadaraya-watson-reversion, correlation, buy-and-hold',
  );
  bad({ files: [BTC], symbols: ['ETH/USDT'] }, `${BTC}: the name says BTC/USDT, --symbol says ETH/USDT`);
  bad(
    { files: [BTC, ETH], symbols: ['BTC/USDT'] },
    '1 symbols for 2 files: give one symbol per file, in order',
  );
  bad({ files: [BTC, BTC] }, 'two files are both BTC/USDT on 1h');
  bad({ files: [BTC], seed: 0 }, 'seed must be a positive amount of quote, got 0');
  t.ok(SimulationError.codes.E_INPUT.length > 0);
});

t.test('the windows end just after the last candle unless told', async (t) => {
  const plan = planSimulation({ files: [BTC], strategies: ['buy-and-hold'] });
  // The file's last candle opens at 2023-12-30T18:00Z... whatever it is, plus one hour.
  t.equal(plan.end, 1703959200000 + 3_600_000);
  t.equal(planSimulation({ files: [BTC], strategies: ['buy-and-hold'], end: END }).end, END);
});
