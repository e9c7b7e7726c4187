import type { Candle } from '../../src/candle.js';

const HOUR = 3_600_000;

/** The i-th hourly candle of a hand-made series that opens, trades and closes at one price. */
export const flat = (i: number, close: number): Candle => ({
  time: i * HOUR,
  open: close,
  high: close,
  low: close,
  close,
  volume: 1,
});
