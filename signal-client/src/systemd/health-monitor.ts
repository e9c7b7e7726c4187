import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import {
  DEFAULT_HEALTH_LIMITS,
  healthy,
  type GatewayHealth,
  type HealthLimits,
  type HealthVerdict,
  type JournalHealth,
} from './health.js';
import type { Notifier } from './notifier.js';

export interface HealthMonitorOptions {
  notifier: Notifier;
  /** The state store's durable-write record. */
  journal: () => JournalHealth;
  /** The gateway connection's state. */
  gateway: () => GatewayHealth;
  /** What the client is doing (see describeActivity); sent as STATUS= whenever it changes. */
  status?: () => string;
  limits?: Partial<HealthLimits>;
  /**
   * How often to check, in ms. Default: half the notifier's watchdog interval (a quarter of
   * WatchdogSec), so one check skipped for a passing reason still leaves a ping in time;
   * 10 s when there is no watchdog (STATUS= updates only).
   */
  intervalMs?: number;
  /** Clock for the health decision, the same one `gateway().since` uses. Default Date.now. */
  now?: () => number;
  /** Called when the verdict turns from healthy to not or back (and on a first unhealthy check). */
  onChange?: (verdict: HealthVerdict) => void;
}

export interface HealthMonitor {
  /** Starts checking on a timer (unref'd: it never keeps the process alive). */
  start(): void;
  stop(): void;
  /** One check now: measures, decides, pings the watchdog if healthy, updates STATUS=. */
  check(): HealthVerdict;
  /** The last verdict, for a local status page; null before the first check. */
  readonly last: HealthVerdict | null;
}

const NO_WATCHDOG_INTERVAL_MS = 10_000;
/** Event-loop delay sampling resolution, in ms: fine enough for a 2 s threshold. */
const LOOP_DELAY_RESOLUTION_MS = 20;

/**
 * The shell around `healthy()`: it measures event-loop delay with monitorEventLoopDelay (a
 * libuv timer whose lateness is recorded, so a stall between checks is seen) and with the
 * drift of its own timer, asks the callbacks for the rest, and sends WATCHDOG=1 only on a
 * healthy verdict. A loop blocked outright sends nothing at all, which is the point.
 */
export function createHealthMonitor(options: HealthMonitorOptions): HealthMonitor {
  const { notifier, journal, gateway, status, onChange } = options;
  const limits: HealthLimits = { ...DEFAULT_HEALTH_LIMITS, ...options.limits };
  const now = options.now ?? Date.now;
  const intervalMs =
    options.intervalMs ??
    (notifier.watchdogIntervalMs === null
      ? NO_WATCHDOG_INTERVAL_MS
      : Math.max(1, Math.floor(notifier.watchdogIntervalMs / 2)));
  const delay = monitorEventLoopDelay({ resolution: LOOP_DELAY_RESOLUTION_MS });
  let timer: NodeJS.Timeout | undefined;
  let expectedAt = 0;
  let last: HealthVerdict | null = null;
  let sentStatus: string | undefined;

  function measureLagMs(): number {
    // max is 0 with no samples; the histogram's unit is ns.
    const sampled = delay.max / 1e6;
    const drift = timer === undefined ? 0 : Math.max(0, performance.now() - expectedAt);
    delay.reset();
    return Math.max(sampled, drift);
  }

  function check(): HealthVerdict {
    const loopLagMs = measureLagMs();
    let verdict: HealthVerdict;
    let doing: string | undefined;
    try {
      verdict = healthy({ loopLagMs, journal: journal(), gateway: gateway() }, now(), limits);
      doing = status?.();
    } catch (err) {
      // A callback that throws is a bug somewhere in the client: not healthy, and say so.
      verdict = { ok: false, reasons: [`health check failed: ${(err as Error).message}`] };
    }
    if (verdict.ok) notifier.watchdog();
    const text = verdict.ok ? doing : `unhealthy: ${verdict.reasons.join('; ')}${doing ? ` (${doing})` : ''}`;
    if (text !== undefined && text !== sentStatus && notifier.status(text)) sentStatus = text;
    if (last === null ? !verdict.ok : last.ok !== verdict.ok) onChange?.(verdict);
    last = verdict;
    expectedAt = performance.now() + intervalMs;
    return verdict;
  }

  return {
    start() {
      if (timer) return;
      delay.enable();
      expectedAt = performance.now() + intervalMs;
      timer = setInterval(check, intervalMs);
      timer.unref();
    },
    stop() {
      clearInterval(timer);
      timer = undefined;
      delay.disable();
    },
    check,
    get last() {
      return last;
    },
  };
}
