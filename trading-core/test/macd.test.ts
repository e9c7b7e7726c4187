// MACD on the real candles against technicalindicators (EMA oscillator and signal, no rounding:
// to 1e-9 of the price scale), forming candles through all three EMAs, snapshots, bad input.
import t from 'tap';
import ti from 'technicalindicators';
import { Ema } from '../src/indicators/ema.js';
import { Macd } from '../src/indicators/macd.js';
import { loadCandles } from './helpers/ohlcv.js';
import { rangeError, throwsExactly } from './helpers/throws.js';

t.test('agrees with technicalindicators, value for value', async (t) => {
  for (const base of ['BTC', 'XRP']) {
    const closes = loadCandles(base).map((c) => c.close);
    // MACD is a difference of prices: its error is judged against the price, not itself.
    const scale = Math.max(...closes);
    for (const [fast, slow, signal] of [
      [12, 26, 9],
      [3, 10, 16],
    ] as const) {
      const theirs = ti.MACD.calculate({
        values: closes,
        fastPeriod: fast,
        slowPeriod: slow,
        signalPeriod: signal,
        SimpleMAOscillator: false,
        SimpleMASignal: false,
      }).filter((v) => v.signal !== undefined);
      const m = new Macd({ fast, slow, signal });
      const ours = closes
        .map((c) => {
          const line = m.update(c);
          // The scalar getters and update's return say what the value object says, bit for bit.
          const v = m.value;
          if (
            !Object.is(line, v?.macd) ||
            !Object.is(m.macd, v?.macd) ||
            !Object.is(m.signal, v?.signal) ||
            !Object.is(m.histogram, v?.histogram)
          )
            throw new Error(`getters disagree with value at ${c}`);
          return v;
        })
        .filter((v) => v !== undefined);
      t.equal(ours.length, theirs.length, `${base} MACD(${fast}, ${slow}, ${signal}): as many values`);
      let worst = 0;
      for (let i = 0; i < theirs.length; i++)
        worst = Math.max(
          worst,
          Math.abs(ours[i]!.macd - theirs[i]!.MACD!) / scale,
          Math.abs(ours[i]!.signal - theirs[i]!.signal!) / scale,
          Math.abs(ours[i]!.histogram - theirs[i]!.histogram!) / scale,
        );
      t.ok(
        worst <= 1e-9,
        `${base} MACD(${fast}, ${slow}, ${signal}): worst error ${worst} of the price scale`,
      );
    }
  }
});

t.test('peek changes nothing; replace is as if the candle had closed at the new price', async (t) => {
  const candles = loadCandles('ETH').slice(0, 3000);
  for (const Kind of ['ema', 'macd'] as const) {
    const make = () => (Kind === 'ema' ? new Ema(10) : new Macd({ fast: 5, slow: 13, signal: 4 }));
    const live = make();
    const plain = make();
    let mismatches = 0;
    for (const c of candles) {
      const before = JSON.stringify(live.toJSON());
      const peeked = live.peek(c.open);
      if (JSON.stringify(live.toJSON()) !== before) mismatches++;
      live.update(c.open);
      if (JSON.stringify(live.value) !== JSON.stringify(peeked)) mismatches++;
      live.replace(c.low);
      if (!Object.is(live.replace(c.close), plain.update(c.close))) mismatches++;
      if (JSON.stringify(live.value) !== JSON.stringify(plain.value)) mismatches++;
    }
    t.equal(mismatches, 0, `${Kind}: peek = update, replace leaves no trace`);
    t.equal(JSON.stringify(live.toJSON()), JSON.stringify(plain.toJSON()));
  }
});

t.test('a snapshot continues bit for bit, and bad input is refused', async (t) => {
  const closes = loadCandles('SOL').map((c) => c.close);
  for (const cut of [0, 5, 26, 40, 3000]) {
    const whole = new Macd();
    for (const c of closes.slice(0, cut)) whole.update(c);
    const resumed = Macd.fromJSON(JSON.parse(JSON.stringify(whole.toJSON())));
    let differ = 0;
    for (const c of closes.slice(cut, cut + 2000)) {
      if (!Object.is(whole.update(c), resumed.update(c))) differ++;
      if (JSON.stringify(whole.value) !== JSON.stringify(resumed.value)) differ++;
    }
    t.equal(differ, 0, `resumed after ${cut} closes`);
  }
  throwsExactly(
    t,
    () => new Macd({ fast: 26, slow: 12, signal: 9 }),
    rangeError('Macd: the fast period (26) must be shorter than the slow one (12)'),
  );
  throwsExactly(t, () => new Macd().replace(1), rangeError('Ema.replace: no value to replace yet'));
  throwsExactly(
    t,
    () => new Ema(3).peek(NaN),
    rangeError('Ema.peek: value must be a finite number, got NaN'),
  );
  const warm = new Macd({ fast: 2, slow: 3, signal: 2 });
  for (const c of [1, 2, 3, 4]) warm.update(c);
  const state = warm.toJSON();
  throwsExactly(
    t,
    () => Macd.fromJSON({ ...state, fast: new Ema(2).toJSON() }),
    rangeError('Macd.fromJSON: the slow EMA cannot be warm before the fast one'),
  );
  throwsExactly(
    t,
    () => Macd.fromJSON({ ...state, slow: new Ema(3).toJSON() }),
    rangeError('Macd.fromJSON: the signal line cannot start before the slow EMA is warm'),
  );
});
