import { StrategyError, strategyParams, type StrategyParams } from '@appliance/trading-core';

/**
 * The parameter sets tried per strategy. Deliberately small: every set is a trial the deflated
 * Sharpe has to discount, so a wide grid makes every strategy look like luck.
 *
 * The grid is the defaults, plus each period-like parameter (a whole number of candles whose
 * name ends in `period`, `bars` or `window`) halved and doubled on its own, the others at their
 * defaults. A variant the strategy's own spec refuses (below a minimum, fast ≥ slow, ...) is
 * dropped rather than clamped, so every set tried is one the datafeed could really run.
 */
export interface ParamSet {
  /** `default`, or what changed: `fastPeriod*0.5`. */
  variant: string;
  params: StrategyParams;
}

export const DEFAULT_VARIANT = 'default';
const PERIOD_FACTORS = [0.5, 2] as const;
const PERIOD_LIKE = /(period|bars|window)$/i;

export function paramGrid(strategy: string): ParamSet[] {
  return gridAround(strategyParams(strategy), (params) => variantParams(strategy, params));
}

/**
 * The grid around `defaults`: them first, then each period-like parameter halved and doubled
 * (rounded to a whole candle), in the order of the parameters, each kept only when `accept`
 * returns the checked parameters (null refuses) and it is not a set already in the grid.
 */
export function gridAround(
  defaults: StrategyParams,
  accept: (params: Record<string, unknown>) => StrategyParams | null,
): ParamSet[] {
  const grid: ParamSet[] = [{ variant: DEFAULT_VARIANT, params: defaults }];
  const seen = new Set([JSON.stringify(defaults)]);
  for (const [key, value] of Object.entries(defaults)) {
    if (!PERIOD_LIKE.test(key) || typeof value !== 'number' || !Number.isInteger(value)) continue;
    for (const factor of PERIOD_FACTORS) {
      const params = accept({ ...defaults, [key]: Math.round(value * factor) });
      if (params === null || seen.has(JSON.stringify(params))) continue;
      seen.add(JSON.stringify(params));
      grid.push({ variant: `${key}*${factor}`, params });
    }
  }
  return grid;
}

/** The parameters as the spec checks them, or null when it refuses them. */
function variantParams(strategy: string, params: Record<string, unknown>): StrategyParams | null {
  try {
    return strategyParams(strategy, params);
  } catch (err) {
    if (err instanceof StrategyError && err.code === 'E_STRATEGY_PARAMS') return null;
    throw err;
  }
}
