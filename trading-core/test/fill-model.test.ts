import t from 'tap';
import { fromAtoms, toAtoms } from '../src/atoms.js';
import { backtest } from '../src/backtest.js';
import {
  DEFAULT_FILL_COSTS,
  fillCostsProblem,
  marketFill,
  slippageFor,
  type FillCosts,
} from '../src/fill-model.js';
import { EmaCrossVolumeStrategy } from '../src/strategies/ema-cross.js';
import { loadCandles } from './helpers/ohlcv.js';
import { rangeError, throwsExactly } from './helpers/throws.js';

t.test('slippage grows with the share of the bar volume an order takes, only with an impact', async (t) => {
  t.equal(slippageFor(5, 10, { slippageBps: 5, feeBps: 10 }), 5, 'no impact: the fixed slippage');
  t.equal(slippageFor(5, undefined, { slippageBps: 5, feeBps: 10, impactBps: 100 }), 5, 'no volume known');
  t.equal(slippageFor(1, 10, { slippageBps: 5, feeBps: 10, impactBps: 100 }), 15, '10 % of the bar: +10 bps');
  t.equal(
    slippageFor(30, 10, { slippageBps: 5, feeBps: 10, impactBps: 100 }),
    105,
    'capped at the whole bar',
  );
  t.equal(slippageFor(1, 0, { slippageBps: 5, feeBps: 10, impactBps: 100 }), 105, 'a bar with no volume');
  const fill = marketFill('buy', 1, 1000, { slippageBps: 0, feeBps: 10, impactBps: 200 }, 4);
  t.equal(fill.price, 1000 * (1 + 50 / 10_000), 'a quarter of the bar: 50 bps');
  t.equal(
    marketFill('sell', 1, 1000, { slippageBps: 0, feeBps: 0, impactBps: 200 }, 4).price,
    1000 * (1 - 50 / 10_000),
  );
});

t.test('costs are checked once, with the key and the value named', async (t) => {
  t.equal(fillCostsProblem(DEFAULT_FILL_COSTS), null);
  t.equal(fillCostsProblem(undefined as unknown as FillCosts), 'costs must be an object, got undefined');
  t.equal(fillCostsProblem({ ...DEFAULT_FILL_COSTS, impactBps: 50, maxVolumeShare: 1 }), null);
  t.equal(
    fillCostsProblem({ ...DEFAULT_FILL_COSTS, impactBps: -1 }),
    'costs.impactBps must be in [0, 10000), got -1',
  );
  t.equal(
    fillCostsProblem({ ...DEFAULT_FILL_COSTS, maxVolumeShare: 0 }),
    'costs.maxVolumeShare must be in (0, 1], got 0',
  );
  t.equal(
    fillCostsProblem({ slippageBps: NaN, feeBps: 1 }),
    'costs.slippageBps must be in [0, 10000), got NaN',
  );
  throwsExactly(
    t,
    () =>
      backtest([], new EmaCrossVolumeStrategy(), {
        symbol: 'BTC/USDT',
        seed: 1,
        costs: { ...DEFAULT_FILL_COSTS, maxVolumeShare: 2 },
      }),
    rangeError('backtest: costs.maxVolumeShare must be in (0, 1], got 2'),
  );
});

const btc = loadCandles('BTC');
const byTime = new Map(btc.map((c) => [c.time, c]));

t.test('a volume cap fills part of an order, never more than the share of its bar', async (t) => {
  const share = 0.0005;
  const costs = { ...DEFAULT_FILL_COSTS, maxVolumeShare: share };
  const capped = backtest(btc, new EmaCrossVolumeStrategy(), { symbol: 'BTC/USDT', seed: 1_000_000, costs });
  const free = backtest(btc, new EmaCrossVolumeStrategy(), {
    symbol: 'BTC/USDT',
    seed: 1_000_000,
    costs: DEFAULT_FILL_COSTS,
  });
  t.equal(capped.ledgerBalanced, true);
  const over = capped.trades.filter((x) => toAtoms(x.quantity) > toAtoms(share * byTime.get(x.time)!.volume));
  t.same(over, [], 'no fill above the cap');
  const atCap = capped.trades.filter(
    (x) => x.quantity === fromAtoms(toAtoms(Math.floor(share * byTime.get(x.time)!.volume * 1e8) / 1e8)),
  );
  t.ok(atCap.length > 10, `${atCap.length} fills were cut to the cap`);
  t.ok(
    free.trades.some((x) => x.quantity > share * byTime.get(x.time)!.volume),
    'uncapped, some fills are larger',
  );
  // Walk the position: a sell the cap cut short leaves some behind, which a later sell takes.
  let position = 0n;
  let partialSells = 0;
  let negative = 0;
  for (const x of capped.trades) {
    position += x.side === 'buy' ? toAtoms(x.quantity) : -toAtoms(x.quantity);
    if (x.side === 'sell' && position > 0n) partialSells++;
    if (position < 0n) negative++;
  }
  t.ok(partialSells > 0, `${partialSells} sells were partial`);
  t.equal(negative, 0, 'never sold more than held');
});

t.test(
  'with an impact, each fill price is the open moved by the fixed slippage and its share of the bar',
  async (t) => {
    const costs = { slippageBps: 5, feeBps: 10, impactBps: 300 };
    const r = backtest(btc, new EmaCrossVolumeStrategy(), { symbol: 'BTC/USDT', seed: 10_000, costs });
    t.ok(r.fills > 100);
    const wrong = r.trades.filter((x) => {
      const bar = byTime.get(x.time)!;
      const slip = 5 + 300 * Math.min(1, x.quantity / bar.volume);
      const expected = bar.open * (x.side === 'buy' ? 1 + slip / 10_000 : 1 - slip / 10_000);
      return Math.abs(x.price - expected) > expected * 1e-12;
    });
    t.same(wrong, []);
    const plain = backtest(btc, new EmaCrossVolumeStrategy(), {
      symbol: 'BTC/USDT',
      seed: 10_000,
      costs: { slippageBps: 5, feeBps: 10 },
    });
    t.ok(r.finalEquity < plain.finalEquity, 'impact only ever costs');
  },
);
