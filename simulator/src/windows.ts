import type { Candle } from '@appliance/trading-core';

/**
 * The calendar windows every strategy is backtested over, shortest first. Each ends at the same
 * moment, so the shorter ones are the recent part of the longer ones.
 */
export const WINDOWS = ['1m', '3m', '6m', '1y'] as const;

export type Window = (typeof WINDOWS)[number];

/** A half-open span of time in ms since the epoch: start <= time < end. */
export interface TimeRange {
  start: number;
  end: number;
}

/** Whole UTC calendar months in each window; a year is twelve of them. */
export const WINDOW_MONTHS: Readonly<Record<Window, number>> = { '1m': 1, '3m': 3, '6m': 6, '1y': 12 };

/**
 * The window ending at `end` (exclusive, ms): from the same UTC day of the month and time of day,
 * whole calendar months earlier. A day the earlier month does not have is clamped to its last
 * day, so a month back from 31 March is 28 or 29 February, and a year back from 29 February is
 * 28 February.
 */
export function windowRange(end: number, window: Window): TimeRange {
  if (!Number.isSafeInteger(end)) throw new RangeError(`windowRange: end must be integer ms, got ${end}`);
  const months = WINDOW_MONTHS[window];
  if (months === undefined) throw new RangeError(`windowRange: unknown window ${String(window)}`);
  return { start: monthsBefore(end, months), end };
}

function monthsBefore(time: number, months: number): number {
  const at = new Date(time);
  const timeOfDay = time - Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate());
  // Date.UTC carries month -3 into the year before; day 0 of the month after is the last day.
  const year = at.getUTCFullYear();
  const month = at.getUTCMonth() - months;
  const lastDay = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  return Date.UTC(year, month, Math.min(at.getUTCDate(), lastDay)) + timeOfDay;
}

/**
 * The candles with range.start <= time < range.end, by binary search over candles sorted by
 * time (as data-check leaves them). A slice of the array: no candle is copied.
 */
export function sliceWindow<C extends Pick<Candle, 'time'>>(candles: readonly C[], range: TimeRange): C[] {
  return candles.slice(firstAtOrAfter(candles, range.start), firstAtOrAfter(candles, range.end));
}

/** Index of the first candle with time >= t, or candles.length. */
function firstAtOrAfter(candles: readonly Pick<Candle, 'time'>[], t: number): number {
  let lo = 0;
  let hi = candles.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (candles[mid]!.time < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The spacing of a series: the most common positive step between consecutive open times (the
 * smallest of equally common ones), so a few gaps do not change it. Null with fewer than two
 * distinct times.
 */
export function inferTimeframe(candles: readonly Pick<Candle, 'time'>[]): number | null {
  const counts = new Map<number, number>();
  for (let i = 1; i < candles.length; i++) {
    const step = candles[i]!.time - candles[i - 1]!.time;
    if (step > 0) counts.set(step, (counts.get(step) ?? 0) + 1);
  }
  let best: number | null = null;
  let bestCount = 0;
  for (const [step, count] of counts) {
    if (count > bestCount || (count === bestCount && best !== null && step < best)) {
      best = step;
      bestCount = count;
    }
  }
  return best;
}

/**
 * The end the windows take when none is given: just after the last candle closes (its open time
 * plus one timeframe), so the last candle is inside every window.
 */
export function defaultWindowEnd(candles: readonly Pick<Candle, 'time'>[], timeframeMs: number): number {
  const last = candles[candles.length - 1];
  if (last === undefined) throw new RangeError('defaultWindowEnd: no candles');
  if (!(timeframeMs > 0))
    throw new RangeError(`defaultWindowEnd: timeframe must be > 0 ms, got ${timeframeMs}`);
  return last.time + timeframeMs;
}

/**
 * How many candles a complete series has in the range: whole timeframes that fit in it (rounded
 * down, for a timeframe such as a week that does not divide a month).
 */
export function expectedCandles(range: TimeRange, timeframeMs: number): number {
  if (!(timeframeMs > 0))
    throw new RangeError(`expectedCandles: timeframe must be > 0 ms, got ${timeframeMs}`);
  return Math.max(0, Math.floor((range.end - range.start) / timeframeMs));
}
