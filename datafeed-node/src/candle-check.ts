import { candleProblem, type Candle } from '@appliance/trading-core';

/** Candle times below this are taken as seconds since the epoch (1e11 ms is March 1973). */
export const MIN_TIME_MS = 1e11;

/** trading-core's candleProblem, and times in seconds refused; null for a sound candle. */
export function feedCandleProblem(c: Candle): string | null {
  return (
    candleProblem(c) ??
    (c.time < MIN_TIME_MS
      ? `time ${c.time} is in seconds, not milliseconds (times must be ms since 1970; below ${MIN_TIME_MS} is taken as seconds)`
      : null)
  );
}
