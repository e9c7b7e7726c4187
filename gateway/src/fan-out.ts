import { offsetGreater, type BusMessage } from '@appliance/protocol';
import type { GatewayMetrics } from './metrics.js';
import type { Sessions } from './session.js';
import type { StreamStore } from './stream-store.js';

/** Longest stretch of fan-out before the event loop gets a turn (pings, health checks, reads). */
const FANOUT_SLICE_MS = 20;

export interface FanOutDeps {
  streams: StreamStore;
  sessions: Sessions;
  metrics: GatewayMetrics;
  now: () => number;
}

/** Live signals: each record of the signals topic, once stored, goes to every ready device owed it. */
export function createFanOut({ streams, sessions, metrics, now }: FanOutDeps) {
  const { all, cursorOf, deliver } = sessions;
  let relayed = 0;
  /** When the current turn of the event loop began handling signals (undefined: not busy). */
  let turnStartedAt: number | undefined;

  /**
   * A burst of signals fanned out to thousands of devices would hold the event loop for
   * seconds: pings and /healthz unanswered, HAProxy would mark the gateway down and cut every
   * device. So past a few milliseconds of fan-out the next record waits for the next turn
   * (the bus awaits this handler before delivering the next record of a partition).
   */
  function noteTurn(): void {
    if (turnStartedAt !== undefined) return;
    turnStartedAt = performance.now();
    setImmediate(() => (turnStartedAt = undefined));
  }

  function yieldIfBusy(): Promise<void> | undefined {
    if (performance.now() - (turnStartedAt ?? Infinity) < FANOUT_SLICE_MS) return undefined;
    return new Promise((resolve) => setImmediate(resolve));
  }

  /** The signals topic's handler. */
  function onSignal(m: BusMessage): Promise<void> | undefined {
    noteTurn();
    const signal = streams.take(m);
    if (!signal) return undefined;
    const { stream, frame } = signal;
    for (const s of all) {
      if (!s.ready) continue;
      const cursor = cursorOf(s, stream);
      if (cursor !== undefined && !offsetGreater(m.offset, cursor)) continue;
      s.cursors.set(stream, m.offset);
      if (deliver(s, frame)) relayed++;
    }
    metrics.lag.observe(Math.max(0, now() - m.timestamp) / 1000);
    return yieldIfBusy();
  }

  return {
    onSignal,
    /** Live signals sent to devices since start (catch-ups not counted). */
    relayed: () => relayed,
  };
}
