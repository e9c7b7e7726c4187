import t from 'tap';
import type { Candle } from '@appliance/trading-core';
import { DATA_ERROR_CODES, DataError, checkCandles, usableCandles } from '../src/data-check.js';
import { throwsExactly } from './helpers/assert.js';

const HOUR = 3_600_000;
const T0 = Date.UTC(2024, 0, 1);
const c = (h: number, close = 100 + h, extra: Partial<Candle> = {}): Candle => ({
  time: T0 + h * HOUR,
  open: close,
  high: close + 1,
  low: close - 1,
  close,
  volume: 10,
  ...extra,
});
const hours = (candles: readonly Candle[]): number[] => candles.map((x) => (x.time - T0) / HOUR);

t.test('a clean series passes untouched', async (t) => {
  const rows = [0, 1, 2, 3].map((h) => c(h));
  const check = checkCandles(rows);
  t.strictSame(check, { candles: rows, problems: [], refused: false, refusal: null, timeframeMs: HOUR });
});

t.test('gaps are reported at the row after them and left unfilled', async (t) => {
  const check = checkCandles([c(0), c(1), c(2), c(5), c(6)], { firstRow: 2 });
  t.strictSame(check.problems, [
    {
      row: 5,
      kind: 'gap',
      detail: '2 candles missing between 2024-01-01T02:00:00.000Z and 2024-01-01T05:00:00.000Z',
    },
  ]);
  t.equal(check.refused, false);
  t.strictSame(hours(check.candles), [0, 1, 2, 5, 6], 'nothing invented');
});

t.test('a time off the grid is reported', async (t) => {
  const rows = [c(0), c(1), c(2), { ...c(3), time: T0 + 3 * HOUR + 60_000 }, c(4), c(5)];
  const check = checkCandles(rows);
  t.strictSame(
    check.problems.map((p) => [p.row, p.kind]),
    [[4, 'off-grid']],
  );
  t.equal(check.refused, false);
});

t.test('unsorted rows are reported with their row and sorted', async (t) => {
  const check = checkCandles([c(0), c(2), c(1), c(3)]);
  t.strictSame(check.problems, [
    {
      row: 3,
      kind: 'unsorted',
      detail: "time 2024-01-01T01:00:00.000Z is before the previous row's 2024-01-01T02:00:00.000Z",
    },
  ]);
  t.strictSame(hours(check.candles), [0, 1, 2, 3]);
});

t.test('an exact duplicate is dropped; a conflicting one refuses the file', async (t) => {
  const exact = checkCandles([c(0), c(1), c(1), c(2)]);
  t.strictSame(exact.problems, [{ row: 3, kind: 'duplicate', detail: 'repeats row 2 exactly; dropped' }]);
  t.strictSame(hours(exact.candles), [0, 1, 2]);

  const rows = [c(0), c(1), c(1, 105), c(2)];
  const conflicting = checkCandles(rows);
  t.strictSame(conflicting.problems, [
    {
      row: 3,
      kind: 'conflicting-duplicate',
      detail: 'same time 2024-01-01T01:00:00.000Z as row 2, other values',
    },
  ]);
  t.equal(conflicting.refused, true);
  t.equal(conflicting.refusal, 'E_CONFLICTING_DUPLICATE');
  t.strictSame(conflicting.candles, [], 'nothing usable from a refused file');
  throwsExactly(t, () => usableCandles(rows), {
    name: 'DataError',
    code: 'E_CONFLICTING_DUPLICATE',
    message: 'candles refused: row 3: same time 2024-01-01T01:00:00.000Z as row 2, other values',
  });
});

