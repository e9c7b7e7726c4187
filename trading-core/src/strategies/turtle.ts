import { z } from 'zod';
import type { Candle } from '../candle.js';
import { Atr } from '../indicators/atr.js';
import { Donchian } from '../indicators/donchian.js';
import type { StrategySpec } from './spec.js';
import { bounded, candles, checkParams } from './spec.js';
import type { Strategy, StrategyAction } from './strategy.js';

export const TURTLE_NAME = 'turtle';

const PARAMS = z.strictObject({
  entryPeriod: candles(20, 'previous candles whose highest high a close must beat to buy', 2, 10_000),
  exitPeriod: candles(10, 'previous candles whose lowest low a close must fall below to sell', 2, 10_000),
  atrPeriod: candles(20, "ATR period (Wilder) for the stop, candles (the turtles' N)", 1, 10_000),
  stopAtr: bounded(2, 'stop distance below the entry close, in ATRs at entry', 0.1, 20),
});

export type TurtleParams = z.infer<typeof PARAMS>;

export const TURTLE_SPEC: StrategySpec = {
  name: TURTLE_NAME,
  description:
    'buys a close above the highest high of the previous 20 candles; sells a close below the lowest low of the previous 10, or below entry − 2 ATR',
  params: PARAMS,
  check: (p) =>
    (p['exitPeriod'] as number) <= (p['entryPeriod'] as number)
      ? null
      : 'exitPeriod must not exceed entryPeriod',
  create: (p) => new TurtleStrategy(p),
};

/**
 * Turtle trend following (system 1, long only).
 *
 * Both channels are Donchian channels of the PREVIOUS n candles, not including this one (a
 * channel including it could never be broken by its own close). Buy (flat): close > highest high
 * of the previous `entryPeriod` candles, with the ATR known. The stop is then fixed at
 * `entry close − stopAtr × ATR` (ATR of the candles up to the entry one, as the turtles fixed N
 * at entry). Sell (long): close < lowest low of the previous `exitPeriod` candles, or close <
 * the stop. Flat and long are what its own signals imply, so buys and sells alternate.
 */
export class TurtleStrategy implements Strategy {
  readonly name = TURTLE_NAME;
  readonly version = `${TURTLE_NAME}/1`;
  readonly params: Readonly<TurtleParams>;
  readonly #entry: Donchian;
  readonly #exit: Donchian;
  readonly #atr: Atr;
  #long = false;
  #stop = 0;

  constructor(params: Partial<TurtleParams> = {}) {
    this.params = checkParams(TURTLE_SPEC, params) as TurtleParams;
    this.#entry = new Donchian(this.params.entryPeriod);
    this.#exit = new Donchian(this.params.exitPeriod);
    this.#atr = new Atr(this.params.atrPeriod);
  }

  onCandle(candle: Candle): StrategyAction | null {
    // The channels of the candles before this one, read before this one joins them. Per candle
    // only `push` (a bar in, nothing out), `ready` and the scalar getters after their `ready`:
    // no object and no heap number (test/no-allocation.test.ts).
    const entry = this.#entry;
    const exit = this.#exit;
    const atr = this.#atr;
    const entryReady = entry.ready;
    const entryUpper = entryReady ? entry.upper! : 0;
    const exitReady = exit.ready;
    const exitLower = exitReady ? exit.lower! : 0;
    entry.push(candle);
    exit.push(candle);
    atr.push(candle);
    const close = candle.close;
    if (this.#long !== true) {
      if (!entryReady || !atr.ready || !(close > entryUpper)) return null;
      this.#long = true;
      this.#stop = close - this.params.stopAtr * atr.value!;
      return 'buy';
    }
    if (close < this.#stop || (exitReady && close < exitLower)) {
      this.#long = false;
      return 'sell';
    }
    return null;
  }
}
