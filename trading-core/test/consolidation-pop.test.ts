import t from 'tap';
import type { Candle } from '../src/candle.js';
import { ConsolidationPopStrategy } from '../src/strategies/consolidation-pop.js';

const HOUR = 3_600_000;
type Bar = readonly [high: number, low: number, close: number, volume: number];
const candle = (i: number, [high, low, close, volume]: Bar): Candle => ({
  time: i * HOUR,
  open: close,
  high,
  low,
  close,
  volume,
});

// rangePeriod 3, ATR 2 (Wilder), tight = range <= 2 ATR, volume >= 1.5 × the range's mean, trail
// 1 ATR. Worked by hand (range and ATR of the bars before; ATR after a bar in brackets):
const BARS: Bar[] = [
  [10.5, 9.5, 10, 100],
  [10.5, 9.5, 10, 100],
  [10.5, 9.5, 10, 100], //   (ATR 1)
  [10.5, 9.5, 10, 100], //   range 9.5-10.5, close 10 not above it (ATR 1)
  [11.2, 10, 11, 200], //    range 1 <= 2 × 1, 11 > 10.5, volume 200 >= 150: buy (ATR 1.1)
  [11.8, 10.9, 11.6, 100], // peak 11.6 (ATR 1): stop 10.6
  [11.7, 10.6, 10.7, 100], // (ATR 1.05) stop 10.55, 10.7 above it and above the range high 10.5
  [10.8, 10.4, 10.45, 100], // 10.45 < 10.5: back in the range, sell
  [10.6, 10.3, 10.45, 100], // (ATR 0.5125)
  [10.6, 10.3, 10.45, 100], // (ATR 0.40625)
  [10.6, 10.3, 10.45, 100], // (ATR 0.353)
  [11.5, 10.5, 11.4, 300], //  range 10.3-10.6 = 0.3 <= 0.706, 11.4 > 10.6, 300 >= 150: buy
  [12.5, 11.4, 12.4, 100], //  peak 12.4 (ATR 0.901): stop 11.499
  [12.4, 11.1, 11.2, 100], //  (ATR 1.1004): stop 11.2996; 11.2 below it, above 10.6: sell
];
const params = { rangePeriod: 3, atrPeriod: 2, maxRangeAtr: 2, volumeFactor: 1.5, trailAtr: 1 };
const run = (bars: Bar[]) => {
  const s = new ConsolidationPopStrategy(params);
  return bars.map((b, i) => s.onCandle(candle(i, b)));
};

t.test(
  'buys the pop out of a tight range on volume; sells back in the range or on the trailing stop',
  async (t) => {
    const expected: (string | null)[] = BARS.map(() => null);
    expected[4] = 'buy';
    expected[7] = 'sell';
    expected[11] = 'buy';
    expected[13] = 'sell';
    t.strictSame(run(BARS), expected);
  },
);

t.test('the breakout needs the volume: 149 is not 1.5 × 100, 150 is', async (t) => {
  const quiet = BARS.slice(0, 5).map((b, i): Bar => (i === 4 ? [b[0], b[1], b[2], 149] : b));
  t.equal(run(quiet)[4], null);
  const enough = BARS.slice(0, 5).map((b, i): Bar => (i === 4 ? [b[0], b[1], b[2], 150] : b));
  t.equal(run(enough)[4], 'buy');
});

t.test('a range that is not tight is no setup', async (t) => {
  // Bar 1 reaches down to 7: range 7-10.5 = 3.5, ATR before bar 4 is 1.625 (2 × 1.625 = 3.25).
  const wide = BARS.slice(0, 5).map((b, i): Bar => (i === 1 ? [10.5, 7, 10, 100] : b));
  t.strictSame(run(wide), [null, null, null, null, null]);
});
