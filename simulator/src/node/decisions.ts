import { MAX_ELIGIBILITY_REASON_CHARS, type SimulatorDecision } from '@appliance/protocol';
import type { RunMetrics } from '../metrics.js';
import type { SimulationResults } from '../results.js';

/** Figures of the one-year run shown beside a decision (finite numbers only, as the schema wants). */
const SHOWN_METRICS = ['totalReturn', 'sharpe', 'sortino', 'maxDrawdown', 'trades', 'exposure'] as const;

/** One decision per (stream, symbol) judged, and one refusal per (stream, symbol) the plan could not run. */
export function toDecisions(results: SimulationResults): SimulatorDecision[] {
  const reason = (text: string) =>
    text.length <= MAX_ELIGIBILITY_REASON_CHARS
      ? text
      : `${text.slice(0, MAX_ELIGIBILITY_REASON_CHARS - 1)}…`;
  const decisions: SimulatorDecision[] = results.eligibility.map((e) => {
    const year = results.runs.find(
      (r) => r.stream === e.stream && r.symbol === e.symbol && r.window === '1y',
    )?.metrics;
    const metrics = year ? shownMetrics(year) : undefined;
    return {
      stream: e.stream,
      symbol: e.symbol,
      eligible: e.eligible,
      reason: reason(e.reason || (e.eligible ? 'eligible' : 'not eligible')),
      ...(metrics ? { metrics } : {}),
    };
  });
  for (const s of results.skipped)
    if (!decisions.some((d) => d.stream === s.stream && d.symbol === s.symbol))
      decisions.push({
        stream: s.stream,
        symbol: s.symbol,
        eligible: false,
        reason: reason(`not run: ${s.reason}`),
      });
  return decisions;
}

function shownMetrics(m: RunMetrics): Record<string, number> | undefined {
  const out: Record<string, number> = {};
  for (const k of SHOWN_METRICS) {
    const v = m[k];
    if (typeof v === 'number' && Number.isFinite(v)) out[k] = v;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}
