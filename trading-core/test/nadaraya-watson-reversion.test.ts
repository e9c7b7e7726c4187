import t from 'tap';
import { NadarayaWatsonReversionStrategy } from '../src/strategies/nadaraya-watson-reversion.js';
import { flat } from './helpers/bars.js';

// Window 2, bandwidth 1, multiplier 1: weights 1 and a = e^-1/2, so with d_t = close_t − close_{t−1}
// the estimate is close_t − k·d_t (k = a / (1 + a)), the error k·|d_t| and the envelope half-width
// k·(|d_{t−1}| + |d_t|) / 2. Hence, from bar 2 on:
//   close < lower     ⇔  d_t < 0 and |d_t| > |d_{t−1}|  (a fall larger than the move before)
//   close >= estimate ⇔  d_t >= 0
//   close >= upper    ⇔  d_t >= |d_{t−1}|
const CLOSES = [10, 10, 9, 8.5, 8.4, 8.45, 8.6, 8, 7, 6.9, 7.5, 7.4];
// d:           0  -1  -0.5 -0.1 +0.05 +0.15 -0.6 -1 -0.1 +0.6 -0.1
// bar 2: below (1 > 0); 3: inside (0.5 <= 1), buy; 5: d >= 0, sell at the estimate; with exit
// upper: 0.05 < 0.1 holds, 6: 0.15 >= 0.05 sells. 7, 8: below; 9: inside, buy; 10: 0.6 >= 0.1 sells.
const run = (exit: 'estimate' | 'upper') => {
  const s = new NadarayaWatsonReversionStrategy({ window: 2, bandwidth: 1, multiplier: 1, exit });
  return CLOSES.map((c, i) => s.onCandle(flat(i, c)));
};
const at = (entries: Record<number, 'buy' | 'sell'>) => CLOSES.map((_, i) => entries[i] ?? null);

t.test('buys the close back above the lower envelope, sells at the estimate', async (t) => {
  t.strictSame(run('estimate'), at({ 3: 'buy', 5: 'sell', 9: 'buy', 10: 'sell' }));
});

t.test("with exit 'upper' it holds until the upper envelope", async (t) => {
  t.strictSame(run('upper'), at({ 3: 'buy', 6: 'sell', 9: 'buy', 10: 'sell' }));
});
