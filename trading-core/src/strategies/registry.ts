import type { Strategy, StrategyParams } from './strategy.js';
import { StrategyError } from './strategy-error.js';
import { EMA_CROSS_VOLUME_SPEC } from './ema-cross.js';
import type { StrategySpec } from './spec.js';
import { checkParams } from './spec.js';
import { RSI_DIVERGENCE_VWAP_SPEC } from './rsi-divergence-vwap.js';
import { BOLLINGER_REVERSION_SPEC } from './bollinger-reversion.js';
import { TURTLE_SPEC } from './turtle.js';
import { CONSOLIDATION_POP_SPEC } from './consolidation-pop.js';
import { NADARAYA_WATSON_REVERSION_SPEC } from './nadaraya-watson-reversion.js';
import { CORRELATION_SPEC } from './correlation.js';
import { BUY_AND_HOLD_SPEC } from './buy-and-hold.js';

export type { StrategySpec } from './spec.js';

const SPECS: readonly StrategySpec[] = [
  EMA_CROSS_VOLUME_SPEC,
  RSI_DIVERGENCE_VWAP_SPEC,
  BOLLINGER_REVERSION_SPEC,
  TURTLE_SPEC,
  CONSOLIDATION_POP_SPEC,
  NADARAYA_WATSON_REVERSION_SPEC,
  CORRELATION_SPEC,
  BUY_AND_HOLD_SPEC,
];

const BY_NAME = new Map(SPECS.map((s) => [s.name, s]));

/** Every strategy's name, in catalogue order. */
export function strategyNames(): string[] {
  return SPECS.map((s) => s.name);
}

/** The spec of a strategy, or an `E_UNKNOWN_STRATEGY` naming the ones there are. */
export function strategySpec(name: string): StrategySpec {
  const spec = BY_NAME.get(name);
  if (spec === undefined)
    throw new StrategyError(
      'E_UNKNOWN_STRATEGY',
      `unknown strategy ${JSON.stringify(name)}; known: ${strategyNames().join(', ')}`,
    );
  return spec;
}

/**
 * Parameters checked against the strategy's schema, defaults filled in. Bad ones are an
 * `E_STRATEGY_PARAMS` naming each field and what is wrong with it.
 */
export function strategyParams(name: string, params: unknown = {}): StrategyParams {
  return checkParams(strategySpec(name), params);
}

/** A fresh strategy by name; parameters as for `strategyParams`. */
export function createStrategy(name: string, params: unknown = {}): Strategy {
  const checked = strategyParams(name, params);
  return strategySpec(name).create({ ...checked });
}
