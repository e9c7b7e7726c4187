/*
 * When may the device tell systemd "I am alive" (WATCHDOG=1)? Only when it could actually do
 * its job: the event loop answers, the journal (the durable state file) takes writes, and the
 * gateway is connected or has only just gone away. If not, the pings stop, systemd's
 * watchdog fires after WatchdogSec, and the restart brings the device back from its durable
 * state, which is the one recovery we trust for a process that is wedged in a way we did not
 * foresee. Pure: `now` and every measurement are passed in.
 */

export interface HealthLimits {
  /** Worst event-loop delay tolerated between two checks, in ms. */
  maxLoopLagMs: number;
  /** How long the gateway may stay disconnected before the device counts as unhealthy, in ms. */
  reconnectGraceMs: number;
}

/**
 * 2 s of loop lag: far above a GC pause or a large JSON parse on the T520 (tens to a few
 * hundred ms), far below WatchdogSec (30 s). 10 min of disconnection: long enough to ride out
 * a home router reboot or a gateway failover without restarting, short enough that a socket
 * wedged in a way the reconnect logic does not see is cleared by a restart within the quarter
 * hour. During a real outage the device restarts about every 10 minutes, which is harmless:
 * it resumes from its durable state and connects as soon as it can.
 */
export const DEFAULT_HEALTH_LIMITS: HealthLimits = {
  maxLoopLagMs: 2_000,
  reconnectGraceMs: 10 * 60_000,
};

/** The durable journal, as the state store reports it (times in ms since the epoch). */
export interface JournalHealth {
  /** When the last durable write succeeded; null if none yet (a fresh start writes none). */
  lastOkAt: number | null;
  /** When the last durable write failed; null if none has. */
  lastFailedAt: number | null;
  /** What the last failure said, for the reason text. */
  lastError?: string;
}

export interface GatewayHealth {
  connected: boolean;
  /** When it last connected or disconnected, or when the client started if it never connected. */
  since: number;
}

export interface HealthInputs {
  /** Worst event-loop delay seen since the last check, in ms. */
  loopLagMs: number;
  journal: JournalHealth;
  gateway: GatewayHealth;
}

export interface HealthVerdict {
  ok: boolean;
  /** Why not, one short phrase each, for STATUS= and the log; empty when ok. */
  reasons: string[];
}

const seconds = (ms: number) => `${Math.round(ms / 1000)} s`;

export function healthy(
  inputs: HealthInputs,
  now: number,
  limits: HealthLimits = DEFAULT_HEALTH_LIMITS,
): HealthVerdict {
  const reasons: string[] = [];
  if (!(inputs.loopLagMs <= limits.maxLoopLagMs)) {
    reasons.push(`event loop lag ${Math.round(inputs.loopLagMs)} ms > ${limits.maxLoopLagMs} ms`);
  }
  const { lastOkAt, lastFailedAt, lastError } = inputs.journal;
  // The most recent write decides: a failure followed by a success is a recovered disk.
  if (lastFailedAt !== null && (lastOkAt === null || lastFailedAt >= lastOkAt)) {
    reasons.push(
      `journal write failed ${seconds(now - lastFailedAt)} ago${lastError ? `: ${lastError}` : ''}`,
    );
  }
  const { connected, since } = inputs.gateway;
  if (!connected && now - since > limits.reconnectGraceMs) {
    reasons.push(
      `gateway disconnected for ${seconds(now - since)} (grace ${seconds(limits.reconnectGraceMs)})`,
    );
  }
  return { ok: reasons.length === 0, reasons };
}
