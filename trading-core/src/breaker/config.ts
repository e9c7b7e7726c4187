import { z } from 'zod';
import { BreakerError } from './breaker-error.js';

const HOUR = 3_600_000;

/**
 * One level's adaptive threshold: `max(floor, factor × Q(quantile))` of the input's own rolling
 * history, or just `floor` until that history holds `minHistory` values.
 */
const rule = (floor: number, factor: number, quantile: number) =>
  z
    .strictObject({
      /** The threshold never drops below this (and is this before the history is long enough). */
      floor: z.number().min(0).max(1e9).default(floor),
      /** Multiplies the history's quantile. */
      factor: z.number().positive().max(1e6).default(factor),
      /** Which quantile of the history (0.5: the median, 0.99: the 99th percentile). */
      quantile: z.number().min(0).max(1).default(quantile),
    })
    .prefault({});

type Rule = ReturnType<typeof rule>;

/** One adaptive input: its history window, how much history it needs, and its two rules. */
const adaptive = (window: number, minHistory: number, caution: Rule, halt: Rule) =>
  z
    .strictObject({
      /** How many past values the rolling history keeps. */
      window: z.number().int().min(2).max(100_000).default(window),
      /** Values needed before the quantile counts; before that the thresholds are the floors. */
      minHistory: z.number().int().min(1).max(100_000).default(minHistory),
      caution,
      halt,
    })
    .prefault({});

/**
 * The breaker's thresholds and windows. Every field has a default (DEFAULT_BREAKER_CONFIG);
 * the README's "Circuit breaker" section explains each one.
 */
