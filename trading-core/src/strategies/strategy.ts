import type { Candle } from '../candle.js';

export type StrategyAction = 'buy' | 'sell';

/** A strategy's parameters as reported: plain values, JSON as they are. */
export type StrategyParams = Readonly<Record<string, number | string | boolean>>;

/**
 * One trading algorithm fed one symbol's closed candles in order. It says what it wants; it
 * does not know the portfolio, so "sell" while flat is fine and the caller ignores it.
 *
 * Callers (the backtest, the datafeed) check every candle with `candleProblem` before a
 * strategy sees it and keep each symbol's candles in strictly increasing time: a strategy may
 * rely on both and does not check again, so the per-candle path stays a handful of float
 * operations with no allocation. The strategies here test their boolean fields as
 * `this.#long === true`, never bare, for the reason `indicators/period.ts` gives.
 */
export interface Strategy {
  /** Stable kebab-case name, e.g. `ema-cross-volume`. */
  readonly name: string;
  /**
   * `<name>/<n>`, stamped on every signal as `algoVersion`. Bump `n` whenever the same candles
   * could produce different actions, so clients and the audit log can tell the runs apart.
   */
  readonly version: string;
  /** The parameters in force, defaults filled in: what a report or a log line shows. */
  readonly params?: StrategyParams;
  /**
   * Other symbols whose candles this strategy reads (a correlated leader, say); absent or
   * empty for a strategy of one symbol.
   */
  readonly inputs?: readonly string[];
  /** Called once per closed candle of the traded symbol, oldest first. Pure given what it has seen. */
  onCandle(candle: Candle): StrategyAction | null;
  /**
   * A closed candle of one of `inputs`, per symbol in time order. The caller never delivers one
   * whose open time is not before the traded candle that follows, so what a strategy decides at
   * time t depends only on input candles that opened before t, whatever order the bus brought
   * them in. A backtest has every candle and delivers each just before the first traded candle
   * that opens after it; live, a leader candle that reaches the datafeed after a later traded
   * candle is delivered before the next one: late, never early (`InputQueue`).
   */
  onInput?(symbol: string, candle: Candle): void;
}
