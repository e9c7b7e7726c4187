import { z } from 'zod';
import type { Candle } from '../candle.js';
import { NadarayaWatson } from '../indicators/nadaraya-watson.js';
import type { StrategySpec } from './spec.js';
import { bounded, candles, checkParams } from './spec.js';
import type { Strategy, StrategyAction } from './strategy.js';

export const NADARAYA_WATSON_REVERSION_NAME = 'nadaraya-watson-reversion';

const PARAMS = z.strictObject({
  window: candles(64, 'closes the kernel regression reads (O(window) per candle)', 2, 2_000),
  bandwidth: bounded(8, 'Gaussian kernel bandwidth h, candles', 0.5, 500),
  multiplier: bounded(3, 'envelope half-width in mean absolute errors', 0.1, 20),
  exit: z
    .enum(['estimate', 'upper'])
    .default('estimate')
    .describe('the line whose touch sells: estimate (the regression) or upper (envelope)'),
});

export type NadarayaWatsonReversionParams = z.infer<typeof PARAMS>;

export const NADARAYA_WATSON_REVERSION_SPEC: StrategySpec = {
  name: NADARAYA_WATSON_REVERSION_NAME,
  description:
    'buys when the close comes back above the lower causal Nadaraya-Watson envelope after closing below it; sells when it reaches the estimate (or upper envelope)',
  params: PARAMS,
  create: (p) => new NadarayaWatsonReversionStrategy(p),
};

/**
 * Mean reversion to the causal (non-repainting) Nadaraya-Watson estimate; the envelope is that
 * of the closes up to and including this one (`NadarayaWatson`).
 *
 * Buy (flat): the previous close was below its lower envelope and this close is at or above this
 * lower envelope. Sell (long): close >= estimate (or close >= upper with `exit: 'upper'`). Flat
 * and long are what its own signals imply, so buys and sells alternate.
 */
export class NadarayaWatsonReversionStrategy implements Strategy {
  readonly name = NADARAYA_WATSON_REVERSION_NAME;
  readonly version = `${NADARAYA_WATSON_REVERSION_NAME}/1`;
  readonly params: Readonly<NadarayaWatsonReversionParams>;
  readonly #nw: NadarayaWatson;
  readonly #exitUpper: boolean;
  #wasBelow = false;
  #long = false;

  constructor(params: Partial<NadarayaWatsonReversionParams> = {}) {
    this.params = checkParams(NADARAYA_WATSON_REVERSION_SPEC, params) as NadarayaWatsonReversionParams;
    const { window, bandwidth, multiplier } = this.params;
    this.#nw = new NadarayaWatson({ window, bandwidth, multiplier });
    this.#exitUpper = this.params.exit === 'upper';
  }

  onCandle(candle: Candle): StrategyAction | null {
    // `push`, `ready`, then the scalar getters: no object and no heap number per candle
    // (test/no-allocation.test.ts).
    const nw = this.#nw;
    const close = candle.close;
    nw.push(close);
    if (!nw.ready) return null;
    const estimate = nw.estimate!;
    const lower = nw.lower!;
    const wasBelow = this.#wasBelow === true;
    this.#wasBelow = close < lower;
    if (this.#long !== true) {
      if (!wasBelow || close < lower) return null;
      this.#long = true;
      return 'buy';
    }
    if (close < (this.#exitUpper === true ? nw.upper! : estimate)) return null;
    this.#long = false;
    return 'sell';
  }
}
