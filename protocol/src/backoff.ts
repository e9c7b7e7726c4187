/**
 * The one backoff helper: bounded exponential delays with jitter, used by every reconnect and
 * retry loop (the device's gateway connection, the Kafka consumer restart, the datafeed's ccxt
 * poller). Pure: no timers, randomness injected, so tests are deterministic.
 */
export interface BackoffPolicy {
  /** Ceiling of the first delay, in ms; it doubles with each attempt. */
  initialMs: number;
  /** Largest ceiling, in ms. */
  maxMs: number;
  /**
   * `full`: a random delay in [0, ceiling), which spreads a fleet over the whole window (AWS's
   * "full jitter"); `equal`: [ceiling/2, ceiling), spread but never hot-looping; `none`: the
   * ceiling itself.
   */
  jitter: 'full' | 'equal' | 'none';
}

/** Doubling past 2^30 only overflows; the ceiling is long reached by then. */
const MAX_EXPONENT = 30;

/** The delay before retry number `attempt` (0-based), in whole ms. `random` returns [0, 1). */
export function backoffDelay(
  attempt: number,
  policy: BackoffPolicy,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(
    policy.maxMs,
    policy.initialMs * 2 ** Math.min(Math.max(attempt, 0), MAX_EXPONENT),
  );
  switch (policy.jitter) {
    case 'none':
      return Math.floor(ceiling);
    case 'equal':
      return Math.floor(ceiling / 2 + random() * (ceiling / 2));
    case 'full':
      return Math.floor(random() * ceiling);
  }
}

/** A backoff with its attempt counter: `next()` after each failure, `reset()` after a success. */
export class Backoff {
  #attempt = 0;
  constructor(
    readonly policy: BackoffPolicy,
    private readonly random: () => number = Math.random,
  ) {}

  /** Failures since the last reset. */
  get attempt(): number {
    return this.#attempt;
  }

  next(): number {
    return backoffDelay(this.#attempt++, this.policy, this.random);
  }

  reset(): void {
    this.#attempt = 0;
  }
}
