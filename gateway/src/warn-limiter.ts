import type { Logger } from 'pino';

/** How often the same kind of warning is logged at most. */
const WARN_INTERVAL_MS = 10_000;

/**
 * A warning per kind at most once per interval, with how many were left out since: a bus
 * writer flooding bad records must not flood the logs too. Kinds are a fixed, small set.
 */
export function warnLimiter(logger: Logger, now: () => number, intervalMs = WARN_INTERVAL_MS) {
  const last = new Map<string, { at: number; suppressed: number }>();
  return (kind: string, obj: object, msg: string): void => {
    const t = now();
    const held = last.get(kind);
    if (held && t - held.at < intervalMs) {
      held.suppressed++;
      return;
    }
    logger.warn({ ...obj, reason: kind, suppressed: held?.suppressed ?? 0 }, msg);
    last.set(kind, { at: t, suppressed: 0 });
  };
}
