import { z } from 'zod';
import type { Candle } from '../candle.js';
import type { StrategySpec } from './spec.js';
import { checkParams } from './spec.js';
import type { Strategy, StrategyAction } from './strategy.js';

export const BUY_AND_HOLD_NAME = 'buy-and-hold';

const PARAMS = z.strictObject({});

export const BUY_AND_HOLD_SPEC: StrategySpec = {
  name: BUY_AND_HOLD_NAME,
  description: 'buys on the first candle and never sells: the baseline every result is compared with',
  params: PARAMS,
  create: () => new BuyAndHoldStrategy(),
};

/**
 * The baseline: `'buy'` on the first candle it sees, `null` ever after. A backtest of it is the
 * market's own return less one fill's costs, which is what any other strategy has to beat.
 */
export class BuyAndHoldStrategy implements Strategy {
  readonly name = BUY_AND_HOLD_NAME;
  readonly version = `${BUY_AND_HOLD_NAME}/1`;
  readonly params = checkParams(BUY_AND_HOLD_SPEC, {});
  #bought = false;

  onCandle(_candle: Candle): StrategyAction | null {
    if (this.#bought === true) return null;
    this.#bought = true;
    return 'buy';
  }
}
