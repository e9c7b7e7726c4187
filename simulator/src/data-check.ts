import { errorClass } from '@appliance/errors';
import type { Candle } from '@appliance/trading-core';
import { inferTimeframe } from './windows.js';

/** Every way a candle file can be refused, as a stable code with its plain meaning. */
export const DATA_ERROR_CODES = {
  E_NON_POSITIVE_PRICE: 'a price is zero or negative',
  E_BAD_NUMBER: 'a field is not a finite number, or a volume is negative',
  E_HIGH_LOW: 'high and low do not bound open and close',
  E_CONFLICTING_DUPLICATE: 'two rows have the same time and different values',
  E_TIME_UNIT: 'timestamps are in more than one unit, or in none we know',
  E_NO_CANDLES: 'there are no candles',
} as const;

export type DataErrorCode = keyof typeof DATA_ERROR_CODES;

/** A candle file the simulator will not run on; nothing is repaired half-way. */
export class DataError extends errorClass('DataError', DATA_ERROR_CODES) {
  constructor(code: DataErrorCode, message?: string) {
    super(code, message);
  }
}

export type ProblemKind =
  | 'time-unit'
  | 'mixed-time-units'
  | 'bad-time'
  | 'bad-number'
  | 'non-positive-price'
  | 'high-low'
  | 'unsorted'
  | 'duplicate'
  | 'conflicting-duplicate'
  | 'gap'
  | 'off-grid';

export interface DataProblem {
  /** Row number in the input, 1 for the first candle (plus `firstRow - 1`). */
  row: number;
  kind: ProblemKind;
  detail: string;
}

export interface DataCheck {
  /** The repaired series, sorted, in ms; empty when refused. */
  candles: Candle[];
  problems: DataProblem[];
  refused: boolean;
  /** The first refusal's code, or null. */
  refusal: DataErrorCode | null;
  /** The inferred timeframe in ms, null with fewer than two candles. */
  timeframeMs: number | null;
}

export interface DataCheckOptions {
  /** Row number of the first candle, e.g. 2 for a CSV file with a header line. Default 1. */
  firstRow?: number;
}

/** Which problems refuse the file, and with which code; the rest are reported and repaired. */
const REFUSES: Partial<Record<ProblemKind, DataErrorCode>> = {
  'mixed-time-units': 'E_TIME_UNIT',
  'bad-time': 'E_TIME_UNIT',
  'bad-number': 'E_BAD_NUMBER',
  'non-positive-price': 'E_NON_POSITIVE_PRICE',
  'high-low': 'E_HIGH_LOW',
  'conflicting-duplicate': 'E_CONFLICTING_DUPLICATE',
};

type Unit = 's' | 'ms' | 'us';
const TO_MS: Record<Unit, number> = { s: 1000, ms: 1, us: 0.001 };
const UNIT_NAME: Record<Unit, string> = { s: 'seconds', ms: 'milliseconds', us: 'microseconds' };

/**
 * The unit a timestamp of the years 1973 to 5138 is in: below 1e11 it can only be seconds (1e11
 * ms is March 1973), from 1e14 on only microseconds (1e14 ms is the year 5138). Null beyond
 * 1e17 µs (nanoseconds, or nonsense).
 */
function unitOf(t: number): Unit | null {
  if (t < 1e11) return 's';
  if (t < 1e14) return 'ms';
  if (t < 1e17) return 'us';
  return null;
}

/**
 * Checks a candle series as read from a file, in file order, and repairs what can be repaired
 * without guessing:
 *
 * - timestamps all in seconds or all in microseconds are converted to ms (reported once); a
 *   mix of units, or a time that is not a whole ms after conversion, refuses the file;
 * - rows out of order are reported and sorted;
 * - a row repeating another exactly is reported and dropped; two rows with the same time and
 *   different values refuse the file (which one is right is a guess);
 * - a zero or negative price, a non-finite field, a negative volume, or a high and low that do
 *   not bound open and close refuse the file: no candle is invented or altered;
 * - gaps (missing candles against the inferred timeframe) and times off that grid are reported
 *   and left as they are: a window with a gap is still usable if it has enough candles.
 *
 * Every problem carries the input row it was found at. Pure: `usableCandles` throws instead.
 */
