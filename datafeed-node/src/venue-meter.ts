/** Most latency samples one period keeps; beyond it, a uniform sample of them (reservoir). */
export const DEFAULT_MAX_LATENCY_SAMPLES = 10_000;
/** Longest error message a feed report carries (MAX_FEED_REPORT_ERROR_CHARS). */
const MAX_ERROR_CHARS = 200;

/** What the venue did over one period: the calls, the failed ones, how long the others took. */
export interface VenueWindow {
  requests: number;
  errors: number;
  /** Durations of the calls that succeeded, in ms (at most `maxSamples` of them). */
  latencies: number[];
  /** Successful calls seen, sampled or not (the reservoir's denominator). */
  succeeded: number;
  lastError?: string;
}

export interface VenueMeterOptions {
  /** A monotonic clock in ms for durations (default performance.now). */
  clock?: () => number;
  maxSamples?: number;
  /** [0, 1) for the reservoir once a period has more than `maxSamples` successes (default Math.random). */
  random?: () => number;
}

/**
 * Counts every call the datafeed makes to its venue (ccxt), per period: how many, how many threw,
 * how long the successful ones took, and the last failure's message. The one place the calls are
 * measured is `measure`, wrapped around each ccxt call.
 */
export class VenueMeter {
  readonly #clock: () => number;
  readonly #max: number;
  readonly #random: () => number;
  #w: VenueWindow = emptyWindow();

  constructor(
    /** The venue's name in reports: the ccxt exchange id (`binance`), or `replay`. */
    readonly name: string,
    o: VenueMeterOptions = {},
  ) {
    this.#clock = o.clock ?? (() => performance.now());
    this.#max = o.maxSamples ?? DEFAULT_MAX_LATENCY_SAMPLES;
    this.#random = o.random ?? Math.random;
  }

  /** Runs one venue call, counting it; its result or error passes through unchanged. */
  async measure<T>(call: () => Promise<T>): Promise<T> {
    const started = this.#clock();
    let result: T;
    try {
      result = await call();
    } catch (err) {
      this.failed(err);
      throw err;
    }
    this.succeeded(this.#clock() - started);
    return result;
  }

  succeeded(ms: number): void {
    const w = this.#w;
    w.requests++;
    w.succeeded++;
    if (w.latencies.length < this.#max) w.latencies.push(ms);
    else {
      const i = Math.floor(this.#random() * w.succeeded);
      if (i < this.#max) w.latencies[i] = ms;
    }
  }

  failed(err: unknown): void {
    this.#w.requests++;
    this.#w.errors++;
    this.#w.lastError = shortError(err);
  }

  /** The period's window, and a new one from now. */
  take(): VenueWindow {
    const w = this.#w;
    this.#w = emptyWindow();
    return w;
  }

  /**
   * Puts back a window taken but never reported (its report was not published), ahead of what
   * came since: the next report covers both. The newer last error wins.
   */
  putBack(earlier: VenueWindow): void {
    const later = this.#w;
    const latencies = [...earlier.latencies, ...later.latencies];
    this.#w = {
      requests: earlier.requests + later.requests,
      errors: earlier.errors + later.errors,
      latencies: latencies.slice(-this.#max),
      succeeded: earlier.succeeded + later.succeeded,
      ...(later.lastError !== undefined || earlier.lastError !== undefined
        ? { lastError: later.lastError ?? earlier.lastError }
        : {}),
    };
  }
}

function emptyWindow(): VenueWindow {
  return { requests: 0, errors: 0, latencies: [], succeeded: 0 };
}

/** The 99th percentile (nearest rank) of `samples`, or null when there are none. */
export function p99(samples: readonly number[]): number | null {
  if (samples.length === 0) return null;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.ceil(0.99 * sorted.length) - 1]!;
}

/**
 * An error's class and message, short enough for a report and with no URL in it: ccxt puts the
 * request's URL (query string and all) into its messages, and a URL may carry a key or a
 * signature. HTML bodies (a load balancer's 503 page) are reduced to their text.
 */
export function shortError(err: unknown): string {
  const name = err instanceof Error ? err.name : 'Error';
  const message = err instanceof Error ? err.message : String(err);
  const text = `${name}: ${message}`
    .replace(/\b[a-z][a-z0-9+.-]*:\/\/\S+/gi, '<url>')
    .replace(/\b(api[-_]?key|secret|signature|token|password)(["']?\s*[:=]\s*)\S+/gi, '$1$2<redacted>')
    .replace(/<(?!url>|redacted>)[^>]*>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return text.length <= MAX_ERROR_CHARS ? text : `${text.slice(0, MAX_ERROR_CHARS - 1)}…`;
}
