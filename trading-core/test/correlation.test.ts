import t from 'tap';
import { CorrelationStrategy } from '../src/strategies/correlation.js';
import type { StrategyAction } from '../src/strategies/strategy.js';
import { flat } from './helpers/bars.js';

const params = {
  leader: 'ETH/USDT',
  period: 3,
  minCorrelation: 0.5,
  exitCorrelation: 0,
  moveBars: 1,
  leaderMove: 0.01,
  followRatio: 0.5,
};

/**
 * Builds both series from the return pairs the strategy should see: pair j is (leader return,
 * lagger return) on traded bar j + 2, the leader's being that of its candle j + 1, an hour
 * earlier. Each leader candle is delivered right before the first traded candle after it.
 */
function run(pairs: readonly (readonly [number, number])[]): (StrategyAction | null)[] {
  const leader = [100];
  const lagger = [50, 50];
  for (const [x, y] of pairs) {
    leader.push(leader.at(-1)! * (1 + x));
    lagger.push(lagger.at(-1)! * (1 + y));
  }
  const s = new CorrelationStrategy(params);
  return lagger.map((close, i) => {
    if (i > 0) s.onInput('ETH/USDT', flat(i - 1, leader[i - 1]!));
    return s.onCandle(flat(i, close));
  });
}
const at = (n: number, entries: Record<number, 'buy' | 'sell'>) =>
  Array.from({ length: n }, (_, i) => entries[i] ?? null);

// Pairs 0-2: (.02, .02), (−.02, −.02), (.02, .005): correlation about 0.93, the leader up 2 % and
// the lagger only 0.5 % < 1 %: buy on bar 4, the reference the bar before.
const SETUP = [
  [0.02, 0.02],
  [-0.02, -0.02],
  [0.02, 0.005],
] as const;

t.test('buys when the leader rose and the lagger has not; sells when the lagger caught up', async (t) => {
  // Bar 5: leader flat, lagger +0.5 %: since the reference 1.005² − 1 = 1.0 % < the leader's 2 %.
  // Correlation of the last three pairs is still positive. Bar 6: lagger +1.5 %: 2.5 % >= 2 %.
  const actions = run([...SETUP, [0, 0.005], [0, 0.015]]);
  t.strictSame(actions, at(7, { 4: 'buy', 6: 'sell' }));
});

t.test('sells when the leader falls back', async (t) => {
  // Bar 5: leader −1.5 % (<= −1 %); lagger −1 %: −0.5 % since the reference, below the leader's
  // +0.47 %, so not caught up; correlation positive.
  t.strictSame(run([...SETUP, [-0.015, -0.01]]), at(6, { 4: 'buy', 5: 'sell' }));
});

t.test('sells when the correlation breaks', async (t) => {
  // Bar 5: leader +5 %, lagger −3 %: the last three pairs now correlate negatively (< 0).
  t.strictSame(run([...SETUP, [0.05, -0.03]]), at(6, { 4: 'buy', 5: 'sell' }));
});

t.test('no buy when the returns do not correlate, or the lagger already followed', async (t) => {
  // Pairs (.02, −.02), (−.02, .02), (.02, .005): correlation about −0.79.
  t.strictSame(
    run([
      [0.02, -0.02],
      [-0.02, 0.02],
      [0.02, 0.005],
    ]),
    at(5, {}),
  );
  // The lagger rose 1.2 % of the leader's 2 %: more than half, it followed.
  t.strictSame(
    run([
      [0.02, 0.02],
      [-0.02, -0.02],
      [0.02, 0.012],
    ]),
    at(5, {}),
  );
});

t.test('it reads the leader named in its params, and says so in inputs', async (t) => {
  const s = new CorrelationStrategy();
  t.strictSame(s.inputs, ['BTC/USDT']);
  t.equal(s.params.leader, 'BTC/USDT');
});