t.test('a zero or negative price refuses the file', async (t) => {
  const rows = [c(0), c(1, 100, { low: 0 }), c(2, 100, { open: -1 })];
  const check = checkCandles(rows, { firstRow: 2 });
  t.strictSame(
    check.problems.filter((p) => p.kind === 'non-positive-price'),
    [
      { row: 3, kind: 'non-positive-price', detail: 'low 0 must be > 0' },
      { row: 4, kind: 'non-positive-price', detail: 'open -1 must be > 0' },
    ],
  );
  t.equal(check.refusal, 'E_NON_POSITIVE_PRICE');
  throwsExactly(t, () => usableCandles([c(0), c(1, 100, { close: 0, low: 0 })]), {
    code: 'E_NON_POSITIVE_PRICE',
    message: 'candles refused: row 2: low 0, close 0 must be > 0',
  });
});

t.test('high and low that do not bound open and close refuse the file', async (t) => {
  const check = checkCandles([c(0), c(1, 100, { high: 99.5 })]);
  t.strictSame(check.problems, [
    {
      row: 2,
      kind: 'high-low',
      detail: 'low 99 <= min(open 100, close 100) <= max <= high 99.5 does not hold',
    },
  ]);
  t.equal(check.refusal, 'E_HIGH_LOW');
});

t.test('a field that is not a number refuses the file', async (t) => {
  const check = checkCandles([c(0), c(1, 100, { volume: NaN }), c(2, 100, { volume: -3 })]);
  t.strictSame(check.problems, [
    { row: 2, kind: 'bad-number', detail: 'volume NaN is not a finite number' },
    { row: 3, kind: 'bad-number', detail: 'volume -3 is negative' },
  ]);
  t.equal(check.refusal, 'E_BAD_NUMBER');
});

t.test('timestamps all in seconds or all in microseconds are converted to ms', async (t) => {
  const rows = [c(0), c(1), c(2)];
  const seconds = checkCandles(rows.map((x) => ({ ...x, time: x.time / 1000 })));
  t.strictSame(seconds.problems, [
    { row: 1, kind: 'time-unit', detail: 'every time is in seconds; converted to milliseconds' },
  ]);
  t.strictSame(seconds.candles, rows);
  t.equal(seconds.timeframeMs, HOUR);
  const micro = checkCandles(rows.map((x) => ({ ...x, time: x.time * 1000 })));
  t.strictSame(micro.problems, [
    { row: 1, kind: 'time-unit', detail: 'every time is in microseconds; converted to milliseconds' },
  ]);
  t.strictSame(micro.candles, rows);
});

t.test('timestamps in mixed units refuse the file, naming the odd rows', async (t) => {
  const rows = [c(0), { ...c(1), time: (T0 + HOUR) / 1000 }, c(2), c(3)];
  const check = checkCandles(rows);
  t.strictSame(check.problems, [
    {
      row: 2,
      kind: 'mixed-time-units',
      detail: `time ${(T0 + HOUR) / 1000} is in seconds, most rows in milliseconds`,
    },
  ]);
  t.equal(check.refusal, 'E_TIME_UNIT');
  const nanos = checkCandles([{ ...c(0), time: T0 * 1e6 }]);
  t.equal(nanos.refusal, 'E_TIME_UNIT', 'nanoseconds are no unit we convert');
});

t.test('an empty file is refused by usableCandles', async (t) => {
  t.strictSame(checkCandles([]).candles, []);
  throwsExactly(t, () => usableCandles([]), {
    code: 'E_NO_CANDLES',
    message: 'candles refused: there are none',
  });
});

t.test('every refusal code is documented in one table', async (t) => {
  t.strictSame(Object.keys(DATA_ERROR_CODES).sort(), [
    'E_BAD_NUMBER',
    'E_CONFLICTING_DUPLICATE',
    'E_HIGH_LOW',
    'E_NON_POSITIVE_PRICE',
    'E_NO_CANDLES',
    'E_TIME_UNIT',
  ]);
  t.ok(DataError.is(new DataError('E_HIGH_LOW'), 'E_HIGH_LOW'));
  t.equal(new DataError('E_HIGH_LOW').message, 'high and low do not bound open and close');
});
