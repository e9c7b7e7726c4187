import t from 'tap';
import type { Candle } from '../src/candle.js';
import { RsiDivergenceVwapStrategy } from '../src/strategies/rsi-divergence-vwap.js';

const HOUR = 3_600_000;
/** Bar i of the first UTC day: high and low 0.1 either side of the close. */
const bar = (i: number, close: number, volume: number): Candle => ({
  time: i * HOUR,
  open: close,
  high: close + 0.1,
  low: close - 0.1,
  close,
  volume,
});

const params = { rsiPeriod: 2, pivotBars: 1, maxPivotGap: 10, armBars: 3, rsiOverbought: 90 };
// Light volume on the first four bars, so the session VWAP soon follows the lower prices.
const volume = (i: number): number => (i < 4 ? 1 : 100);
const run = (closes: number[], p: Partial<typeof params> = {}) => {
  const s = new RsiDivergenceVwapStrategy({ ...params, ...p });
  return closes.map((c, i) => s.onCandle(bar(i, c, volume(i))));
};
const at = (n: number, entries: Record<number, 'buy' | 'sell'>) =>
  Array.from({ length: n }, (_, i) => entries[i] ?? null);

// Worked by hand (RSI(2) Wilder, session VWAP of typical price):
//  4: 7, a sharp fall: RSI 0; a swing low (low 6.9) once bar 5 is higher
//  5: 8, closes above the VWAP (7.549) from below: a reclaim, but nothing is armed
//  6: 8.5, a swing high (8.6, RSI 57.1)
//  9: 6.8 after a slow slide: RSI 8.1 > 0 at a lower low (6.7 < 6.9), 5 bars on; confirmed on
//     bar 10, which arms bars 10-13 with the stop at 6.7. Bar 10's close 7.5 is under its VWAP
//     (7.713); bar 11's 8.2 is above 7.774, the previous 7.5 was under 7.713: buy
const SETUP = [10, 10, 10, 10, 7, 8, 8.5, 8.2, 7.9, 6.8, 7.5, 8.2];

t.test('a bullish divergence then a VWAP reclaim buys; RSI overbought sells', async (t) => {
  // 12: 8.6 (RSI 84.1), 13: 9.3 (RSI 93.0 >= 90): sell.
  const closes = [...SETUP, 8.6, 9.3, 9.9];
  t.strictSame(run(closes), at(closes.length, { 11: 'buy', 13: 'sell' }));
});

t.test('a close below the divergence low sells', async (t) => {
  // 12: 7.0 (the swing high at 11, 8.3, is below the one at 6: not bearish), 13: 6.6 < 6.7.
  const closes = [...SETUP, 7.0, 6.6, 6.8];
  t.strictSame(run(closes), at(closes.length, { 11: 'buy', 13: 'sell' }));
});

t.test('a bearish divergence sells', async (t) => {
  // 12: 8.9, a swing high (9.0, RSI 87.5) above bar 6's with a higher RSI: not bearish.
  // 14: 8.95, a higher high (9.05) with RSI 79.5 < 87.5, confirmed on bar 15 by its lower high.
  const closes = [...SETUP, 8.9, 8.7, 8.95, 8.8, 8.9];
  t.strictSame(run(closes), at(closes.length, { 11: 'buy', 15: 'sell' }));
});

t.test('no divergence, no buy: a higher low arms nothing', async (t) => {
  // Bar 9 closes 7.2: its low 7.1 is above 6.9, so price did not make a lower low.
  const closes = [10, 10, 10, 10, 7, 8, 8.5, 8.2, 7.9, 7.2, 7.5, 8.2, 8.6, 9.3];
  t.strictSame(run(closes), at(closes.length, {}));
});

t.test('the reclaim must come within armBars of the confirmation', async (t) => {
  const closes = [...SETUP, 8.6];
  t.strictSame(run(closes, { armBars: 0 }), at(closes.length, {}), 'only bar 10, still under the VWAP');
  t.strictSame(run(closes, { armBars: 1 }), at(closes.length, { 11: 'buy' }));
});
