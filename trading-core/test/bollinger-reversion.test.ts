import t from 'tap';
import { BollingerReversionStrategy } from '../src/strategies/bollinger-reversion.js';
import { flat } from './helpers/bars.js';

// Period 3, 1 standard deviation (population). Worked by hand (mean ± sd of the last 3):
//  3: 10,10,7    mean 9      sd 1.414  lower 7.586            close 7 below
//  4: 10,7,6     mean 7.667  sd 1.700  lower 5.967            close 6 back inside: buy
//  5: 7,6,9      mean 7.333  sd 1.247  upper 8.581            close 9 >= middle and >= upper
// 10: 11,12,8    mean 10.333 sd 1.700  lower 8.634            close 8 below
// 11: 12,8,7.5   mean 9.167  sd 2.014  lower 7.153            close 7.5 back inside: buy
// 12: 8,7.5,8    mean 7.833  sd 0.236  upper 8.069            close 8 >= middle, < upper
// 13: 7.5,8,12   mean 9.167  sd 2.014  upper 11.181           close 12 >= upper
const CLOSES = [10, 10, 10, 7, 6, 9, 9.5, 10, 11, 12, 8, 7.5, 8, 12, 13];
const run = (exit: 'middle' | 'upper') => {
  const s = new BollingerReversionStrategy({ period: 3, multiplier: 1, exit });
  return CLOSES.map((c, i) => s.onCandle(flat(i, c)));
};
const at = (entries: Record<number, 'buy' | 'sell'>) => CLOSES.map((_, i) => entries[i] ?? null);

t.test('buys the close back inside the lower band, sells at the middle band', async (t) => {
  t.strictSame(run('middle'), at({ 4: 'buy', 5: 'sell', 11: 'buy', 12: 'sell' }));
});

t.test("with exit 'upper' it holds until the upper band", async (t) => {
  t.strictSame(run('upper'), at({ 4: 'buy', 5: 'sell', 11: 'buy', 13: 'sell' }));
});

t.test('a close still below the band is no buy; only the one coming back is', async (t) => {
  // 7 then 5: 10,7,5 mean 7.333 sd 2.055 lower 5.278, close 5 still below; then 7: 7,5,7 mean
  // 6.333 sd 0.943 lower 5.390, back inside.
  const s = new BollingerReversionStrategy({ period: 3, multiplier: 1 });
  const actions = [10, 10, 10, 7, 5, 7].map((c, i) => s.onCandle(flat(i, c)));
  t.strictSame(actions, [null, null, null, null, null, 'buy']);
});

t.test('it reports its parameters', async (t) => {
  t.strictSame({ ...new BollingerReversionStrategy().params }, { period: 20, multiplier: 2, exit: 'middle' });
});
