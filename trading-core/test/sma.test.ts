// Sma's forming candle (peek, replace) against plain updates, bit for bit, on the real volumes
// (which swing by orders of magnitude, where the compensated sum matters), and its errors.
import t from 'tap';
import { Sma, VolumeAverage } from '../src/indicators/index.js';
import { loadCandles } from './helpers/ohlcv.js';
import { rangeError, throwsExactly } from './helpers/throws.js';

const candles = loadCandles('BTC').slice(0, 5000);

t.test(
  'peek changes nothing and equals the update; replace is as if the candle had closed there',
  async (t) => {
    for (const period of [1, 2, 20]) {
      const live = new VolumeAverage(period);
      const plain = new VolumeAverage(period);
      let mismatches = 0;
      for (const c of candles) {
        const forming = c.volume / 3;
        const before = JSON.stringify(live.toJSON());
        const peeked = live.peek(forming);
        if (JSON.stringify(live.toJSON()) !== before) mismatches++;
        if (!Object.is(live.update(forming), peeked)) mismatches++;
        live.replace(c.volume * 2);
        if (!Object.is(live.replace(c.volume), plain.update(c.volume))) mismatches++;
      }
      t.equal(mismatches, 0, `VolumeAverage(${period})`);
      t.equal(JSON.stringify(live.toJSON()), JSON.stringify(plain.toJSON()));
    }
  },
);

t.test('replace works on the first value and while warming up', async (t) => {
  const sma = new Sma(3);
  sma.update(10);
  t.equal(sma.replace(1), undefined);
  t.equal(sma.peek(2), undefined, 'two values: not warm yet');
  sma.update(2);
  t.equal(sma.peek(3), 2, '(1 + 2 + 3) / 3');
  t.equal(sma.update(30), 11);
  t.equal(sma.replace(3), 2);
  t.equal(sma.update(4), 3, 'the 1 leaves: (2 + 3 + 4) / 3');
  t.same(sma.toJSON().values, [2, 3, 4]);
});

t.test('bad input is refused, named after the class', async (t) => {
  throwsExactly(t, () => new Sma(2).replace(1), rangeError('Sma.replace: no value to replace yet'));
  throwsExactly(
    t,
    () => new VolumeAverage(2).peek(NaN),
    rangeError('VolumeAverage.peek: value must be a finite number, got NaN'),
  );
  throwsExactly(
    t,
    () => new VolumeAverage(2).replace(Infinity),
    rangeError('VolumeAverage.replace: value must be a finite number, got Infinity'),
  );
});