export function checkCandles(rows: readonly Candle[], options: DataCheckOptions = {}): DataCheck {
  const offset = (options.firstRow ?? 1) - 1;
  const problems: DataProblem[] = [];
  const report = (index: number, kind: ProblemKind, detail: string): void => {
    problems.push({ row: index + 1 + offset, kind, detail });
  };

  rows.forEach((c, i) => rowProblems(c, i, report));
  const scale = timeScale(rows, report);

  // Without usable times, order, duplicates and gaps would only be noise about the same fault.
  if (scale === null || problems.some((p) => p.kind === 'bad-time')) return finish(problems, [], null);
  // Rows with their input index, in ms, for sorting and for naming rows after it.
  const indexed = rows.map((c, index) => ({
    index,
    candle: scale === 1 ? c : { ...c, time: c.time * scale },
  }));
  for (const { index, candle } of indexed) {
    if (!Number.isInteger(candle.time))
      report(
        index,
        'bad-time',
        `time ${rows[index]!.time} is not a whole number of ms${scale === 1 ? '' : ' once converted'}`,
      );
  }
  if (problems.some((p) => p.kind === 'bad-time')) return finish(problems, [], null);
  for (let i = 1; i < indexed.length; i++) {
    const t = indexed[i]!.candle.time;
    const previous = indexed[i - 1]!.candle.time;
    if (t < previous) report(i, 'unsorted', `time ${iso(t)} is before the previous row's ${iso(previous)}`);
  }
  // A stable sort: of duplicates, the first in the file is kept.
  indexed.sort((a, b) => a.candle.time - b.candle.time);

  const kept: { index: number; candle: Candle }[] = [];
  for (const entry of indexed) {
    const last = kept[kept.length - 1];
    if (last !== undefined && last.candle.time === entry.candle.time) {
      const row = last.index + 1 + offset;
      if (sameCandle(last.candle, entry.candle))
        report(entry.index, 'duplicate', `repeats row ${row} exactly; dropped`);
      else
        report(
          entry.index,
          'conflicting-duplicate',
          `same time ${iso(entry.candle.time)} as row ${row}, other values`,
        );
      continue;
    }
    kept.push(entry);
  }

  const timeframeMs = inferTimeframe(kept.map((e) => e.candle));
  if (timeframeMs !== null) gapProblems(kept, timeframeMs, report);

  return finish(
    problems,
    kept.map((e) => e.candle),
    timeframeMs,
  );
}

/** Problems in row order; no candles when any of them refuses the file. */
function finish(problems: DataProblem[], candles: Candle[], timeframeMs: number | null): DataCheck {
  problems.sort((a, b) => a.row - b.row);
  const refusing = problems.find((p) => REFUSES[p.kind] !== undefined);
  const refusal = refusing === undefined ? null : REFUSES[refusing.kind]!;
  return {
    candles: refusal === null ? candles : [],
    problems,
    refused: refusal !== null,
    refusal,
    timeframeMs,
  };
}

/**
 * checkCandles' repaired candles, or a DataError with the code of the first refusing problem
 * (or E_NO_CANDLES) and every refusing problem with its row in the message.
 */
export function usableCandles(rows: readonly Candle[], options: DataCheckOptions = {}): DataCheck {
  const check = checkCandles(rows, options);
  if (check.refusal !== null) {
    const reasons = check.problems
      .filter((p) => REFUSES[p.kind] !== undefined)
      .map((p) => `row ${p.row}: ${p.detail}`);
    throw new DataError(check.refusal, `candles refused: ${reasons.join('; ')}`);
  }
  if (check.candles.length === 0) throw new DataError('E_NO_CANDLES', 'candles refused: there are none');
  return check;
}

type Report = (index: number, kind: ProblemKind, detail: string) => void;

