import { readFileSync } from 'node:fs';
import t from 'tap';
import type { Candle } from '@appliance/trading-core';
import {
  WINDOWS,
  defaultWindowEnd,
  expectedCandles,
  inferTimeframe,
  sliceWindow,
  windowRange,
} from '../src/windows.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const utc = (y: number, m: number, d: number, h = 0): number => Date.UTC(y, m - 1, d, h);

t.test('a window starts the same UTC day and time of day whole months earlier', async (t) => {
  const end = utc(2024, 5, 15, 19);
  t.strictSame(windowRange(end, '1m'), { start: utc(2024, 4, 15, 19), end });
  t.strictSame(windowRange(end, '3m'), { start: utc(2024, 2, 15, 19), end });
  t.strictSame(windowRange(end, '6m'), { start: utc(2023, 11, 15, 19), end }, 'across a year boundary');
  t.strictSame(windowRange(end, '1y'), { start: utc(2023, 5, 15, 19), end });
});

t.test('a day the earlier month lacks is clamped to its last day', async (t) => {
  t.equal(windowRange(utc(2024, 3, 31), '1m').start, utc(2024, 2, 29), 'leap February');
  t.equal(windowRange(utc(2023, 3, 31), '1m').start, utc(2023, 2, 28));
  t.equal(windowRange(utc(2024, 5, 31, 7), '6m').start, utc(2023, 11, 30, 7), 'time of day kept');
  t.equal(windowRange(utc(2024, 2, 29), '1y').start, utc(2023, 2, 28));
  t.equal(windowRange(utc(2024, 1, 31), '1m').start, utc(2023, 12, 31));
});

t.test('windows are listed shortest first', async (t) => {
  t.strictSame([...WINDOWS], ['1m', '3m', '6m', '1y']);
});

t.test('sliceWindow keeps start <= time < end by binary search', async (t) => {
  const candles = [0, 1, 2, 3, 5, 8].map((h) => ({ time: h * HOUR }));
  t.strictSame(
    sliceWindow(candles, { start: 1 * HOUR, end: 5 * HOUR }).map((c) => c.time / HOUR),
    [1, 2, 3],
    'start included, end excluded',
  );
  t.strictSame(
    sliceWindow(candles, { start: 4 * HOUR, end: 9 * HOUR }).map((c) => c.time / HOUR),
    [5, 8],
  );
  t.strictSame(sliceWindow(candles, { start: 9 * HOUR, end: 10 * HOUR }), []);
  t.strictSame(sliceWindow([], { start: 0, end: HOUR }), []);
});

t.test('the timeframe is the most common step, so gaps do not change it', async (t) => {
  t.equal(inferTimeframe([0, 1, 2, 5, 6, 7].map((h) => ({ time: h * HOUR }))), HOUR);
  t.equal(inferTimeframe([{ time: 0 }]), null);
});

t.test('the default end is the last open plus one timeframe', async (t) => {
  t.equal(defaultWindowEnd([{ time: 0 }, { time: HOUR }], HOUR), 2 * HOUR);
  t.throws(() => defaultWindowEnd([], HOUR), { message: 'defaultWindowEnd: no candles' });
});

/** The recorded candles live outside the repository (trading-core/test/helpers/ohlcv.ts reads them the same way). */
function loadBtc(): Candle[] {
  const url = new URL('../../../shared/data/ohlcv/binance_BTC-USDT_1h.csv', import.meta.url);
  const [header, ...rows] = readFileSync(url, 'utf8').trim().split('\n');
  if (header !== 'time,open,high,low,close,volume') throw new Error(`unexpected header: ${header}`);
  return rows.map((row) => {
    const [time, open, high, low, close, volume] = row.split(',').map(Number) as [
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    return { time, open, high, low, close, volume };
  });
}

t.test('the four windows ending at the real BTC file’s last candle have the expected counts', async (t) => {
  const btc = loadBtc();
  t.equal(inferTimeframe(btc), HOUR);
  const end = defaultWindowEnd(btc, HOUR);
  // The last candle opens 2023-12-30 18:00 UTC, so the windows end at 19:00 that day.
  t.equal(end, utc(2023, 12, 30, 19));
  // Days back from 30 Dec: to 30 Nov 30 days; to 30 Sep 30 + 31 + 30 = 91; to 30 Jun
  // 91 + 31 + 31 + 30 = 183; to 30 Dec 2022 365. One hourly candle a day-hour: days × 24.
  const days = { '1m': 30, '3m': 91, '6m': 183, '1y': 365 } as const;
  for (const w of WINDOWS) {
    const range = windowRange(end, w);
    t.equal(range.end - range.start, days[w] * DAY, `${w} spans ${days[w]} days`);
    t.equal(expectedCandles(range, HOUR), days[w] * 24, `${w} expects ${days[w] * 24} candles`);
  }
  const counts = Object.fromEntries(WINDOWS.map((w) => [w, sliceWindow(btc, windowRange(end, w)).length]));
  // The file misses one hourly candle in that year, 2023-03-24 13:00 UTC: its lines 17239 and
  // 17240 are two hours apart.
  t.strictSame(counts, { '1m': 720, '3m': 2184, '6m': 4392, '1y': 8759 });
  const year = sliceWindow(btc, windowRange(end, '1y'));
  t.equal(year[0]!.time, utc(2022, 12, 30, 19), 'the year starts at its first hour');
  t.equal(year[year.length - 1]!.time, btc[btc.length - 1]!.time, 'and ends with the last candle');
});
