import { candleProblem, type Candle } from '@appliance/trading-core';
import { PaperExchangeError } from './errors.js';

/** The bar length the exchange is fed with, in ms. */
export const DEFAULT_CANDLE_INTERVAL_MS = 60_000;
/** Bars kept per symbol for klines and the 24h ticker; older ones are dropped. */
export const DEFAULT_MAX_CANDLES = 10_000;

const MINUTE = 60_000;
/**
 * Binance's kline intervals that are plain multiples of a fixed length. 3d, 1w and 1M are
 * aligned to calendar boundaries we do not model, so they are refused as invalid.
 */
export const INTERVALS: Readonly<Record<string, number>> = {
  '1s': 1_000,
  '1m': MINUTE,
  '3m': 3 * MINUTE,
  '5m': 5 * MINUTE,
  '15m': 15 * MINUTE,
  '30m': 30 * MINUTE,
  '1h': 60 * MINUTE,
  '2h': 120 * MINUTE,
  '4h': 240 * MINUTE,
  '6h': 360 * MINUTE,
  '8h': 480 * MINUTE,
  '12h': 720 * MINUTE,
  '1d': 1_440 * MINUTE,
};

/** A bar of any interval, built from the bars received. */
export interface Kline extends Candle {
  intervalMs: number;
  /** Σ close × volume of the bars inside; an estimate of the quote volume. */
  quoteVolume: number;
  /** Bars received inside this one. */
  bars: number;
}

export interface KlineQuery {
  intervalMs: number;
  startTime?: number;
  endTime?: number;
  limit: number;
}

export class CandleStore {
  private readonly history = new Map<string, Candle[]>();

  constructor(
    readonly intervalMs = DEFAULT_CANDLE_INTERVAL_MS,
    private readonly maxCandles = DEFAULT_MAX_CANDLES,
  ) {}

  /**
   * Appends a bar, or replaces the last one when it has the same time (a bar still forming).
   * An impossible bar throws; a bar older than the latest is ignored and returns false, since
   * an at-least-once bus redelivers old bars as a matter of course. Neither changes anything.
   */
  add(symbol: string, candle: Candle): boolean {
    const problem = candleProblem(candle);
    if (problem) throw new PaperExchangeError('PAPER_ERR_BAD_CANDLE', `candle for ${symbol}: ${problem}`);
    const bars = this.history.get(symbol) ?? [];
    const last = bars.at(-1);
    if (last && candle.time < last.time) return false;
    const { time, open, high, low, close, volume } = candle;
    const bar = { time, open, high, low, close, volume };
    if (last && candle.time === last.time) bars[bars.length - 1] = bar;
    else bars.push(bar);
    if (bars.length > this.maxCandles) bars.splice(0, bars.length - this.maxCandles);
    this.history.set(symbol, bars);
    return true;
  }

  latest(symbol: string): Candle | undefined {
    return this.history.get(symbol)?.at(-1);
  }

  /** Binance's selection: from startTime forwards when given, else the latest up to endTime. */
  klines(symbol: string, q: KlineQuery): Kline[] {
    const all = aggregate(this.history.get(symbol) ?? [], q.intervalMs).filter(
      (k) =>
        (q.startTime === undefined || k.time >= q.startTime) &&
        (q.endTime === undefined || k.time <= q.endTime),
    );
    return q.startTime !== undefined ? all.slice(0, q.limit) : all.slice(-q.limit);
  }

  /** The bars of the 24 hours up to and including the latest one. */
  lastDay(symbol: string): Candle[] {
    const bars = this.history.get(symbol) ?? [];
    const last = bars.at(-1);
    if (!last) return [];
    const from = last.time + this.intervalMs - 86_400_000;
    return bars.filter((b) => b.time >= from);
  }
}

function aggregate(bars: readonly Candle[], intervalMs: number): Kline[] {
  const out: Kline[] = [];
  for (const b of bars) {
    const time = Math.floor(b.time / intervalMs) * intervalMs;
    const k = out.at(-1);
    if (k && k.time === time) {
      k.high = Math.max(k.high, b.high);
      k.low = Math.min(k.low, b.low);
      k.close = b.close;
      k.volume += b.volume;
      k.quoteVolume += b.close * b.volume;
      k.bars += 1;
    } else {
      out.push({ ...b, time, intervalMs, quoteVolume: b.close * b.volume, bars: 1 });
    }
  }
  return out;
}
