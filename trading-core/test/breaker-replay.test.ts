import t from 'tap';
import { Breaker, type BreakerTripped } from '../src/breaker/index.js';
import { loadCandles } from './helpers/ohlcv.js';

const HOUR = 3_600_000;
const BASES = ['BTC', 'ETH', 'SOL'];
// 2021-04-04 .. about 2021-09: the May 2021 crash is in it.
const BARS = 4000;

t.test('replay: every return trip is backed by the price move in the recorded candles', async (t) => {
  const b = new Breaker();
  const cfg = b.config;
  const series = new Map(BASES.map((base) => [`${base}/USDT`, loadCandles(base).slice(0, BARS)]));
  const times = [...new Set([...series.values()].flatMap((cs) => cs.map((c) => c.time)))].sort(
    (x, y) => x - y,
  );
  const index = new Map([...series].map(([s, cs]) => [s, new Map(cs.map((c, i) => [c.time, i]))]));
  const tripped: BreakerTripped[] = [];
  for (const time of times) {
    for (const [symbol, cs] of series) {
      const i = index.get(symbol)?.get(time);
      if (i === undefined) continue;
      const c = cs[i];
      if (!c) continue;
      for (const e of b.candle({ symbol, time, close: c.close, timeframeMs: HOUR }, time + HOUR))
        if (e.type === 'BreakerTripped') tripped.push(e);
    }
    for (const e of b.tick(time + HOUR)) if (e.type === 'BreakerTripped') tripped.push(e);
  }
  t.notOk(
    tripped.some((e) => e.inputs.some((r) => r.input === 'stale')),
    'a replay at bar close times is never stale',
  );
  const returnTrips = tripped.flatMap((e) =>
    e.inputs.filter((r) => r.input === 'return').map((r) => ({ e, r })),
  );
  t.ok(returnTrips.length > 0, 'the data has return trips (May 2021)');
  for (const { e, r } of returnTrips) {
    const cs = series.get(r.scope) ?? [];
    const i = cs.findIndex((c) => c.time + HOUR === e.at);
    t.ok(i >= cfg.returnBars, `${r.scope} bar at ${new Date(e.at).toISOString()}`);
    const ret = (k: number) => Math.log((cs[k]?.close ?? NaN) / (cs[k - cfg.returnBars]?.close ?? NaN));
    // The baseline: the same return over the previous baselineBars bars, recomputed by hand.
    const base: number[] = [];
    for (let k = Math.max(cfg.returnBars, i - cfg.baselineBars); k < i; k++) base.push(ret(k));
    const mean = base.reduce((s, x) => s + x, 0) / base.length;
    const std = Math.sqrt(base.reduce((s, x) => s + (x - mean) ** 2, 0) / base.length);
    const z = (ret(i) - mean) / std;
    t.ok(Math.abs(z - r.value) < 1e-6, `z ${r.value.toFixed(3)} recomputed as ${z.toFixed(3)}`);
    t.ok(Math.abs(z) >= cfg.returnZ.caution, 'past the caution threshold');
    const move =
      ret(i) < 0
        ? `fell ${((1 - Math.exp(ret(i))) * 100).toFixed(1)} %`
        : `rose ${((Math.exp(ret(i)) - 1) * 100).toFixed(1)} %`;
    t.equal(r.text, `${r.scope} ${move} in 2 h, ${Math.abs(z).toFixed(1)} σ`);
  }
});
