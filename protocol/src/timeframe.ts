/**
 * A candle timeframe as the bus, the datafeed, the simulator and the breaker spell it: a count of
 * 1 to 9999 and a unit, `m`, `h` or `d` (`1m`, `15m`, `1h`, `4h`, `1d`). The one definition, so a
 * timeframe one process accepts is one every other can read.
 */
export const TIMEFRAME = /^([1-9]\d{0,3})([mhd])$/;

const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** The length of one bar of `timeframe` in ms; undefined for anything `TIMEFRAME` refuses. */
export function timeframeMs(timeframe: string): number | undefined {
  const m = TIMEFRAME.exec(timeframe);
  return m === null ? undefined : Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
}
