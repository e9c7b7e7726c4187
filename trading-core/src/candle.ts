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
  // The common case in a handful of comparisons: a backtest checks every candle it reads.
  if (isSoundCandle(c)) return null;
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

/**
 * True only for a sound candle (candleProblem null), in a handful of comparisons a hot loop can
 * inline; false sends candleProblem to the slow path that says why. Every
 * comparison with NaN is false, and high < Infinity bounds every price (low <= open, close <= high).
 */
export function isSoundCandle(c: Candle): boolean {
  const { time, open, high, low, close, volume } = c;
  return (
    typeof time === 'number' &&
    typeof open === 'number' &&
    typeof high === 'number' &&
    typeof low === 'number' &&
    typeof close === 'number' &&
    typeof volume === 'number' &&
    Number.isInteger(time) &&
    time >= 0 &&
    low > 0 &&
    low <= open &&
    low <= close &&
    open <= high &&
    close <= high &&
    high < Infinity &&
    volume >= 0 &&
    volume < Infinity
  );
}
