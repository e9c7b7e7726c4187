// Every batch form against its incremental class on the real candles: equal bit for bit (NaN
// exactly where the class says undefined), so the fast loops can be trusted wherever the classes
// are checked against references. Plus the batch forms' own argument checks.
import t from 'tap';
import {
  Adx,
  adxSeries,
  Atr,
  atrSeries,
  Bollinger,
  bollingerSeries,
  Donchian,
  donchianSeries,
  Ema,
  emaSeries,
  Macd,
  macdSeries,
  RollingVwap,
  rollingVwapSeries,
  Rsi,
  rsiSeries,
  SessionVwap,
  sessionVwapSeries,
  Sma,
  smaSeries,
  trueRange,
  trueRangeSeries,
} from '../src/indicators/index.js';
import { loadCandles } from './helpers/ohlcv.js';
import { rangeError, throwsExactly } from './helpers/throws.js';

const SERIES = ['BTC', 'DOGE', 'XRP'].map((base) => {
  const candles = loadCandles(base);
  const col = (k: 'time' | 'high' | 'low' | 'close' | 'volume') => Float64Array.from(candles, (c) => c[k]);
  return {
    base,
    candles,
    time: col('time'),
    high: col('high'),
    low: col('low'),
    close: col('close'),
    volume: col('volume'),
  };
});
const PERIODS = [1, 2, 14, 50];

/** Counts where `batch` differs from what the class gave (undefined there is NaN here). */
function differences(batch: Float64Array, incremental: (number | undefined)[]): number {
  let wrong = batch.length === incremental.length ? 0 : Infinity;
  for (let i = 0; i < incremental.length; i++) if (!Object.is(batch[i], incremental[i] ?? NaN)) wrong++;
  return wrong;
}

t.test('smaSeries and emaSeries equal Sma and Ema bit for bit', async (t) => {
  for (const s of SERIES)
    for (const period of PERIODS) {
      const sma = new Sma(period);
      const ema = new Ema(period);
      t.equal(
        differences(
          smaSeries(s.volume, period),
          [...s.volume].map((x) => sma.update(x)),
        ),
        0,
      );
      t.equal(
        differences(
          emaSeries(s.close, period),
          [...s.close].map((x) => ema.update(x)),
        ),
        0,
      );
    }
});

t.test('rsiSeries, trueRangeSeries, atrSeries and adxSeries equal their classes bit for bit', async (t) => {
  for (const s of SERIES) {
    const tr = trueRangeSeries(s.high, s.low, s.close);
    t.equal(
      differences(
        tr,
        s.candles.map((c, i) => (i === 0 ? undefined : trueRange(c, s.close[i - 1]!))),
      ),
      0,
    );
    for (const period of PERIODS) {
      const rsi = new Rsi(period);
      const atr = new Atr(period);
      const adx = new Adx(period);
      t.equal(
        differences(
          rsiSeries(s.close, period),
          [...s.close].map((x) => rsi.update(x)),
        ),
        0,
      );
      t.equal(
        differences(
          atrSeries(s.high, s.low, s.close, period),
          s.candles.map((c) => atr.update(c)),
        ),
        0,
        `${s.base} ATR(${period})`,
      );
      const batch = adxSeries(s.high, s.low, s.close, period);
      const values = s.candles.map((c) => {
        const adxValue = adx.update(c);
        return { v: adx.value, adxValue, plusDi: adx.plusDi, minusDi: adx.minusDi, dx: adx.dx };
      });
      t.equal(
        differences(
          batch.adx,
          values.map((x) => x.v?.adx),
        ),
        0,
        `${s.base} ADX(${period})`,
      );
      t.equal(
        differences(
          batch.plusDi,
          values.map((x) => x.plusDi),
        ),
        0,
      );
      t.equal(
        differences(
          batch.minusDi,
          values.map((x) => x.minusDi),
        ),
        0,
      );
      t.equal(
        differences(
          batch.dx,
          values.map((x) => x.dx),
        ),
        0,
        `${s.base} DX(${period})`,
      );
      t.equal(
        differences(
          batch.dx,
          values.map((x) => x.v?.dx),
        ),
        2 * period - 1 - period,
        'value.dx',
      );
    }
  }
});

