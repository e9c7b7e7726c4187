import t from 'tap';
import { Ema } from '../src/indicators/ema.js';
import { Sma } from '../src/indicators/sma.js';
import { VolumeAverage } from '../src/indicators/volume-average.js';
import { loadCandles } from './helpers/ohlcv.js';
import { rangeError, throwsExactly } from './helpers/throws.js';

const btc = loadCandles('BTC');
const closes = btc.map((c) => c.close);
const volumes = btc.map((c) => c.volume);

function naiveSma(xs: number[], period: number, i: number): number | undefined {
  if (i + 1 < period) return undefined;
  let sum = 0;
  for (let j = i + 1 - period; j <= i; j++) sum += xs[j]!;
  return sum / period;
}

/** The textbook recurrence in its other algebraic form, so it is not the same code twice. */
function naiveEmaSeries(xs: number[], period: number): (number | undefined)[] {
  const alpha = 2 / (period + 1);
  const out: (number | undefined)[] = [];
  let prev: number | undefined;
  for (let i = 0; i < xs.length; i++) {
    if (i + 1 < period) out.push(undefined);
    else if (i + 1 === period) out.push((prev = naiveSma(xs, period, i)));
    else out.push((prev = alpha * xs[i]! + (1 - alpha) * prev!));
  }
  return out;
}

function maxRelativeError(actual: (number | undefined)[], expected: (number | undefined)[]): number {
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (e === undefined || a === undefined) {
      if (a !== e) return Infinity;
      continue;
    }
    // The BTC file has hours with zero volume; there the error is absolute.
    worst = Math.max(worst, Math.abs(a - e) / (Math.abs(e) || 1));
  }
  return worst;
}

t.test('the BTC file has the ~24k candles the accuracy tests rely on', async (t) => {
  t.equal(btc.length, 23987);
});

for (const [label, series] of [
  ['close', closes],
  ['volume', volumes],
] as const) {
  for (const period of [1, 2, 20, 200]) {
    t.test(
      `Sma(${period}) over every BTC ${label} stays within 1e-9 of summing the window afresh`,
      async (t) => {
        const sma = new Sma(period);
        const actual = series.map((x) => sma.update(x));
        const err = maxRelativeError(
          actual,
          series.map((_, i) => naiveSma(series, period, i)),
        );
        t.ok(err <= 1e-9, `max relative error ${err}`);
      },
    );
  }
}

t.test('VolumeAverage(20) over every BTC volume matches the naive mean of the window', async (t) => {
  const avg = new VolumeAverage(20);
  const actual = volumes.map((v) => avg.update(v));
  const expected = volumes.map((_, i) => naiveSma(volumes, 20, i));
  t.ok(maxRelativeError(actual, expected) <= 1e-9);
  t.ok(avg instanceof Sma);
});

for (const period of [1, 12, 26, 200]) {
  t.test(`Ema(${period}) over every BTC close stays within 1e-9 of the textbook recurrence`, async (t) => {
    const ema = new Ema(period);
    const actual = closes.map((x) => ema.update(x));
    const err = maxRelativeError(actual, naiveEmaSeries(closes, period));
    t.ok(err <= 1e-9, `max relative error ${err}`);
  });
}

t.test('Sma is exact again once a huge value has left the window', async (t) => {
  // A plain running sum keeps the rounding of 1e16 + 1 forever; the compensated one does not.
  const sma = new Sma(2);
  for (const x of [1e16, 1, 1, 1, 3]) sma.update(x);
  t.equal(sma.value, 2);
});

t.test('Sma returns undefined until it has seen period values, then their mean', async (t) => {
  const sma = new Sma(3);
  t.equal(sma.ready, false);
  t.equal(sma.update(1), undefined);
  t.equal(sma.update(2), undefined);
  t.equal(sma.value, undefined);
  t.equal(sma.ready, false);
  t.equal(sma.update(6), 3);
  t.equal(sma.ready, true);
  t.equal(sma.update(10), 6);
  t.equal(sma.value, 6);
});

