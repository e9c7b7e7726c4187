// Wilder's RSI on the real candles: against technicalindicators (which rounds to 2 decimals, so
// to 0.005), against an independent fixed-point reference with 40 decimal digits (to 1e-9), and
// the forming-candle operations (peek, replace) and snapshots against plain updates.
import t from 'tap';
import ti from 'technicalindicators';
import { Rsi, rsiSeries } from '../src/indicators/rsi.js';
import { loadCandles } from './helpers/ohlcv.js';
import { rangeError, throwsExactly } from './helpers/throws.js';

const SERIES = ['BTC', 'ETH', 'DOGE'].map((base) => ({
  base,
  closes: loadCandles(base).map((c) => c.close),
}));
const PERIODS = [2, 14, 30];

/** Wilder's RSI in exact-enough integers: prices scaled by 1e8 (exact for these files), averages by 1e40. */
function referenceRsi(closes: number[], period: number): (number | undefined)[] {
  const SCALE = 10n ** 32n;
  const px = closes.map((c) => BigInt(Math.round(c * 1e8)) * SCALE);
  const n = BigInt(period);
  const out: (number | undefined)[] = [undefined];
  let gain = 0n;
  let loss = 0n;
  for (let i = 1; i < px.length; i++) {
    const change = px[i]! - px[i - 1]!;
    const up = change > 0n ? change : 0n;
    const down = change < 0n ? -change : 0n;
    if (i < period) {
      gain += up;
      loss += down;
      out.push(undefined);
      continue;
    }
    if (i === period) {
      gain = (gain + up) / n;
      loss = (loss + down) / n;
    } else {
      gain = (gain * (n - 1n) + up) / n;
      loss = (loss * (n - 1n) + down) / n;
    }
    if (loss === 0n) out.push(100);
    else if (gain === 0n) out.push(0);
    // 100 - 100 / (1 + g/l) = 100 g / (g + l), in 1e12 fixed point, then to a double.
    else out.push(Number((100n * 10n ** 12n * gain) / (gain + loss)) / 1e12);
  }
  return out;
}

t.test('agrees with technicalindicators to its 2-decimal rounding, value for value', async (t) => {
  for (const { base, closes } of SERIES)
    for (const period of PERIODS) {
      const theirs = ti.RSI.calculate({ period, values: closes });
      const ours = [...rsiSeries(Float64Array.from(closes), period)].filter((v) => !Number.isNaN(v));
      t.equal(ours.length, theirs.length, `${base} RSI(${period}): as many values`);
      let worst = 0;
      for (let i = 0; i < theirs.length; i++) worst = Math.max(worst, Math.abs(ours[i]! - theirs[i]!));
      t.ok(worst <= 0.005 + 1e-9, `${base} RSI(${period}): worst difference ${worst}`);
    }
});

t.test('agrees with a 40-digit fixed-point reference to 1e-9', async (t) => {
  for (const { base, closes } of SERIES)
    for (const period of PERIODS) {
      const expected = referenceRsi(closes, period);
      const rsi = new Rsi(period);
      let worst = 0;
      let mismatchedWarmUp = 0;
      for (let i = 0; i < closes.length; i++) {
        const v = rsi.update(closes[i]!);
        const e = expected[i];
        if ((v === undefined) !== (e === undefined)) mismatchedWarmUp++;
        else if (v !== undefined) worst = Math.max(worst, Math.abs(v - e!) / 100);
      }
      t.equal(mismatchedWarmUp, 0, `${base} RSI(${period}): warm from close ${period + 1} on`);
      t.ok(worst <= 1e-9, `${base} RSI(${period}): worst relative error ${worst}`);
    }
});

t.test('peek changes nothing; replace is as if the candle had closed at the new price', async (t) => {
  const closes = SERIES[0]!.closes.slice(0, 2000);
  const live = new Rsi(14);
  const plain = new Rsi(14);
  let mismatches = 0;
  for (let i = 0; i < closes.length; i++) {
    // The candle forms: first seen at its open-ish value, then replaced twice, then final.
    const forming = closes[i]! * 1.01;
    const before = JSON.stringify(live.toJSON());
    const peeked = live.peek(forming);
    if (JSON.stringify(live.toJSON()) !== before) mismatches++;
    const first = live.update(forming);
    if (first !== peeked) mismatches++;
    live.replace(closes[i]! * 0.99);
    const final = live.replace(closes[i]!);
    if (final !== plain.update(closes[i]!)) mismatches++;
  }
  t.equal(mismatches, 0, 'peek = update, and replace leaves no trace of the forming values');
  t.equal(JSON.stringify(live.toJSON()), JSON.stringify(plain.toJSON()));
});

t.test('a snapshot continues bit for bit, and bad snapshots and inputs are refused', async (t) => {
  const closes = SERIES[1]!.closes;
  for (const cut of [0, 1, 14, 15, 5000]) {
    const whole = new Rsi(14);
    const first = new Rsi(14);
    for (const c of closes.slice(0, cut)) {
      whole.update(c);
      first.update(c);
    }
    const resumed = Rsi.fromJSON(JSON.parse(JSON.stringify(first.toJSON())));
    let differ = 0;
    for (const c of closes.slice(cut, cut + 3000)) if (whole.update(c) !== resumed.update(c)) differ++;
    t.equal(differ, 0, `resumed after ${cut} closes`);
  }
  throwsExactly(t, () => new Rsi(0), rangeError('Rsi: period must be a positive integer, got 0'));
  throwsExactly(
    t,
    () => new Rsi(14).update(Number.NaN),
    rangeError('Rsi: value must be a finite number, got NaN'),
  );
  throwsExactly(t, () => new Rsi(14).replace(1), rangeError('Rsi.replace: no close to replace yet'));
  const good = { period: 14, count: 3, previousClose: 10, gain: 1, loss: 0 };
  throwsExactly(
    t,
    () => Rsi.fromJSON({ ...good, count: 16 }),
    rangeError('Rsi.fromJSON: count must be an integer in [0, 15], got 16'),
  );
  throwsExactly(
    t,
    () => Rsi.fromJSON({ ...good, previousClose: null }),
    rangeError('Rsi.fromJSON: previousClose must be set exactly when a close was seen'),
  );
  throwsExactly(
    t,
    () => Rsi.fromJSON({ ...good, loss: -1 }),
    rangeError('Rsi.fromJSON: gain and loss are never negative, got -1'),
  );
  const rsi = new Rsi(2);
  for (const c of [100, 101, 102]) rsi.update(c);
  t.equal(rsi.value, 100, 'nothing lost: 100');
  // Twelve equal drops: the average gain halves each time (period 2), the loss tends to 1.
  for (let c = 101; c >= 90; c--) rsi.update(c);
  t.ok(rsi.value! > 0 && rsi.value! < 0.05, `falling steadily: near 0 (${rsi.value})`);
});
