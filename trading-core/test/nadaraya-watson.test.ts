import t from 'tap';
import { NadarayaWatson, nadarayaWatsonSeries } from '../src/indicators/nadaraya-watson.js';
import { loadCandles } from './helpers/ohlcv.js';
import { rangeError, throwsExactly } from './helpers/throws.js';

const ASSETS = ['BTC', 'ETH', 'BNB', 'SOL', 'XRP', 'ADA', 'DOGE'];

/** Neumaier-compensated sum of `n` terms given by `term(k)`. */
function compensatedSum(n: number, term: (k: number) => number): number {
  let sum = 0;
  let c = 0;
  for (let k = 0; k < n; k++) {
    const x = term(k);
    const s = sum + x;
    c += Math.abs(sum) >= Math.abs(x) ? sum - s + x : x - s + sum;
    sum = s;
  }
  return sum + c;
}

/**
 * The envelope written out from its definition, independently of the class: per bar the kernel
 * weights afresh, numerator and denominator summed with compensation, then the mean absolute
 * error over the last `window` bars. NaN where the class has no value yet.
 */
function reference(closes: number[], window: number, h: number, mult: number) {
  const n = closes.length;
  const est = new Array<number>(n).fill(NaN);
  const err = new Array<number>(n).fill(NaN);
  const upper = new Array<number>(n).fill(NaN);
  const lower = new Array<number>(n).fill(NaN);
  const weight = (i: number): number => Math.exp(-(i * i) / (2 * h * h));
  for (let t = window - 1; t < n; t++) {
    const num = compensatedSum(window, (i) => weight(i) * closes[t - i]!);
    const den = compensatedSum(window, weight);
    est[t] = num / den;
    err[t] = Math.abs(closes[t]! - est[t]!);
  }
  const out = { estimate: est.map(() => NaN), upper, lower };
  for (let t = 2 * window - 2; t < n; t++) {
    const mae = compensatedSum(window, (k) => err[t - k]!) / window;
    out.estimate[t] = est[t]!;
    upper[t] = est[t]! + mult * mae;
    lower[t] = est[t]! - mult * mae;
  }
  return out;
}

const relativeGap = (a: number, b: number): number => Math.abs(a - b) / Math.max(Math.abs(b), 1e-300);

t.test('a tiny series by hand: window 2, bandwidth 1', async (t) => {
  // Weights 1 (lag 0) and a = e^-1/2 (lag 1). Closes 1, 2, 4: estimates at bars 1 and 2 are
  // e1 = (2 + a) / (1 + a) ≈ 1.62 and e2 = (4 + 2a) / (1 + a) ≈ 3.24, each below its close, so
  // the errors are 2 − e1 and 4 − e2.
  const a = Math.exp(-0.5);
  const e1 = (2 + a) / (1 + a);
  const e2 = (4 + 2 * a) / (1 + a);
  const mae = (2 - e1 + (4 - e2)) / 2;
  const nw = new NadarayaWatson({ window: 2, bandwidth: 1, multiplier: 1.5 });
  t.equal(nw.update(1), undefined);
  t.equal(nw.update(2), undefined, 'an estimate, but no error mean over 2 bars yet');
  t.notOk(nw.ready);
  const estimate = nw.update(4)!;
  t.ok(nw.ready);
  t.ok(relativeGap(estimate, e2) < 1e-15, `estimate ${estimate}`);
  t.ok(relativeGap(nw.upper!, e2 + 1.5 * mae) < 1e-15);
  t.ok(relativeGap(nw.lower!, e2 - 1.5 * mae) < 1e-15);
  t.ok(relativeGap(nw.value!.mae, mae) < 1e-15);
});

t.test('on all 7 real files it matches the compensated reference to 1e-9 relative', async (t) => {
  for (const asset of ASSETS) {
    const closes = loadCandles(asset).map((c) => c.close);
    for (const [window, h, mult] of [
      [64, 8, 3],
      [20, 3.5, 2],
    ] as const) {
      const ref = reference(closes, window, h, mult);
      const got = nadarayaWatsonSeries(Float64Array.from(closes), { window, bandwidth: h, multiplier: mult });
      let worst = 0;
      let mismatchedNaN = 0;
      for (let i = 0; i < closes.length; i++) {
        for (const k of ['estimate', 'upper', 'lower'] as const) {
          const r = ref[k][i]!;
          const g = got[k][i]!;
          if (Number.isNaN(r) !== Number.isNaN(g)) mismatchedNaN++;
          else if (!Number.isNaN(r)) worst = Math.max(worst, relativeGap(g, r));
        }
      }
      t.equal(mismatchedNaN, 0, `${asset} ${window}: warm-up at the same bars`);
      t.ok(worst < 1e-9, `${asset} window ${window}: worst relative gap ${worst}`);
      t.ok(Number.isNaN(got.estimate[2 * window - 3]!) && !Number.isNaN(got.estimate[2 * window - 2]!));
    }
  }
});

