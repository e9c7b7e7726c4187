// Synthetic series for the breaker's table tests (breaker-inputs and breaker-levels).
import { seededRandom } from '../../src/seeded-random.js';
import type { Breaker, BreakerConfigInput, BreakerEvent, BreakerTripped } from '../../src/breaker/index.js';

export const HOUR = 3_600_000;
export const T0 = Date.UTC(2024, 0, 1);

/**
 * Closes of a random walk whose one-bar log returns are uniform in ±sigma: bounded, so a
 * two-bar return never strays past 2.5 σ of its own baseline and calm stays calm.
 */
export function walk(n: number, sigma: number, seed: number, start = 100): number[] {
  const rnd = seededRandom(seed);
  const out: number[] = [];
  let p = start;
  for (let i = 0; i < n; i++) {
    p *= Math.exp(sigma * (2 * rnd() - 1));
    out.push(p);
  }
  return out;
}

/** Feeds hourly closes of one symbol, bar i opening at T0 + i h and received at its close. */
export function feed(b: Breaker, symbol: string, closes: readonly number[], from = 0): BreakerEvent[] {
  const events: BreakerEvent[] = [];
  closes.forEach((close, k) => {
    const time = T0 + (from + k) * HOUR;
    events.push(...b.candle({ symbol, time, close, timeframeMs: HOUR }, time + HOUR));
  });
  return events;
}

export const trips = (events: readonly BreakerEvent[]): BreakerTripped[] =>
  events.filter((e): e is BreakerTripped => e.type === 'BreakerTripped');

/** A config in which no input trips unless a test turns it back on. */
export const QUIET: BreakerConfigInput = {
  baselineBars: 200,
  minBaselineBars: 100,
  volBars: 12,
  returnZ: { caution: 1e5, halt: 1e5 },
  volatility: { caution: { floor: 1e3 }, halt: { floor: 1e3 } },
  breadth: { caution: { floor: 2 }, halt: { floor: 2 } },
  stale: { caution: { floor: 1e9 } },
};

/** `base` with `over` laid over it, object by object. */
export function merge<T extends object>(base: T, over: object): T {
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = v && typeof v === 'object' && b && typeof b === 'object' ? merge(b as object, v) : v;
  }
  return out as T;
}
