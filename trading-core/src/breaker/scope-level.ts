import { truncate } from './reasons.js';
import { LEVEL_RANK, type BreakerLevel, type ScopeLevel } from './types.js';

/** 1 at normal, `cautionMultiplier` at caution, 0 at halt. */
export function multiplierOf(level: BreakerLevel, cautionMultiplier: number): number {
  return level === 'halt' ? 0 : level === 'caution' ? cautionMultiplier : 1;
}

/**
 * Two levels combined as a device applies them: the stricter level, the smaller multiplier, and
 * the reasons of both when both restrict (the stricter's first); when only one restricts, its
 * reason; when neither does, the first's.
 */
export function stricter(a: ScopeLevel, b: ScopeLevel): ScopeLevel {
  const ra = LEVEL_RANK[a.level];
  const rb = LEVEL_RANK[b.level];
  const first = ra >= rb ? a : b;
  const second = first === a ? b : a;
  let reason = first.reason;
  if (LEVEL_RANK[second.level] > 0 && second.reason !== first.reason)
    reason = truncate(`${first.reason}; ${second.reason}`);
  return { level: first.level, multiplier: Math.min(a.multiplier, b.multiplier), reason };
}
