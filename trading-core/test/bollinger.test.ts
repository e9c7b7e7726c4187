// Bollinger bands on the real candles against technicalindicators (no rounding: to 1e-9
// relative), forming candles peeked and replaced against plain updates, snapshots, bad input.
import t from 'tap';
import ti from 'technicalindicators';
import { Bollinger } from '../src/indicators/bollinger.js';
import { loadCandles } from './helpers/ohlcv.js';
import { rangeError, throwsExactly } from './helpers/throws.js';

const rel = (a: number, e: number) => Math.abs(a - e) / (Math.abs(e) || 1);

t.test('agrees with technicalindicators to 1e-9 on middle, upper and lower', async (t) => {
  for (const base of ['BTC', 'DOGE', 'BNB']) {
    const closes = loadCandles(base).map((c) => c.close);
    for (const [period, k] of [
      [20, 2],
      [50, 2.5],
      [2, 1],
    ] as const) {
      const theirs = ti.BollingerBands.calculate({ period, stdDev: k, values: closes });
      const b = new Bollinger(period, k);
      const ours = closes
        .map((c) => {
          const middle = b.update(c);
          // The scalar getters and update's return say what the value object says, bit for bit.
          const v = b.value;
          if (
            !Object.is(middle, v?.middle) ||
            !Object.is(b.middle, v?.middle) ||
            !Object.is(b.upper, v?.upper) ||
            !Object.is(b.lower, v?.lower) ||
            !Object.is(b.stdDev, v?.stdDev)
          )
            throw new Error(`getters disagree with value at ${c}`);
          return v;
        })
        .filter((v) => v !== undefined);
      t.equal(ours.length, theirs.length, `${base} BB(${period}, ${k}): as many values`);
      let worst = 0;
      for (let i = 0; i < theirs.length; i++)
        worst = Math.max(
          worst,
          rel(ours[i]!.middle, theirs[i]!.middle),
          rel(ours[i]!.upper, theirs[i]!.upper),
          rel(ours[i]!.lower, theirs[i]!.lower),
        );
      t.ok(worst <= 1e-9, `${base} BB(${period}, ${k}): worst relative error ${worst}`);
    }
  }
});

t.test('peek changes nothing; replace is as if the candle had closed at the new price', async (t) => {
  const candles = loadCandles('ETH').slice(0, 4000);
  const live = new Bollinger(20);
  const plain = new Bollinger(20);
  let worst = 0;
  let changedByPeek = 0;
  for (const c of candles) {
    const before = JSON.stringify(live.toJSON());
    const peeked = live.peek(c.open);
    if (JSON.stringify(live.toJSON()) !== before) changedByPeek++;
    live.update(c.open);
    const first = live.value;
    if (peeked && first)
      worst = Math.max(worst, rel(peeked.upper, first.upper), rel(peeked.middle, first.middle));
    live.replace(c.high);
    const gotMiddle = live.replace(c.close);
    const got = live.value;
    if (!Object.is(gotMiddle, got?.middle)) worst = Infinity;
    plain.update(c.close);
    const want = plain.value;
    if (got && want)
      worst = Math.max(
        worst,
        rel(got.upper, want.upper),
        rel(got.lower, want.lower),
        rel(got.middle, want.middle),
      );
    else if (got !== want) worst = Infinity;
  }
  t.equal(changedByPeek, 0);
  t.ok(worst <= 1e-9, `worst relative difference ${worst}`);
});

t.test('a snapshot continues, and bad input is refused', async (t) => {
  const closes = loadCandles('SOL').map((c) => c.close);
  const whole = new Bollinger(20);
  for (const c of closes.slice(0, 1234)) whole.update(c);
  const resumed = Bollinger.fromJSON(JSON.parse(JSON.stringify(whole.toJSON())));
  let worst = 0;
  for (const c of closes.slice(1234, 4000)) {
    whole.update(c);
    resumed.update(c);
    worst = Math.max(worst, rel(whole.upper!, resumed.upper!), rel(whole.lower!, resumed.lower!));
  }
  t.ok(worst <= 1e-9, `resumed: worst ${worst}`);
  throwsExactly(
    t,
    () => new Bollinger(20, 0),
    rangeError('Bollinger: multiplier must be a positive number, got 0'),
  );
  throwsExactly(
    t,
    () => new Bollinger(20).update(NaN),
    rangeError('Bollinger: value must be a finite number, got NaN'),
  );
  throwsExactly(
    t,
    () => new Bollinger(20).replace(1),
    rangeError('Bollinger.replace: no value to replace yet'),
  );
  throwsExactly(
    t,
    () => Bollinger.fromJSON({ period: 2, multiplier: 2, values: [1, 2, 3] }),
    rangeError('Bollinger.fromJSON: at most 2 values, got 3'),
  );
  const flat = new Bollinger(3);
  for (const x of [5, 5, 5]) flat.update(x);
  t.same(flat.value, { middle: 5, upper: 5, lower: 5, stdDev: 0 }, 'a flat window has no width');
  // A stablecoin after a wild hour: once the window is flat again the width is 0 up to the last bit, not
  // the rounding the large moves left behind (magnified by the square root).
  const peg = new Bollinger(20);
  for (const x of [1, 1.3, 0.7, 1.0001, 0.9999]) peg.update(x);
  for (let i = 0; i < 20; i++) peg.update(1.0002);
  t.ok(peg.value!.stdDev < 1e-14, `flat again: no width (${peg.value!.stdDev})`);
  t.ok(peg.peek(1.0002)!.stdDev < 1e-14, 'and peek agrees');
});

t.test('replace is exactly an update with the final value, and an empty snapshot restores', async (t) => {
  const closes = loadCandles('XRP')
    .map((c) => c.close)
    .slice(0, 5000);
  const live = new Bollinger(20);
  const plain = new Bollinger(20);
  let differ = 0;
  for (const c of closes) {
    live.update(c * 1.02);
    if (!Object.is(live.replace(c), plain.update(c))) differ++;
    if (JSON.stringify(live.value) !== JSON.stringify(plain.value)) differ++;
  }
  t.equal(differ, 0, 'bit for bit');
  const empty = Bollinger.fromJSON(new Bollinger(2).toJSON());
  empty.update(1);
  t.equal(empty.update(3), 2, 'update returns the middle band');
  t.same(empty.value, { middle: 2, upper: 4, lower: 0, stdDev: 1 }, 'no NaN left from restoring nothing');
  t.same([empty.middle, empty.upper, empty.lower, empty.stdDev], [2, 4, 0, 1], 'the scalar getters');
  t.same(
    [new Bollinger(2).middle, new Bollinger(2).upper, new Bollinger(2).lower, new Bollinger(2).stdDev],
    [undefined, undefined, undefined, undefined],
    'undefined while warming up',
  );
});