function rowProblems(c: Candle, i: number, report: Report): void {
  if (!(Number.isFinite(c.time) && c.time >= 0)) {
    report(i, 'bad-time', `time ${String(c.time)} is not a non-negative number`);
  }
  const prices = (['open', 'high', 'low', 'close'] as const).filter((k) => Number.isFinite(c[k]));
  for (const k of ['open', 'high', 'low', 'close', 'volume'] as const) {
    if (!Number.isFinite(c[k])) report(i, 'bad-number', `${k} ${String(c[k])} is not a finite number`);
  }
  if (Number.isFinite(c.volume) && c.volume < 0) report(i, 'bad-number', `volume ${c.volume} is negative`);
  const nonPositive = prices.filter((k) => c[k] <= 0);
  if (nonPositive.length > 0)
    report(i, 'non-positive-price', nonPositive.map((k) => `${k} ${c[k]}`).join(', ') + ' must be > 0');
  if (prices.length === 4 && (c.low > Math.min(c.open, c.close) || c.high < Math.max(c.open, c.close)))
    report(
      i,
      'high-low',
      `low ${c.low} <= min(open ${c.open}, close ${c.close}) <= max <= high ${c.high} does not hold`,
    );
}

/**
 * The factor to ms when every usable timestamp is in one unit (1 for ms); null, with a
 * problem, when they are in several or in none we know.
 */
function timeScale(rows: readonly Candle[], report: Report): number | null {
  const byUnit = new Map<Unit | null, number[]>();
  rows.forEach((c, i) => {
    if (!(Number.isFinite(c.time) && c.time >= 0)) return;
    const unit = unitOf(c.time);
    const list = byUnit.get(unit) ?? [];
    list.push(i);
    byUnit.set(unit, list);
  });
  if (byUnit.size === 0) return 1;
  const unknown = byUnit.get(null);
  if (unknown !== undefined) {
    for (const i of unknown) report(i, 'bad-time', `time ${rows[i]!.time} is in no unit we know (ns?)`);
    return null;
  }
  if (byUnit.size > 1) {
    // Name the rows outside the most common unit: those are the odd ones.
    const [major] = [...byUnit.entries()].sort((a, b) => b[1].length - a[1].length)[0]!;
    for (const [unit, indexes] of byUnit) {
      if (unit === major) continue;
      for (const i of indexes)
        report(
          i,
          'mixed-time-units',
          `time ${rows[i]!.time} is in ${UNIT_NAME[unit!]}, most rows in ${UNIT_NAME[major!]}`,
        );
    }
    return null;
  }
  const [unit] = [...byUnit.keys()] as [Unit];
  if (unit !== 'ms') report(0, 'time-unit', `every time is in ${UNIT_NAME[unit]}; converted to milliseconds`);
  return TO_MS[unit];
}

function gapProblems(
  kept: readonly { index: number; candle: Candle }[],
  timeframeMs: number,
  report: Report,
): void {
  const anchor = kept[0]!.candle.time;
  for (let i = 1; i < kept.length; i++) {
    const { index, candle } = kept[i]!;
    const previous = kept[i - 1]!.candle.time;
    const step = candle.time - previous;
    if ((candle.time - anchor) % timeframeMs !== 0) {
      report(
        index,
        'off-grid',
        `time ${iso(candle.time)} is off the ${timeframeMs} ms grid of the first candle`,
      );
    } else if (step > timeframeMs) {
      const missing = step / timeframeMs - 1;
      report(
        index,
        'gap',
        `${missing} candle${missing === 1 ? '' : 's'} missing between ${iso(previous)} and ${iso(candle.time)}`,
      );
    }
  }
}

function sameCandle(a: Candle, b: Candle): boolean {
  return (
    a.time === b.time &&
    a.open === b.open &&
    a.high === b.high &&
    a.low === b.low &&
    a.close === b.close &&
    a.volume === b.volume
  );
}

function iso(t: number): string {
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? String(t) : d.toISOString();
}