t.test('macdSeries and bollingerSeries equal Macd and Bollinger bit for bit', async (t) => {
  for (const s of SERIES) {
    for (const options of [
      { fast: 12, slow: 26, signal: 9 },
      { fast: 1, slow: 2, signal: 1 },
      { fast: 5, slow: 35, signal: 5 },
    ]) {
      const macd = new Macd(options);
      const batch = macdSeries(s.close, options);
      const values = [...s.close].map((x) => {
        const line = macd.update(x);
        return { line, macd: macd.macd, signal: macd.signal, histogram: macd.histogram };
      });
      t.equal(
        differences(
          batch.macd,
          values.map((v) => v.line),
        ),
        0,
        'update returns the MACD line',
      );
      const name = `${s.base} MACD(${options.fast}, ${options.slow}, ${options.signal})`;
      t.equal(
        differences(
          batch.macd,
          values.map((v) => v.macd),
        ),
        0,
        name,
      );
      t.equal(
        differences(
          batch.signal,
          values.map((v) => v.signal),
        ),
        0,
      );
      t.equal(
        differences(
          batch.histogram,
          values.map((v) => v.histogram),
        ),
        0,
      );
    }
    for (const [period, k] of [
      [1, 2],
      [2, 1],
      [20, 2],
      [50, 2.5],
    ] as const) {
      const b = new Bollinger(period, k);
      const batch = bollingerSeries(s.close, period, k);
      const values = [...s.close].map((x) => {
        const middle = b.update(x);
        return { returned: middle, middle: b.middle, upper: b.upper, lower: b.lower, stdDev: b.stdDev };
      });
      t.equal(
        differences(
          batch.middle,
          values.map((v) => v.returned),
        ),
        0,
        'update returns the middle band',
      );
      for (const key of ['middle', 'upper', 'lower', 'stdDev'] as const)
        t.equal(
          differences(
            batch[key],
            values.map((v) => v[key]),
          ),
          0,
          `${s.base} BB(${period}, ${k}) ${key}`,
        );
    }
  }
});

t.test('donchianSeries and the VWAP series equal their classes bit for bit', async (t) => {
  for (const s of SERIES) {
    for (const period of [...PERIODS, 3, 7]) {
      const d = new Donchian(period);
      const batch = donchianSeries(s.high, s.low, period);
      const values = s.candles.map((c) => {
        const middle = d.update(c);
        return { returned: middle, upper: d.upper, lower: d.lower, middle: d.middle };
      });
      t.equal(
        differences(
          batch.middle,
          values.map((v) => v.returned),
        ),
        0,
        'update returns the middle line',
      );
      for (const key of ['upper', 'lower', 'middle'] as const)
        t.equal(
          differences(
            batch[key],
            values.map((v) => v[key]),
          ),
          0,
          `${s.base} Donchian(${period}) ${key}`,
        );
      const rolling = new RollingVwap(period);
      t.equal(
        differences(
          rollingVwapSeries(s.high, s.low, s.close, s.volume, period),
          s.candles.map((c) => rolling.update(c)),
        ),
        0,
        `${s.base} rolling VWAP(${period})`,
      );
    }
    for (const sessionMs of [86_400_000, 4 * 3_600_000]) {
      const session = new SessionVwap(sessionMs);
      t.equal(
        differences(
          sessionVwapSeries(s.time, s.high, s.low, s.close, s.volume, sessionMs),
          s.candles.map((c) => session.update(c)),
        ),
        0,
        `${s.base} session VWAP(${sessionMs} ms)`,
      );
    }
  }
});

t.test('short series are all warm-up, and bad arguments are refused', async (t) => {
  const x = Float64Array.of(1, 2, 3);
  for (const out of [
    smaSeries(x, 4),
    emaSeries(x, 4),
    rsiSeries(x, 3),
    atrSeries(x, x, x, 3),
    adxSeries(x, x, x, 2).adx,
    macdSeries(x, { fast: 1, slow: 2, signal: 3 }).macd,
    bollingerSeries(x, 4).upper,
    donchianSeries(x, x, 4).upper,
    rollingVwapSeries(x, x, x, x, 4),
  ])
    t.same([...out].map(Number.isNaN), [true, true, true]);
  t.same([...smaSeries(new Float64Array(0), 3)], []);
  throwsExactly(t, () => smaSeries(x, 0), rangeError('smaSeries: period must be a positive integer, got 0'));
  throwsExactly(
    t,
    () => adxSeries(x, x, Float64Array.of(1), 2),
    rangeError('adxSeries: high, low and close differ in length (3, 3, 1)'),
  );
  throwsExactly(
    t,
    () => donchianSeries(x, Float64Array.of(1), 2),
    rangeError('donchianSeries: high and low differ in length (3, 1)'),
  );
  throwsExactly(
    t,
    () => macdSeries(x, { fast: 3, slow: 3, signal: 1 }),
    rangeError('macdSeries: the fast period (3) must be shorter than the slow one (3)'),
  );
  throwsExactly(
    t,
    () => bollingerSeries(x, 2, -1),
    rangeError('bollingerSeries: multiplier must be a positive number, got -1'),
  );
  throwsExactly(
    t,
    () =>
      sessionVwapSeries(
        Float64Array.of(86_400_000, 0),
        x.subarray(1),
        x.subarray(1),
        x.subarray(1),
        x.subarray(1),
      ),
    rangeError('sessionVwapSeries: bar at 0 is in a session before the current one'),
  );
});
