import type { RunMetrics } from './metrics.js';
import { windowRange, type TimeRange, type Window } from './windows.js';

/** What a walk-forward check reads of one run: its Sharpe and its return. */
export type WalkForwardScore = Pick<RunMetrics, 'sharpe' | 'totalReturn'>;

/** One parameter set of one strategy, backtested on both sides of the split. */
export interface ParameterSetResult {
  /** Names the set in reports, e.g. `fast=12,slow=26`. Unique within one check. */
  id: string;
  params: Readonly<Record<string, unknown>>;
  /** Metrics on the in-sample range, where the set is chosen. */
  inSample: WalkForwardScore;
  /** Metrics on the out-of-sample range that follows it, where the choice is judged. */
  outOfSample: WalkForwardScore;
}

export interface WalkForwardVerdict {
  /** The chosen set's out-of-sample return and Sharpe are both > 0. */
  passed: boolean;
  chosen: string;
  params: Readonly<Record<string, unknown>>;
  /** How many sets it was chosen from. */
  candidates: number;
  inSampleSharpe: number;
  outOfSampleSharpe: number;
  outOfSampleReturn: number;
  /** One sentence for people, e.g. "fast=12 chosen in sample (Sharpe 1.40 of 9 sets) held out of sample: Sharpe 0.80, return +2.1%". */
  reason: string;
}

/**
 * Picks the parameter set with the best in-sample Sharpe (the first of equal ones, in the order
 * given, so the choice does not depend on anything but the input; a NaN Sharpe never wins) and
 * judges it on the next range alone: it passes when it still made money there, return and
 * Sharpe both above 0. The out-of-sample figures of the sets not chosen are never read: looking
 * at them is what the check exists to prevent.
 */
export function walkForward(results: readonly ParameterSetResult[]): WalkForwardVerdict {
  if (results.length === 0) throw new RangeError('walkForward: no parameter sets to choose from');
  let best: ParameterSetResult | undefined;
  for (const r of results) {
    if (Number.isNaN(r.inSample.sharpe)) continue;
    if (best === undefined || r.inSample.sharpe > best.inSample.sharpe) best = r;
  }
  if (best === undefined) throw new RangeError('walkForward: every in-sample Sharpe is NaN');
  const out = best.outOfSample;
  const passed = out.totalReturn > 0 && out.sharpe > 0;
  const chosen = `${best.id} chosen in sample (Sharpe ${best.inSample.sharpe.toFixed(2)}, best of ${results.length})`;
  const figures = `Sharpe ${out.sharpe.toFixed(2)}, return ${signedPercent(out.totalReturn)}`;
  return {
    passed,
    chosen: best.id,
    params: best.params,
    candidates: results.length,
    inSampleSharpe: best.inSample.sharpe,
    outOfSampleSharpe: out.sharpe,
    outOfSampleReturn: out.totalReturn,
    reason: `${chosen} ${passed ? 'held' : 'did not hold'} out of sample: ${figures}`,
  };
}

/**
 * The usual split for the simulator's windows: out of sample the last `outOfSample` window
 * ending at `end`, in sample the `inSample` window ending where that one starts. With the
 * defaults, eleven months to choose in and the last month to judge.
 */
export function walkForwardRanges(
  end: number,
  inSample: Window = '1y',
  outOfSample: Window = '1m',
): { inSample: TimeRange; outOfSample: TimeRange } {
  const out = windowRange(end, outOfSample);
  const whole = windowRange(end, inSample);
  if (whole.start >= out.start)
    throw new RangeError(
      `walkForwardRanges: ${inSample} leaves nothing in sample before the last ${outOfSample}`,
    );
  return { inSample: { start: whole.start, end: out.start }, outOfSample: out };
}

/** A fraction as a signed percentage with one decimal: +2.1%, -0.4%. */
export function signedPercent(x: number): string {
  const text = `${(x * 100).toFixed(1)}%`;
  return x >= 0 && !text.startsWith('-') ? `+${text}` : text;
}
