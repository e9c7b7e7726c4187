import { readFileSync } from 'node:fs';
import type { Candle } from '../../src/candle.js';

/** The recorded candles live outside the repository (see SOURCES.md there); never copied in. */
const OHLCV_DIR = new URL('../../../../shared/data/ohlcv/', import.meta.url);

/** Parses `binance_<BASE>-USDT_1h.csv`, checking the header so a changed file fails loudly. */
export function loadCandles(base: string): Candle[] {
  const text = readFileSync(new URL(`binance_${base}-USDT_1h.csv`, OHLCV_DIR), 'utf8');
  const [header, ...rows] = text.trim().split('\n');
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
