import t from 'tap';
import type { Candle } from '../src/candle.js';
import { TurtleStrategy } from '../src/strategies/turtle.js';

const HOUR = 3_600_000;
const bar = (i: number, [high, low, close]: readonly [number, number, number]): Candle => ({
  time: i * HOUR,
  open: close,
  high,
  low,
  close,
  volume: 1,
});

// entryPeriod 3, exitPeriod 2, ATR 2 (Wilder), stop 1 ATR. True ranges from bar 1: 2, 2 (ATR 2
// at bar 2), 2.5 (bar 3: ATR 2.25), ...
const BARS = [
  [11, 9, 10],
  [11, 9, 10],
  [11, 9, 10],
  [12.5, 10, 12], //    3: 12 > 11, the highest high of bars 0-2: buy; stop 12 − 2.25 = 9.75
  [13, 11.5, 12.5], //  4: lowest low of bars 2-3 is 9
  [12.6, 11, 11.2], //  5: lowest low of bars 3-4 is 10, 11.2 above
  [11.4, 9.9, 10.5], // 6: lowest low of bars 4-5 is 11: 10.5 below it, sell
  [10.6, 10, 10.2], //  7: highest high of bars 4-6 is 13
  [10.6, 10, 10.3], //  8: of bars 5-7 12.6
  [13, 10.3, 12.8], //  9: of bars 6-8 11.4: buy. TR 2.7, ATR (0.8547 + 2.7) / 2 = 1.777: stop 11.023
  [12.8, 10.5, 10.6], // 10: lowest low of bars 8-9 is 10, so not the channel: 10.6 < stop 11.023, sell
  [11, 10, 10.5], //   11: highest high of bars 8-10 is 13
] as const;

t.test('buys a breakout above the previous highs, sells on the exit channel or the ATR stop', async (t) => {
  const s = new TurtleStrategy({ entryPeriod: 3, exitPeriod: 2, atrPeriod: 2, stopAtr: 1 });
  const actions = BARS.map((b, i) => s.onCandle(bar(i, b)));
  const expected = BARS.map(() => null) as (string | null)[];
  expected[3] = 'buy';
  expected[6] = 'sell';
  expected[9] = 'buy';
  expected[10] = 'sell';
  t.strictSame(actions, expected);
});

t.test('a close equal to the previous highest high is no breakout', async (t) => {
  const s = new TurtleStrategy({ entryPeriod: 3, exitPeriod: 2, atrPeriod: 2, stopAtr: 1 });
  const bars = [...BARS.slice(0, 3), [12, 10, 11] as const];
  t.strictSame(
    bars.map((b, i) => s.onCandle(bar(i, b))),
    [null, null, null, null],
  );
});

t.test('without a stop hit it waits for the exit channel', async (t) => {
  // A wide stop (10 ATR) leaves bar 10 to the channel (lowest low 10), which 10.6 does not break;
  // bar 11 closes 10.5, and the lowest low of bars 9-10 is 10.3: still held.
  const s = new TurtleStrategy({ entryPeriod: 3, exitPeriod: 2, atrPeriod: 2, stopAtr: 10 });
  const actions = BARS.map((b, i) => s.onCandle(bar(i, b)));
  t.equal(actions[9], 'buy');
  t.equal(actions[10], null);
  t.equal(actions[11], null);
});
