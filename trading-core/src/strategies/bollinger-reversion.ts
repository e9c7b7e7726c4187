import { z } from 'zod';
import type { Candle } from '../candle.js';
import { Bollinger } from '../indicators/bollinger.js';
import type { StrategySpec } from './spec.js';
import { bounded, candles, checkParams } from './spec.js';
import type { Strategy, StrategyAction } from './strategy.js';

export const BOLLINGER_REVERSION_NAME = 'bollinger-reversion';

const PARAMS = z.strictObject({
  period: candles(20, 'closes the bands average (SMA and population standard deviation)', 2),
  multiplier: bounded(2, 'band half-width in standard deviations', 0.1, 10),
  exit: z
    .enum(['middle', 'upper'])
    .default('middle')
    .describe('the band whose touch sells: middle (the SMA) or upper'),
});

export type BollingerReversionParams = z.infer<typeof PARAMS>;

export const BOLLINGER_REVERSION_SPEC: StrategySpec = {
  name: BOLLINGER_REVERSION_NAME,
  description:
    'buys when the close comes back inside the lower Bollinger band after closing below it; sells when it reaches the middle (or upper) band',
  params: PARAMS,
  create: (p) => new BollingerReversionStrategy(p),
};

/**
 * Bollinger mean reversion. Bands are those of the closes up to and including this one.
 *
 * Buy (when flat): the previous close was below its lower band and this close is at or above
 * this lower band: the stretch is over and price turns back towards the mean. Sell (when long):
 * the close reaches the exit band (`close >= middle`, or `close >= upper` with `exit: 'upper'`).
 * "Flat" and "long" are what its own signals imply, so buys and sells alternate. No stop: the
 * bet is that the mean comes back, and the sell waits for it.
 */
export class BollingerReversionStrategy implements Strategy {
  readonly name = BOLLINGER_REVERSION_NAME;
  readonly version = `${BOLLINGER_REVERSION_NAME}/1`;
  readonly params: Readonly<BollingerReversionParams>;
  readonly #bands: Bollinger;
  readonly #exitUpper: boolean;
  /** Whether the previous close was below its lower band. */
  #wasBelow = false;
  #long = false;

  constructor(params: Partial<BollingerReversionParams> = {}) {
    this.params = checkParams(BOLLINGER_REVERSION_SPEC, params) as BollingerReversionParams;
    this.#bands = new Bollinger(this.params.period, this.params.multiplier);
    this.#exitUpper = this.params.exit === 'upper';
  }

  onCandle(candle: Candle): StrategyAction | null {
    // `push`, `ready`, then the scalar getters: no object and no heap number per candle
    // (test/no-allocation.test.ts).
    const bands = this.#bands;
    const close = candle.close;
    bands.push(close);
    if (!bands.ready) return null;
    const middle = bands.middle!;
    const lower = bands.lower!;
    const wasBelow = this.#wasBelow === true;
    this.#wasBelow = close < lower;
    if (this.#long !== true) {
      if (!wasBelow || close < lower) return null;
      this.#long = true;
      return 'buy';
    }
    if (close < (this.#exitUpper === true ? bands.upper! : middle)) return null;
    this.#long = false;
    return 'sell';
  }
}
