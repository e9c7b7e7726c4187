import { z } from 'zod';
import type { RunMetrics } from './metrics.js';
import type { WalkForwardVerdict } from './walk-forward.js';
import { signedPercent } from './walk-forward.js';
import { WINDOWS, type Window } from './windows.js';

/**
 * Which assets a stream may trade live, from its backtests. Every threshold is an option of the
 * rule with its default here; the README's Eligibility section lists them.
 */
export const EligibilityRule = z
  .object({
    /** Windows (of 4) on which the strategy must end positive and ahead of buy-and-hold. */
    minWindowsBeaten: z.number().int().min(0).max(WINDOWS.length).default(3),
    /** Max drawdown must stay below this fraction of the peak. */
    maxDrawdown: z.number().gt(0).max(1).default(0.25),
    /**
     * Where the drawdown limit applies: `every` window (default; a crash in the last month
     * cannot hide behind a good year, and the check still works when the year is short of
     * data) or only the `1y` window.
     */
    drawdownOn: z.enum(['every', '1y']).default('every'),
    /** The deflated Sharpe probability must be at least this; null disables the check. */
    minDeflatedSharpe: z.number().min(0).max(1).nullable().default(0.95),
    /** The walk-forward check must hold. */
    requireWalkForward: z.boolean().default(true),
    /** A window with fewer than this share of its expected candles is insufficient, a fail. */
    minCandleShare: z.number().min(0).max(1).default(0.8),
    /** Consecutive passing runs an ineligible asset needs to become eligible. */
    passesToGain: z.number().int().min(1).default(2),
    /** Consecutive failing runs that take eligibility away (unless a fail is clear sooner). */
    failsToLose: z.number().int().min(1).default(2),
    /**
     * How far beyond a threshold a fail is clear enough to take eligibility away at once:
     * fewer than minWindowsBeaten - windows beaten, a drawdown over maxDrawdown + drawdown, a
     * deflated Sharpe under minDeflatedSharpe - deflatedSharpe.
     */
    margin: z
      .object({
        windows: z.number().int().min(0).default(1),
        drawdown: z.number().min(0).default(0.05),
        deflatedSharpe: z.number().min(0).default(0.1),
      })
      .strict()
      .default({ windows: 1, drawdown: 0.05, deflatedSharpe: 0.1 }),
  })
  .strict();

export type EligibilityRule = z.infer<typeof EligibilityRule>;

/** The default rule, every option at its default. */
export const DEFAULT_ELIGIBILITY_RULE: EligibilityRule = EligibilityRule.parse({});

/**
 * What is remembered of an asset between runs, plain JSON: whether it is eligible and how many
 * runs in a row up to the last one passed or failed the rule (one of the two is 0).
 */
export const EligibilityState = z
  .object({
    eligible: z.boolean(),
    passes: z.number().int().min(0),
    fails: z.number().int().min(0),
  })
  .strict();

export type EligibilityState = z.infer<typeof EligibilityState>;

/** An asset never judged before: not eligible, no streak. */
export const INITIAL_ELIGIBILITY_STATE: EligibilityState = Object.freeze({
  eligible: false,
  passes: 0,
  fails: 0,
});

/** One window's backtest of the stream's strategy, and how complete its candles were. */
export interface WindowResult {
  /** Candles the window had. */
  candles: number;
  /** Candles a complete series has in it (windows.ts `expectedCandles`). */
  expected: number;
  /** The strategy's metrics there (buy-and-hold included); null when it was not run. */
  metrics: Pick<RunMetrics, 'totalReturn' | 'maxDrawdown' | 'buyAndHold'> | null;
}

export interface EligibilityInput {
  stream: string;
  symbol: string;
  windows: Readonly<Record<Window, WindowResult>>;
  /** The deflated Sharpe probability of the strategy among everything tried; null when not computed. */
  deflatedSharpe: number | null;
  /** The walk-forward verdict; null when not run. */
  walkForward: Pick<WalkForwardVerdict, 'passed' | 'reason'> | null;
}

export type EligibilityCheckName = 'windows' | 'drawdown' | 'deflated-sharpe' | 'walk-forward';

export interface EligibilityCheck {
  name: EligibilityCheckName;
  passed: boolean;
  /** Failed by more than the rule's margin: eligibility goes at once. */
  clear: boolean;
  /** The check with its figures, for people. */
  text: string;
}

export interface EligibilityDecision {
  stream: string;
  symbol: string;
  /** After hysteresis: what live trading obeys. */
  eligible: boolean;
  /** This run's verdict on the rule alone, before hysteresis. */
  passed: boolean;
  checks: EligibilityCheck[];
  /** Why, in one line: the hysteresis verdict, then every check with its figures. */
  reason: string;
  /** To keep, and give back as `previous` on the next run. */
  state: EligibilityState;
}

/**
 * Judges one (stream, symbol) against the rule, then applies hysteresis to the previous state so
 * an asset near a threshold does not flicker in and out: it gains eligibility only after
 * `passesToGain` passing runs in a row, and loses it after `failsToLose` failing runs in a row or
 * at once on a clear fail. Pure: the state goes in and comes out as plain JSON.
 */
