import type { Candle } from '../candle.js';

export type StrategyAction = 'buy' | 'sell';

/**
 * One trading algorithm fed one symbol's closed candles in order. It says what it wants; it
 * does not know the portfolio, so "sell" while flat is fine and the caller ignores it.
 */
export interface Strategy {
  /** Stable kebab-case name, e.g. `ema-cross-volume`. */
  readonly name: string;
  /**
   * `<name>/<n>`, stamped on every signal as `algoVersion`. Bump `n` whenever the same candles
   * could produce different actions, so clients and the audit log can tell the runs apart.
   */
  readonly version: string;
  /** Called once per closed candle, oldest first. Pure given the candles seen so far. */
  onCandle(candle: Candle): StrategyAction | null;
}