t.test('Ema is seeded with the simple average of its first period values', async (t) => {
  const ema = new Ema(3);
  t.equal(ema.alpha, 0.5);
  t.equal(ema.update(1), undefined);
  t.equal(ema.update(2), undefined);
  t.equal(ema.ready, false);
  t.equal(ema.update(3), 2, 'seed = (1 + 2 + 3) / 3');
  t.equal(ema.ready, true);
  t.equal(ema.update(4), 3, '2 + 0.5 × (4 - 2)');
  t.equal(ema.update(5), 4, '3 + 0.5 × (5 - 3)');
  t.equal(ema.value, 4);
});

t.test('an indicator refuses a bad period with a RangeError naming it', async (t) => {
  throwsExactly(t, () => new Sma(0), rangeError('Sma: period must be a positive integer, got 0'));
  throwsExactly(
    t,
    () => new VolumeAverage(1.5),
    rangeError('VolumeAverage: period must be a positive integer, got 1.5'),
  );
  throwsExactly(t, () => new Ema(-3), rangeError('Ema: period must be a positive integer, got -3'));
});

t.test('a non-finite value is refused and changes nothing', async (t) => {
  const sma = new Sma(2);
  const ema = new Ema(2);
  for (const x of [1, 3]) {
    sma.update(x);
    ema.update(x);
  }
  const before = [JSON.stringify(sma), JSON.stringify(ema)];
  throwsExactly(t, () => sma.update(NaN), rangeError('Sma: value must be a finite number, got NaN'));
  throwsExactly(
    t,
    () => ema.update(Infinity),
    rangeError('Ema: value must be a finite number, got Infinity'),
  );
  t.same([JSON.stringify(sma), JSON.stringify(ema)], before);
  t.equal(sma.update(5), 4);
  t.equal(ema.update(5), 2 + (2 / 3) * 3);
});

t.test('a snapshot restored mid-series continues bit for bit like the original', async (t) => {
  const sma = new VolumeAverage(20);
  const ema = new Ema(26);
  const half = volumes.length >> 1;
  for (let i = 0; i < half; i++) {
    sma.update(volumes[i]!);
    ema.update(closes[i]!);
  }
  const sma2 = VolumeAverage.fromJSON(JSON.parse(JSON.stringify(sma)));
  const ema2 = Ema.fromJSON(JSON.parse(JSON.stringify(ema)));
  t.ok(sma2 instanceof VolumeAverage);
  let same = true;
  for (let i = half; i < volumes.length; i++) {
    if (sma.update(volumes[i]!) !== sma2.update(volumes[i]!)) same = false;
    if (ema.update(closes[i]!) !== ema2.update(closes[i]!)) same = false;
  }
  t.ok(same);
});

t.test('a snapshot taken while warming up restores as not ready', async (t) => {
  const sma = new Sma(3);
  const ema = new Ema(3);
  sma.update(1);
  ema.update(1);
  const sma2 = Sma.fromJSON(sma.toJSON());
  const ema2 = Ema.fromJSON(ema.toJSON());
  t.equal(sma2.ready, false);
  t.equal(ema2.ready, false);
  sma2.update(2);
  ema2.update(2);
  t.equal(sma2.update(6), 3);
  t.equal(ema2.update(6), 3);
});

t.test('a snapshot that does not fit its period is refused', async (t) => {
  throwsExactly(
    t,
    () => Sma.fromJSON({ period: 2, values: [1, 2, 3], sum: 6, compensation: 0 }),
    rangeError('Sma.fromJSON: values must be an array of at most 2 numbers'),
  );
  throwsExactly(
    t,
    () => Ema.fromJSON({ period: 3, count: 2, seedSum: 3, value: 2 }),
    rangeError('Ema.fromJSON: value must be set exactly when count reaches period'),
  );
});
