// VWAP on the real candles: session VWAP against technicalindicators' VWAP run on each UTC day
// (it accumulates from its first bar), rolling VWAP against the window summed afresh, forming
// candles, and windows with no volume (the BTC file has hours without trades).
import t from 'tap';
import ti from 'technicalindicators';
import { RollingVwap, SessionVwap, typicalPrice } from '../src/indicators/vwap.js';
import { loadCandles } from './helpers/ohlcv.js';
import { rangeError, throwsExactly } from './helpers/throws.js';

const DAY = 86_400_000;
const rel = (a: number, e: number) => Math.abs(a - e) / Math.abs(e);

t.test('session VWAP equals technicalindicators day by day to 1e-9', async (t) => {
  for (const base of ['ETH', 'DOGE']) {
    const candles = loadCandles(base).slice(0, 24 * 200);
    const vwap = new SessionVwap();
    let worst = 0;
    let compared = 0;
    const days = new Map<number, typeof candles>();
    for (const c of candles)
      days.set(Math.floor(c.time / DAY), [...(days.get(Math.floor(c.time / DAY)) ?? []), c]);
    for (const day of days.values()) {
      const theirs = ti.VWAP.calculate({
        high: day.map((c) => c.high),
        low: day.map((c) => c.low),
        close: day.map((c) => c.close),
        volume: day.map((c) => c.volume),
      });
      day.forEach((c, i) => {
        const ours = vwap.update(c);
        if (ours !== undefined && Number.isFinite(theirs[i]!)) {
          worst = Math.max(worst, rel(ours, theirs[i]!));
          compared++;
        }
      });
    }
    t.ok(compared > 4000, `${base}: ${compared} values compared`);
    t.ok(worst <= 1e-9, `${base}: worst relative error ${worst}`);
  }
});

t.test('rolling VWAP equals the window summed afresh, zero-volume windows included', async (t) => {
  const candles = loadCandles('BTC');
  for (const period of [1, 24, 168]) {
    const vwap = new RollingVwap(period);
    let worst = 0;
    let wrongUndefined = 0;
    for (let i = 0; i < candles.length; i++) {
      const ours = vwap.update(candles[i]!);
      if (i + 1 < period) {
        if (ours !== undefined) wrongUndefined++;
        continue;
      }
      let pv = 0;
      let v = 0;
      for (let j = i + 1 - period; j <= i; j++) {
        pv += typicalPrice(candles[j]!) * candles[j]!.volume;
        v += candles[j]!.volume;
      }
      if (v === 0) {
        if (ours !== undefined) wrongUndefined++;
      } else if (ours === undefined) wrongUndefined++;
      else worst = Math.max(worst, rel(ours, pv / v));
    }
    t.equal(wrongUndefined, 0, `VWAP(${period}): undefined exactly while warming up or without volume`);
    t.ok(worst <= 1e-9, `VWAP(${period}): worst relative error ${worst}`);
  }
  const quiet = new RollingVwap(2);
  for (const volume of [5, 0, 0]) quiet.update({ time: 0, high: 2, low: 1, close: 1.5, volume });
  t.equal(quiet.value, undefined, 'no trade in the window: no VWAP');
});

t.test('forming candles: peek agrees with update, replace leaves no trace', async (t) => {
  const candles = loadCandles('ADA').slice(0, 3000);
  for (const make of [() => new SessionVwap(), () => new RollingVwap(24)]) {
    const live = make();
    const plain = make();
    let mismatches = 0;
    for (const c of candles) {
      const forming = { ...c, high: c.open, low: c.open, close: c.open, volume: c.volume / 3 };
      // Equal up to rounding: the rolling sums are recomputed from the window every period bars,
      // which a peek just before cannot know.
      const same = (a: number | undefined, b: number | undefined) =>
        (a === undefined) === (b === undefined) && (a === undefined || rel(a, b!) <= 1e-12);
      const peeked = live.peek(forming);
      if (!same(live.update(forming), peeked)) mismatches++;
      if (!same(live.replace(c), plain.update(c))) mismatches++;
    }
    t.equal(mismatches, 0, live.constructor.name);
  }
  throwsExactly(
    t,
    () => new SessionVwap().update({ time: 0, high: 1, low: 1, close: 1, volume: -1 }),
    rangeError('SessionVwap: volume must not be negative, got -1'),
  );
  const s = new SessionVwap();
  s.update({ time: 2 * DAY, high: 1, low: 1, close: 1, volume: 1 });
  throwsExactly(
    t,
    () => s.update({ time: DAY, high: 1, low: 1, close: 1, volume: 1 }),
    rangeError(`SessionVwap: bar at ${DAY} is in a session before the current one`),
  );
  throwsExactly(
    t,
    () => new RollingVwap(3).replace({ time: 0, high: 1, low: 1, close: 1, volume: 1 }),
    rangeError('RollingVwap.replace: no bar to replace yet'),
  );
});