export const BreakerConfig = z
  .strictObject({
    /** Multiplier devices apply to buy sizes at `caution` (default 0.5). */
    cautionMultiplier: z.number().gt(0).lt(1).default(0.5),
    /** Hysteresis: an input holds a level while its value ≥ easeRatio × that level's threshold (default 0.7). */
    easeRatio: z.number().gt(0).max(1).default(0.7),
    /** Calm time before the automatic level eases one step, and between steps (default 4 h). */
    coolDownMs: z
      .number()
      .int()
      .min(0)
      .max(30 * 24 * HOUR)
      .default(4 * HOUR),
    /** Most asset scopes kept (candles and overrides); a new one beyond it is refused (default 500). */
    maxAssets: z.number().int().min(1).max(100_000).default(500),
    /** Most venues tracked; a new one beyond it is refused (default 16). */
    maxVenues: z.number().int().min(1).max(1000).default(16),
    /** return: the log return is over this many bars (default 2). */
    returnBars: z.number().int().min(1).max(1000).default(2),
    /** return, volatility, breadth: bars in the rolling baseline (default 720 = 30 days of 1h). */
    baselineBars: z.number().int().min(2).max(100_000).default(720),
    /** return, volatility, breadth: bars of baseline needed before they read anything / adapt (default 168). */
    minBaselineBars: z.number().int().min(2).max(100_000).default(168),
    /** return: |z| at which it asks for caution (default 3) and halt (default 4.5). */
    returnZ: z
      .strictObject({
        caution: z.number().positive().max(1e6).default(3),
        halt: z.number().positive().max(1e6).default(4.5),
      })
      .prefault({}),
    /** volatility: realised volatility is the std of this many one-bar log returns (default 24). */
    volBars: z.number().int().min(2).max(10_000).default(24),
    /**
     * volatility thresholds over its own history of `baselineBars` (minBaselineBars first):
     * caution max(0.02, 1 × Q99), halt max(0.04, 2 × Q99). Floors are per-bar std of log returns.
     */
    volatility: z.strictObject({ caution: rule(0.03, 1, 0.99), halt: rule(0.06, 2, 0.99) }).prefault({}),
    /**
     * breadth: share of assets on the newest bar with |z| ≥ `z` (default 2) in one direction,
     * read once at least `minAssets` (default 3) have a z; caution max(0.5, Q99), halt max(0.75, Q99)
     * over `baselineBars` bars of its history.
     */
    breadth: z
      .strictObject({
        z: z.number().positive().max(1e6).default(2),
        minAssets: z.number().int().min(1).max(100_000).default(3),
        caution: rule(0.5, 1, 0.99),
        halt: rule(0.75, 1, 0.99),
      })
      .prefault({}),
    /** drawdown of the house equity from its peak: caution max(0.05, Q95), halt max(0.10, Q99); 720 reports, 168 first. */
    drawdown: adaptive(720, 168, rule(0.05, 1, 0.95), rule(0.1, 1, 0.99)),
    /** venue-errors, failed share per report: caution max(0.1, Q99), halt max(0.5, Q99); 1440 reports, 60 first. */
    venueErrors: adaptive(1440, 60, rule(0.1, 1, 0.99), rule(0.5, 1, 0.99)),
    /** venue-latency p99, ms: caution max(1000, 3 × Q99), halt max(5000, 10 × Q99); 1440 reports, 60 first. */
    venueLatency: adaptive(1440, 60, rule(1000, 3, 0.99), rule(5000, 10, 0.99)),
    /** venue-silent, ms since the last report: caution max(30 s, 3 × median interval), halt max(120 s, 10 × median); 1440 intervals, 10 first. */
    venueSilent: adaptive(1440, 10, rule(30_000, 3, 0.5), rule(120_000, 10, 0.5)),
    /**
     * stale, ms since an asset's last candle: caution max(2 min, 3 × median arrival gap), halt
     * max(0, 6 × median); 720 gaps. Until `minHistory` (10) gaps, the bar length stands in for the
     * median, so a replay whose `now` is each bar's close never looks stale.
     */
    stale: adaptive(720, 10, rule(120_000, 3, 0.5), rule(0, 6, 0.5)),
    /** peg, |price − 1|: caution max(0.005, 2 × Q99), halt max(0.02, 5 × Q99); 1440 readings, 60 first. */
    peg: adaptive(1440, 60, rule(0.005, 2, 0.99), rule(0.02, 5, 0.99)),
  })
  .check((ctx) => {
    const c = ctx.value;
    const issue = (path: string[], message: string) =>
      ctx.issues.push({ code: 'custom', input: c, path, message });
    if (c.returnZ.halt < c.returnZ.caution) issue(['returnZ', 'halt'], 'must be at least returnZ.caution');
    if (c.minBaselineBars > c.baselineBars) issue(['minBaselineBars'], 'must be at most baselineBars');
    for (const k of ['drawdown', 'venueErrors', 'venueLatency', 'venueSilent', 'stale', 'peg'] as const) {
      if (c[k].minHistory > c[k].window) issue([k, 'minHistory'], `must be at most ${k}.window`);
    }
    for (const k of [
      'volatility',
      'breadth',
      'venueErrors',
      'venueLatency',
      'venueSilent',
      'stale',
      'peg',
      'drawdown',
    ] as const) {
      if (c[k].caution.floor <= 0) issue([k, 'caution', 'floor'], 'must be greater than 0');
    }
  });

export type BreakerConfig = z.output<typeof BreakerConfig>;
/** What the constructor takes: any part of the config, the rest from the defaults. */
export type BreakerConfigInput = z.input<typeof BreakerConfig>;
/** An adaptive input's window, minimum history and rules, as parsed. */
export type AdaptiveConfig = BreakerConfig['peg'];

/** The config checked, defaults filled in, frozen; bad ones are an E_BREAKER_CONFIG naming each field. */
export function parseBreakerConfig(input: unknown): BreakerConfig {
  const parsed = BreakerConfig.safeParse(input ?? {});
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(config)'}: ${i.message}`);
    throw new BreakerError('E_BREAKER_CONFIG', `breaker config: ${problems.join('; ')}`);
  }
  return deepFreeze(parsed.data);
}

function deepFreeze<T>(o: T): T {
  if (o !== null && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

/** Every default, as `new Breaker()` uses them. */
export const DEFAULT_BREAKER_CONFIG: BreakerConfig = parseBreakerConfig({});
