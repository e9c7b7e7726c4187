import t from 'tap';
import { backtest } from '../src/backtest.js';
import type { BacktestResult } from '../src/backtest.js';
import { DEFAULT_FILL_COSTS } from '../src/fill-model.js';
import { createStrategy, strategyNames } from '../src/strategies/registry.js';
import { loadCandles } from './helpers/ohlcv.js';

// Every registered strategy, defaults, through backtest() on the 7 real files: the illustration
// table in the README ("Strategies compared") is this test's comment output
// (`npx tap trading-core/test/strategies-backtest.test.ts`, shown with --reporter=tap).
const ASSETS = ['BTC', 'ETH', 'BNB', 'SOL', 'XRP', 'ADA', 'DOGE'];
const SEED = 10_000;
const data = new Map(ASSETS.map((a) => [a, loadCandles(a)]));

function run(name: string, asset: string): BacktestResult {
  const leader = asset === 'BTC' ? 'ETH' : 'BTC';
  const params = name === 'correlation' ? { leader: `${leader}/USDT` } : {};
  return backtest(data.get(asset)!, createStrategy(name, params), {
    symbol: `${asset}/USDT`,
    seed: SEED,
    costs: DEFAULT_FILL_COSTS,
    inputs: { [`${leader}/USDT`]: data.get(leader)! },
  });
}

const results = new Map(strategyNames().map((name) => [name, new Map(ASSETS.map((a) => [a, run(name, a)]))]));

t.test('every strategy backtests on every file with balanced books', async (t) => {
  for (const [name, byAsset] of results) {
    for (const [asset, r] of byAsset) {
      t.ok(r.ledgerBalanced, `${name} ${asset}: books balanced`);
      t.ok(r.finalEquity > 0 && r.maxDrawdown >= 0 && r.maxDrawdown <= 1, `${name} ${asset}: sane`);
      if (name !== 'buy-and-hold') t.ok(r.fills >= 10, `${name} ${asset}: ${r.fills} fills`);
    }
  }
});

t.test(
  'buy-and-hold fills once, at the second open, and ends worth its quantity at the last close',
  async (t) => {
    for (const asset of ASSETS) {
      const r = results.get('buy-and-hold')!.get(asset)!;
      const candles = data.get(asset)!;
      t.equal(r.fills, 1, asset);
      t.equal(r.trades[0]!.side, 'buy');
      t.equal(
        r.trades[0]!.time,
        candles[1]!.time,
        `${asset}: the order placed at the first close fills at the next open`,
      );
      const cash = SEED - r.trades[0]!.notional - r.trades[0]!.fee;
      const expected = cash + r.trades[0]!.quantity * candles.at(-1)!.close;
      t.ok(Math.abs(r.finalEquity - expected) < 1e-6 * SEED, `${asset}: ${r.finalEquity} ≈ ${expected}`);
    }
  },
);

t.test('the comparison table', async (t) => {
  const pct = (x: number): string => `${(100 * x).toFixed(1)} %`;
  const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;
  const hold = results.get('buy-and-hold')!;
  const lines = [
    '| strategy | mean return | mean max drawdown | fills (7 files) | beats buy-and-hold |',
    '| --- | --- | --- | --- | --- |',
  ];
  for (const [name, byAsset] of results) {
    const rs = [...byAsset.values()];
    const beats = ASSETS.filter((a) => byAsset.get(a)!.totalReturn > hold.get(a)!.totalReturn).length;
    lines.push(
      `| \`${name}\` | ${pct(mean(rs.map((r) => r.totalReturn)))} | ${pct(mean(rs.map((r) => r.maxDrawdown)))} | ${rs.reduce((s, r) => s + r.fills, 0)} | ${name === 'buy-and-hold' ? '-' : `${beats} of 7`} |`,
    );
  }
  t.comment(`\n${lines.join('\n')}`);
  t.equal(lines.length, strategyNames().length + 2);
});