t.test('snapshots continue bit for bit, mid-session and mid-window', async (t) => {
  const candles = loadCandles('ETH').slice(0, 6000);
  for (const make of [
    () => new SessionVwap(),
    () => new SessionVwap(4 * 3_600_000),
    () => new RollingVwap(24),
  ])
    for (const cut of [0, 1, 13, 23, 24, 25, 1000, 1013]) {
      const whole = make();
      for (const c of candles.slice(0, cut)) whole.update(c);
      const json = JSON.parse(JSON.stringify(whole.toJSON()));
      const resumed = whole instanceof SessionVwap ? SessionVwap.fromJSON(json) : RollingVwap.fromJSON(json);
      t.equal(resumed.value, whole.value, `${whole.constructor.name} after ${cut} bars: same value`);
      let differ = 0;
      for (const c of candles.slice(cut, cut + 2000))
        if (!Object.is(whole.update(c), resumed.update(c))) differ++;
      t.equal(differ, 0, `${whole.constructor.name} resumed after ${cut} bars`);
    }
});

t.test('impossible snapshots are refused', async (t) => {
  const session = { sessionMs: DAY, session: 3, pv: 10, volume: 5 };
  throwsExactly(
    t,
    () => SessionVwap.fromJSON({ ...session, session: 1.5 }),
    rangeError('SessionVwap.fromJSON: session must be an integer or null, got 1.5'),
  );
  throwsExactly(
    t,
    () => SessionVwap.fromJSON({ ...session, volume: -1 }),
    rangeError('SessionVwap.fromJSON: volume must not be negative, got -1'),
  );
  throwsExactly(
    t,
    () => SessionVwap.fromJSON({ ...session, session: null }),
    rangeError('SessionVwap.fromJSON: no session yet, so no sums'),
  );
  const rolling = new RollingVwap(3);
  rolling.update({ time: 0, high: 2, low: 1, close: 1.5, volume: 2 });
  const good = rolling.toJSON();
  t.same(good, {
    period: 3,
    count: 1,
    next: 1,
    pv: [3, 0, 0],
    volume: [2, 0, 0],
    sumPv: 3,
    sumVolume: 2,
    sinceExact: 1,
  });
  throwsExactly(
    t,
    () => RollingVwap.fromJSON({ ...good, count: 4 }),
    rangeError('RollingVwap.fromJSON: count must be an integer in [0, 3], got 4'),
  );
  throwsExactly(
    t,
    () => RollingVwap.fromJSON({ ...good, next: 2 }),
    rangeError('RollingVwap.fromJSON: next must be the slot after the last bar, got 2'),
  );
  throwsExactly(
    t,
    () => RollingVwap.fromJSON({ ...good, sinceExact: 3 }),
    rangeError('RollingVwap.fromJSON: sinceExact must be an integer in [0, 3), got 3'),
  );
  throwsExactly(
    t,
    () => RollingVwap.fromJSON({ ...good, volume: [2, 0] }),
    rangeError('RollingVwap.fromJSON: pv and volume must be arrays of 3 numbers'),
  );
  throwsExactly(
    t,
    () => RollingVwap.fromJSON({ ...good, volume: [2, -1, 0] }),
    rangeError('RollingVwap.fromJSON: volume must not be negative, got -1'),
  );
});