t.test('it never repaints: values up to bar t are the same whether or not later bars exist', async (t) => {
  const closes = Float64Array.from(loadCandles('ETH').map((c) => c.close));
  const full = nadarayaWatsonSeries(closes);
  for (const cut of [127, 128, 500, 5_000, 17_777]) {
    const prefix = nadarayaWatsonSeries(closes.subarray(0, cut));
    // Later bars replaced by wild ones must not move any earlier value either.
    const altered = Float64Array.from(closes);
    for (let i = cut; i < altered.length; i++) altered[i] = closes[i]! * (i % 2 === 0 ? 3 : 0.2);
    const other = nadarayaWatsonSeries(altered);
    let differ = 0;
    for (let i = 0; i < cut; i++) {
      for (const k of ['estimate', 'upper', 'lower'] as const) {
        if (!Object.is(prefix[k][i], full[k][i])) differ++;
        if (!Object.is(other[k][i], full[k][i])) differ++;
      }
    }
    t.equal(differ, 0, `bars before ${cut}`);
    t.not(other.estimate[cut + 1], full.estimate[cut + 1], 'the altered bars do change what follows');
  }
});

t.test('peek says what update would, replace is as if the newer close came instead', async (t) => {
  const closes = loadCandles('SOL').map((c) => c.close);
  const options = { window: 10, bandwidth: 3, multiplier: 2 };
  const live = new NadarayaWatson(options);
  const plain = new NadarayaWatson(options);
  for (let i = 0; i < 400; i++) {
    const close = closes[i]!;
    const before = JSON.stringify(live.toJSON());
    const peeked = live.peek(close);
    t.equal(JSON.stringify(live.toJSON()), before, 'peek changes nothing');
    // A forming candle: a first guess, replaced by the final close.
    live.update(close * 1.01);
    live.replace(close);
    plain.update(close);
    if (peeked === undefined) t.notOk(plain.ready, `bar ${i}: peek undefined only while warming up`);
    else t.strictSame(peeked, plain.value, `bar ${i}: peek`);
    t.strictSame(live.toJSON(), plain.toJSON(), `bar ${i}: state after replace`);
    t.equal(live.estimate, plain.estimate);
  }
  throwsExactly(
    t,
    () => new NadarayaWatson().replace(1),
    rangeError('NadarayaWatson.replace: no close to replace yet'),
  );
});

t.test('a snapshot continues bit for bit, and impossible ones are refused', async (t) => {
  const closes = loadCandles('DOGE').map((c) => c.close);
  const options = { window: 16, bandwidth: 4, multiplier: 2.5 };
  for (const at of [0, 5, 16, 20, 31, 200]) {
    const a = new NadarayaWatson(options);
    for (let i = 0; i < at; i++) a.update(closes[i]!);
    const b = NadarayaWatson.fromJSON(JSON.parse(JSON.stringify(a.toJSON())));
    let differ = 0;
    for (let i = at; i < at + 300; i++) {
      if (!Object.is(a.update(closes[i]!), b.update(closes[i]!))) differ++;
      if (!Object.is(a.upper, b.upper) || !Object.is(a.lower, b.lower)) differ++;
    }
    t.equal(differ, 0, `restored after ${at} closes`);
  }

  const good = new NadarayaWatson(options);
  for (let i = 0; i < 40; i++) good.update(closes[i]!);
  const state = good.toJSON();
  t.equal(state.closes.length, 16);
  t.equal(state.errors.length, 16);
  const refused = (patch: object, message: string) =>
    throwsExactly(t, () => NadarayaWatson.fromJSON({ ...state, ...patch }), rangeError(message));
  refused(
    { closes: [...state.closes, 1] },
    'NadarayaWatson.fromJSON: closes and errors are arrays of at most 16',
  );
  refused(
    { closes: state.closes.slice(1), errors: [1] },
    'NadarayaWatson.fromJSON: errors before the window of closes filled',
  );
  refused({ errors: [] }, 'NadarayaWatson.fromJSON: a full window of closes has at least one error');
  refused(
    { errors: [-1, ...state.errors.slice(1)] },
    'NadarayaWatson.fromJSON: errors are never negative, got -1',
  );
  refused(
    { errors: [...state.errors.slice(0, -1), state.errors.at(-1)! * 2] },
    'NadarayaWatson.fromJSON: the newest error is not that of the closes given',
  );
  refused({ bandwidth: 0 }, 'NadarayaWatson: bandwidth must be a positive number, got 0');
  refused({ window: 1.5 }, 'NadarayaWatson: period must be a positive integer, got 1.5');
});

t.test('non-finite closes are refused and change nothing', async (t) => {
  const nw = new NadarayaWatson({ window: 3 });
  nw.update(1);
  const before = JSON.stringify(nw.toJSON());
  throwsExactly(
    t,
    () => nw.update(NaN),
    rangeError('NadarayaWatson: value must be a finite number, got NaN'),
  );
  throwsExactly(
    t,
    () => nw.peek(Infinity),
    rangeError('NadarayaWatson.peek: value must be a finite number, got Infinity'),
  );
  t.equal(JSON.stringify(nw.toJSON()), before);
});
