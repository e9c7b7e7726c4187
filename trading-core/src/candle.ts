/** One OHLCV bar. `time` is the bar's open time in ms since the epoch, UTC. */
export interface Candle {
  time: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
}

/** Why a candle is impossible, or null when it is sound. Pure: used by every data source. */
export function candleProblem(c: Candle): string | null {
  for (const k of ['time', 'open', 'high', 'low', 'close', 'volume'] as const) {
    if (!Number.isFinite(c[k])) return `${k} is not a finite number`;
  }
  if (!Number.isInteger(c.time) || c.time < 0) return 'time must be a non-negative integer (ms)';
  if (c.open <= 0 || c.high <= 0 || c.low <= 0 || c.close <= 0) return 'prices must be > 0';
  if (c.volume < 0) return 'volume must be >= 0';
  if (c.low > Math.min(c.open, c.close) || c.high < Math.max(c.open, c.close)) {
    return 'low <= min(open, close) <= max(open, close) <= high does not hold';
  }
  return null;
}
