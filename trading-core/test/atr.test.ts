// Wilder's ATR on the real candles against technicalindicators (which does not round ATR: to
// 1e-9 relative), the forming-candle operations against plain updates, snapshots and bad input.
import fc from 'fast-check';
import t from 'tap';
import ti from 'technicalindicators';
import { Atr, atrSeries, trueRange } from '../src/indicators/atr.js';
import { loadCandles } from './helpers/ohlcv.js';
import { rangeError, throwsExactly } from './helpers/throws.js';

const SERIES = ['BTC', 'SOL', 'XRP'].map((base) => ({ base, candles: loadCandles(base) }));

t.test('agrees with technicalindicators to 1e-9, value for value', async (t) => {
  for (const { base, candles } of SERIES)
    for (const period of [1, 14, 50]) {
      const high = candles.map((c) => c.high);
      const low = candles.map((c) => c.low);
      const close = candles.map((c) => c.close);
      const theirs = ti.ATR.calculate({ period, high, low, close });
      const ours = [
        ...atrSeries(Float64Array.from(high), Float64Array.from(low), Float64Array.from(close), period),
      ].filter((v) => !Number.isNaN(v));
      t.equal(ours.length, theirs.length, `${base} ATR(${period}): as many values`);
      let worst = 0;
      for (let i = 0; i < theirs.length; i++)
        worst = Math.max(worst, Math.abs(ours[i]! - theirs[i]!) / Math.abs(theirs[i]! || 1));
      t.ok(worst <= 1e-9, `${base} ATR(${period}): worst relative error ${worst}`);
    }
});

t.test('true range counts the gap from the previous close', async (t) => {
  t.equal(trueRange({ high: 12, low: 11, close: 11.5 }, 10), 2, 'a gap up');
  t.equal(trueRange({ high: 9, low: 8, close: 8.5 }, 10), 2, 'a gap down');
  t.equal(trueRange({ high: 10.5, low: 9.5, close: 10 }, 10), 1, 'inside: high - low');
});

/** The textbook form, which `trueRange` replaces with one subtraction of the same two numbers. */
const largestOfThree = (high: number, low: number, previousClose: number): number =>
  Math.max(high - low, Math.abs(high - previousClose), Math.abs(low - previousClose));

t.test('true range equals the largest of the three differences, bit for bit, on any bar', async (t) => {
  // Prices spread over many magnitudes and equal values often, where rounding would show.
  const price = fc.oneof(
    fc.double({ min: 1e-8, max: 1e9, noNaN: true, noDefaultInfinity: true }),
    fc.constantFrom(0, 1, 1.1, 100, 0.1 + 0.2),
  );
  fc.assert(
    fc.property(price, price, price, (a, b, previousClose) => {
      const high = Math.max(a, b);
      const low = Math.min(a, b);
      return Object.is(
        trueRange({ high, low, close: low }, previousClose),
        largestOfThree(high, low, previousClose),
      );
    }),
    { numRuns: 20_000 },
  );
  let differing = 0;
  for (const { candles } of SERIES)
    for (let i = 1; i < candles.length; i++) {
      const c = candles[i]!;
      if (
        !Object.is(trueRange(c, candles[i - 1]!.close), largestOfThree(c.high, c.low, candles[i - 1]!.close))
      )
        differing++;
    }
  t.equal(differing, 0, 'every real bar after the first');
  t.pass('20,000 generated bars');
});

t.test('peek changes nothing; replace is as if the candle had ended as the new bar', async (t) => {
  const candles = SERIES[1]!.candles.slice(0, 3000);
  const live = new Atr(14);
  const plain = new Atr(14);
  let mismatches = 0;
  for (const c of candles) {
    const forming = { high: c.open, low: c.open, close: c.open };
    const before = JSON.stringify(live.toJSON());
    const peeked = live.peek(forming);
    if (JSON.stringify(live.toJSON()) !== before) mismatches++;
    if (live.update(forming) !== peeked) mismatches++;
    if (live.replace(c) !== plain.update(c)) mismatches++;
  }
  t.equal(mismatches, 0);
  t.equal(JSON.stringify(live.toJSON()), JSON.stringify(plain.toJSON()));
});

t.test('a snapshot continues bit for bit, and bad snapshots and inputs are refused', async (t) => {
  const candles = SERIES[2]!.candles;
  for (const cut of [0, 1, 14, 15, 5000]) {
    const whole = new Atr(14);
    const first = new Atr(14);
    for (const c of candles.slice(0, cut)) {
      whole.update(c);
      first.update(c);
    }
    const resumed = Atr.fromJSON(JSON.parse(JSON.stringify(first.toJSON())));
    let differ = 0;
    for (const c of candles.slice(cut, cut + 3000)) if (whole.update(c) !== resumed.update(c)) differ++;
    t.equal(differ, 0, `resumed after ${cut} bars`);
  }
  throwsExactly(t, () => new Atr(1.5), rangeError('Atr: period must be a positive integer, got 1.5'));
  throwsExactly(
    t,
    () => new Atr(14).update({ high: 1, low: 2, close: 1.5 }),
    rangeError('Atr: low <= close <= high does not hold (2, 1.5, 1)'),
  );
  throwsExactly(
    t,
    () => new Atr(14).update({ high: Infinity, low: 1, close: 1 }),
    rangeError('Atr: value must be a finite number, got Infinity'),
  );
  throwsExactly(
    t,
    () => new Atr(3).replace({ high: 1, low: 1, close: 1 }),
    rangeError('Atr.replace: no bar to replace yet'),
  );
  throwsExactly(
    t,
    () => Atr.fromJSON({ period: 3, count: 2, previousClose: 1, range: -1 }),
    rangeError('Atr.fromJSON: range is never negative, got -1'),
  );
  throwsExactly(
    t,
    () => atrSeries(new Float64Array(2), new Float64Array(2), new Float64Array(3), 2),
    rangeError('atrSeries: high, low and close differ in length (2, 2, 3)'),
  );
});
