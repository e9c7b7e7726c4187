import type { AdaptiveConfig } from './config.js';
import type { RollingQuantile } from './rolling-quantile.js';
import { LEVEL_RANK, type BreakerInput, type BreakerLevel, type InputReading } from './types.js';

/** The thresholds in force for one reading, and the history quantile they came from (if any). */
export interface Thresholds {
  caution: number;
  halt: number;
  /** The caution rule's quantile of the history, or the prior; null while the floors apply. */
  usual: number | null;
}

type Rules = Pick<AdaptiveConfig, 'minHistory' | 'caution' | 'halt'>;

/**
 * `max(floor, factor × Q(quantile))` per level over the input's own history; the floors alone
 * until the history holds `minHistory` values, unless a `prior` stands in for the quantile
 * (staleness uses the bar length). Halt is never below caution.
 */
export function adaptiveThresholds(rules: Rules, history: RollingQuantile, prior?: number): Thresholds {
  const ready = history.size >= rules.minHistory;
  const q = (quantile: number): number | null => (ready ? history.quantile(quantile) : (prior ?? null));
  const qc = q(rules.caution.quantile);
  const qh = q(rules.halt.quantile);
  const caution = Math.max(rules.caution.floor, qc === null ? 0 : rules.caution.factor * qc);
  const halt = Math.max(rules.halt.floor, qh === null ? 0 : rules.halt.factor * qh, caution);
  return { caution, halt, usual: qc };
}

/** What a value asks for against its thresholds, compared by magnitude (a z-score either way). */
function wants(value: number, caution: number, halt: number): BreakerLevel {
  const m = Math.abs(value);
  return m >= halt ? 'halt' : m >= caution ? 'caution' : 'normal';
}

export function makeReading(
  input: BreakerInput,
  scope: string,
  value: number,
  t: { caution: number; halt: number },
  text: string,
): InputReading {
  return {
    input,
    scope,
    value,
    caution: t.caution,
    halt: t.halt,
    wants: wants(value, t.caution, t.halt),
    text,
  };
}

/** The threshold of `level` in a reading (0 for normal). */
export function thresholdOf(r: InputReading, level: BreakerLevel): number {
  return level === 'halt' ? r.halt : level === 'caution' ? r.caution : 0;
}

/** Stricter first, then by how far past its caution threshold. */
export function bySeverity(a: InputReading, b: InputReading): number {
  return (
    LEVEL_RANK[b.wants] - LEVEL_RANK[a.wants] || Math.abs(b.value) / b.caution - Math.abs(a.value) / a.caution
  );
}
