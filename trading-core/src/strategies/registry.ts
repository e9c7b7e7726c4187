import { z } from 'zod';
import type { Strategy, StrategyParams } from './strategy.js';
import { StrategyError } from './strategy-error.js';
import {
  DEFAULT_EMA_CROSS_VOLUME_OPTIONS,
  EMA_CROSS_VOLUME_NAME,
  EmaCrossVolumeStrategy,
} from './ema-cross.js';

/**
 * One strategy as the datafeed and the simulator ask for it by name: what it does, its
 * parameters as a zod schema (every field with its default and a `.describe()`d meaning), and
 * how to build it from parameters that passed the schema.
 */
export interface StrategySpec {
  readonly name: string;
  /** One sentence: what makes it buy and sell. */
  readonly description: string;
  /** A strict object: unknown keys are refused, every field has a default. */
  readonly params: z.ZodObject;
  /** Cross-field rules the schema cannot say alone (fast < slow, ...): a message, or null. */
  readonly check?: (params: Record<string, unknown>) => string | null;
  create(params: Record<string, unknown>): Strategy;
}

const period = (fallback: number, meaning: string) =>
  z.number().int().min(1).max(100_000).default(fallback).describe(meaning);

const SPECS: readonly StrategySpec[] = [
  {
    name: EMA_CROSS_VOLUME_NAME,
    description:
      'buys when the fast EMA of close crosses above the slow one on above-average volume; sells on the cross back',
    params: z.strictObject({
      fastPeriod: period(DEFAULT_EMA_CROSS_VOLUME_OPTIONS.fastPeriod, 'fast EMA of close, candles'),
      slowPeriod: period(DEFAULT_EMA_CROSS_VOLUME_OPTIONS.slowPeriod, 'slow EMA of close, candles'),
      volumePeriod: period(
        DEFAULT_EMA_CROSS_VOLUME_OPTIONS.volumePeriod,
        'previous candles the volume gate averages',
      ),
    }),
    check: (p) =>
      (p['fastPeriod'] as number) < (p['slowPeriod'] as number)
        ? null
        : 'fastPeriod must be less than slowPeriod',
    create: (p) => new EmaCrossVolumeStrategy(p),
  },
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
  const spec = strategySpec(name);
  const parsed = spec.params.safeParse(params ?? {});
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(params)'}: ${i.message}`);
    throw new StrategyError('E_STRATEGY_PARAMS', `${name}: ${problems.join('; ')}`);
  }
  const problem = spec.check?.(parsed.data) ?? null;
  if (problem !== null) throw new StrategyError('E_STRATEGY_PARAMS', `${name}: ${problem}`);
  return Object.freeze(parsed.data as Record<string, number | string | boolean>);
}

/** A fresh strategy by name; parameters as for `strategyParams`. */
export function createStrategy(name: string, params: unknown = {}): Strategy {
  const checked = strategyParams(name, params);
  return strategySpec(name).create({ ...checked });
}
