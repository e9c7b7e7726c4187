// WilderAverage, the smoothing RSI, ATR and ADX share: against the textbook recurrence in exact
// rational arithmetic, forming values, snapshots and errors.
import t from 'tap';
import { WilderAverage } from '../src/indicators/index.js';
import { loadCandles } from './helpers/ohlcv.js';
import { rangeError, throwsExactly } from './helpers/throws.js';

const volumes = loadCandles('ETH').map((c) => c.volume);

/** Wilder's average in fixed point with 40 decimals (volumes have at most 8): exact enough to judge 1e-12. */
function reference(xs: number[], period: number): (number | undefined)[] {
  const SCALE = 10n ** 40n;
  const n = BigInt(period);
  let acc = 0n;
  return xs.map((x, i) => {
    const v = BigInt(Math.round(x * 1e8)) * 10n ** 32n;
    if (i < period - 1) {
      acc += v;
      return undefined;
    }
    acc = i === period - 1 ? (acc + v) / n : (acc * (n - 1n) + v) / n;
    return Number((acc * 10n ** 12n) / SCALE) / 1e12;
  });
}

t.test('equals the exact recurrence with a mean seed to 1e-12 relative', async (t) => {
  for (const period of [1, 3, 14, 100]) {
    const w = new WilderAverage(period);
    const expected = reference(volumes, period);
    let worst = 0;
    let warmUp = 0;
    volumes.forEach((x, i) => {
      const v = w.update(x);
      const e = expected[i];
      if ((v === undefined) !== (e === undefined)) warmUp++;
      else if (v !== undefined && e! > 1) worst = Math.max(worst, Math.abs(v - e!) / e!);
    });
    t.equal(warmUp, 0, `WilderAverage(${period}): warm with the ${period}-th value`);
    t.ok(worst <= 1e-12, `WilderAverage(${period}): worst relative error ${worst}`);
  }
});

t.test('peek and replace follow a forming value; snapshots continue bit for bit', async (t) => {
  const live = new WilderAverage(5);
  const plain = new WilderAverage(5);
  let mismatches = 0;
  for (const x of volumes.slice(0, 3000)) {
    const peeked = live.peek(x / 2);
    if (!Object.is(live.update(x / 2), peeked)) mismatches++;
    if (!Object.is(live.replace(x), plain.update(x))) mismatches++;
  }
  t.equal(mismatches, 0);
  const resumed = WilderAverage.fromJSON(JSON.parse(JSON.stringify(plain.toJSON())));
  let differ = 0;
  for (const x of volumes.slice(3000, 6000)) if (!Object.is(plain.update(x), resumed.update(x))) differ++;
  t.equal(differ, 0);
  throwsExactly(
    t,
    () => new WilderAverage(2).replace(1),
    rangeError('WilderAverage.replace: no value to replace yet'),
  );
  throwsExactly(
    t,
    () => WilderAverage.fromJSON({ period: 2, count: 3, acc: 1 }),
    rangeError('WilderAverage.fromJSON: count must be an integer in [0, 2], got 3'),
  );
  throwsExactly(
    t,
    () => new WilderAverage(2).update(NaN),
    rangeError('WilderAverage: value must be a finite number, got NaN'),
  );
});