export function decideEligibility(
  input: EligibilityInput,
  rule: EligibilityRule = DEFAULT_ELIGIBILITY_RULE,
  previous: EligibilityState | null = null,
): EligibilityDecision {
  const before = previous ?? INITIAL_ELIGIBILITY_STATE;
  const checks = [
    windowsCheck(input, rule),
    drawdownCheck(input, rule),
    deflatedSharpeCheck(input, rule),
    walkForwardCheck(input, rule),
  ];
  const passed = checks.every((c) => c.passed);
  const clear = checks.filter((c) => c.clear);

  let state: EligibilityState;
  let verdict: string;
  if (passed) {
    const passes = before.passes + 1;
    if (before.eligible) verdict = 'eligible';
    else if (passes >= rule.passesToGain) verdict = `became eligible after ${runs(passes, 'passing')}`;
    else verdict = `not yet eligible (passed ${passes} of ${rule.passesToGain} runs needed)`;
    state = { eligible: before.eligible || passes >= rule.passesToGain, passes, fails: 0 };
  } else {
    const fails = before.fails + 1;
    let eligible = false;
    if (!before.eligible) verdict = 'not eligible';
    else if (clear.length > 0)
      verdict = `lost eligibility at once (failed by more than the margin: ${clear.map((c) => c.name).join(', ')})`;
    else if (fails >= rule.failsToLose) verdict = `lost eligibility after ${runs(fails, 'failing')}`;
    else {
      verdict = `still eligible (failed ${fails} of ${rule.failsToLose} runs before it is lost)`;
      eligible = true;
    }
    state = { eligible, passes: 0, fails };
  }
  return {
    stream: input.stream,
    symbol: input.symbol,
    eligible: state.eligible,
    passed,
    checks,
    reason: `${verdict}: ${checks.map((c) => c.text).join('; ')}`,
    state,
  };
}

function runs(n: number, how: string): string {
  return `${n} ${how} run${n === 1 ? '' : 's'}`;
}

/** The share of expected candles a window needs, as a whole number of candles. */
function neededCandles(window: WindowResult, rule: EligibilityRule): number {
  return Math.ceil(window.expected * rule.minCandleShare);
}

function isSufficient(window: WindowResult, rule: EligibilityRule): boolean {
  return window.metrics !== null && window.candles >= neededCandles(window, rule) && window.candles > 0;
}

function windowsCheck(input: EligibilityInput, rule: EligibilityRule): EligibilityCheck {
  let beaten = 0;
  const parts = WINDOWS.map((name) => {
    const w = input.windows[name];
    if (!isSufficient(w, rule))
      return `${name} insufficient data (${w.candles} of ${w.expected} candles, need ${neededCandles(w, rule)})`;
    const m = w.metrics!;
    const ret = m.totalReturn;
    const hold = m.buyAndHold.totalReturn;
    const figures = `${name} ${signedPercent(ret)} vs ${signedPercent(hold)}`;
    if (ret > 0 && ret > hold) {
      beaten++;
      return figures;
    }
    return `${figures} (${ret > 0 ? 'behind buy-and-hold' : 'not positive'})`;
  });
  const passed = beaten >= rule.minWindowsBeaten;
  return {
    name: 'windows',
    passed,
    clear: beaten < rule.minWindowsBeaten - rule.margin.windows,
    text: `${passed ? 'beat' : 'beat only'} buy-and-hold on ${beaten} of ${WINDOWS.length} windows, need ${rule.minWindowsBeaten} (${parts.join(', ')})`,
  };
}

function drawdownCheck(input: EligibilityInput, rule: EligibilityRule): EligibilityCheck {
  const names: readonly Window[] = rule.drawdownOn === 'every' ? WINDOWS : ['1y'];
  const scope = rule.drawdownOn === 'every' ? 'every window' : 'the 1y window';
  let worst: { name: Window; drawdown: number } | null = null;
  for (const name of names) {
    const m = input.windows[name].metrics;
    if (m !== null && (worst === null || m.maxDrawdown > worst.drawdown))
      worst = { name, drawdown: m.maxDrawdown };
  }
  const limit = percent(rule.maxDrawdown);
  if (worst === null)
    return { name: 'drawdown', passed: false, clear: false, text: `max drawdown unknown: ${scope} not run` };
  const passed = worst.drawdown < rule.maxDrawdown;
  return {
    name: 'drawdown',
    passed,
    clear: worst.drawdown > rule.maxDrawdown + rule.margin.drawdown,
    text: `max drawdown ${(worst.drawdown * 100).toFixed(1)}% (${worst.name}) ${passed ? '<' : '≥'} ${limit} on ${scope}`,
  };
}

function deflatedSharpeCheck(input: EligibilityInput, rule: EligibilityRule): EligibilityCheck {
  const min = rule.minDeflatedSharpe;
  const dsr = input.deflatedSharpe;
  if (min === null)
    return { name: 'deflated-sharpe', passed: true, clear: false, text: 'deflated Sharpe not required' };
  if (dsr === null || Number.isNaN(dsr))
    return { name: 'deflated-sharpe', passed: false, clear: false, text: 'deflated Sharpe not computed' };
  const passed = dsr >= min;
  return {
    name: 'deflated-sharpe',
    passed,
    clear: dsr < min - rule.margin.deflatedSharpe,
    text: `deflated Sharpe ${dsr.toFixed(3)} ${passed ? '≥' : '<'} ${min}`,
  };
}

function walkForwardCheck(input: EligibilityInput, rule: EligibilityRule): EligibilityCheck {
  const wf = input.walkForward;
  if (!rule.requireWalkForward)
    return { name: 'walk-forward', passed: true, clear: false, text: 'walk-forward not required' };
  if (wf === null) return { name: 'walk-forward', passed: false, clear: false, text: 'walk-forward not run' };
  return { name: 'walk-forward', passed: wf.passed, clear: false, text: `walk-forward: ${wf.reason}` };
}

/** A threshold as a percentage without trailing zeros: 25%, 12.5%. */
function percent(x: number): string {
  return `${Number((x * 100).toFixed(2))}%`;
}
