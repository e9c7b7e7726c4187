import { z } from 'zod';
import type { Strategy, StrategyParams } from './strategy.js';
import { StrategyError } from './strategy-error.js';

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

/**
 * Parameters checked against a spec's schema and its cross-field rule, defaults filled in. Bad
 * ones are an `E_STRATEGY_PARAMS` naming each field and what is wrong with it. The registry and
 * every strategy's constructor go through here, so `new X(p)` and `createStrategy('x', p)`
 * accept exactly the same parameters.
 */
export function checkParams(spec: StrategySpec, params: unknown): StrategyParams {
  const parsed = spec.params.safeParse(params ?? {});
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(params)'}: ${i.message}`);
    throw new StrategyError('E_STRATEGY_PARAMS', `${spec.name}: ${problems.join('; ')}`);
  }
  const problem = spec.check?.(parsed.data) ?? null;
  if (problem !== null) throw new StrategyError('E_STRATEGY_PARAMS', `${spec.name}: ${problem}`);
  return Object.freeze(parsed.data as Record<string, number | string | boolean>);
}

/** A whole number of candles. */
export const candles = (fallback: number, meaning: string, min = 1, max = 100_000) =>
  z.number().int().min(min).max(max).default(fallback).describe(meaning);

/** A finite number in [min, max]. */
export const bounded = (fallback: number, meaning: string, min: number, max: number) =>
  z.number().min(min).max(max).default(fallback).describe(meaning);

/** `a < b`, or a message naming both fields. */
export function lessThan(p: Record<string, unknown>, a: string, b: string): string | null {
  return (p[a] as number) < (p[b] as number) ? null : `${a} must be less than ${b}`;
}
