import type { BreakerConfig } from './config.js';
import { duration, latency, pct, times } from './reasons.js';
import { RollingQuantile } from './rolling-quantile.js';
import { adaptiveThresholds, makeReading } from './thresholds.js';
import { MARKET, type InputReading, type VenueReading } from './types.js';

/** One venue's reports: failed share, latency, and the time between reports (for silence). */
export class VenueInputs {
  readonly name: string;
  readonly #cfg: BreakerConfig;
  readonly #errors: RollingQuantile;
  readonly #latency: RollingQuantile;
  readonly #intervals: RollingQuantile;
  #lastReport: number | null = null;

  constructor(name: string, cfg: BreakerConfig) {
    this.name = name;
    this.#cfg = cfg;
    this.#errors = new RollingQuantile(cfg.venueErrors.window);
    this.#latency = new RollingQuantile(cfg.venueLatency.window);
    this.#intervals = new RollingQuantile(cfg.venueSilent.window);
  }

  /** One report (already checked); its readings by kind. */
  onReport(r: VenueReading, now: number): InputReading[] {
    const out: InputReading[] = [];
    if (this.#lastReport !== null) this.#intervals.push(Math.max(0, now - this.#lastReport));
    this.#lastReport = now;
    out.push(this.silent(now));
    if (r.requests > 0) {
      const share = r.errors / r.requests;
      const t = adaptiveThresholds(this.#cfg.venueErrors, this.#errors);
      this.#errors.push(share);
      const text = `venue ${this.name}: ${pct(share, 0)} of ${r.requests} API calls failed`;
      out.push(makeReading('venue-errors', MARKET, share, t, text));
    }
    if (r.latencyP99Ms !== null) {
      const ms = r.latencyP99Ms;
      const t = adaptiveThresholds(this.#cfg.venueLatency, this.#latency);
      const median =
        this.#latency.size >= this.#cfg.venueLatency.minHistory ? this.#latency.quantile(0.5) : 0;
      this.#latency.push(ms);
      const usual = median > 0 ? `, ${times(ms / median)} usual` : '';
      out.push(
        makeReading(
          'venue-latency',
          MARKET,
          ms,
          t,
          `venue ${this.name}: API latency p99 ${latency(ms)}${usual}`,
        ),
      );
    }
    return out;
  }

  /** Time since the last report against the usual interval (evaluated on tick). */
  silent(now: number): InputReading {
    const age = this.#lastReport === null ? 0 : Math.max(0, now - this.#lastReport);
    const t = adaptiveThresholds(this.#cfg.venueSilent, this.#intervals);
    const usual = t.usual === null ? '' : ` (usually every ${duration(t.usual)})`;
    const text = `venue ${this.name}: no report for ${duration(age)}${usual}`;
    return makeReading('venue-silent', MARKET, age, t, text);
  }
}
