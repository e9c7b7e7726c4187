import type { Logger } from 'pino';
import {
  MAX_FEED_REPORT_CANDLES,
  MAX_FEED_REPORT_PERIOD_MS,
  MAX_TTL_MS,
  TOPICS,
  createFeedReport,
  type Bus,
  type FeedReport,
  type FeedReportDraft,
  type Signer,
} from '@appliance/protocol';
import { p99, type VenueMeter, type VenueWindow } from './venue-meter.js';

/** How often the datafeed publishes its feed report by default (`--report-every-ms`). */
export const DEFAULT_REPORT_EVERY_MS = 15_000;

/**
 * How long a report stays valid: three periods, so one late or lost report does not make a
 * healthy feed look silent, while a report held back longer cannot mask what came after it.
 */
export function reportTtlMs(everyMs: number): number {
  return Math.min(3 * everyMs, MAX_TTL_MS);
}

type Candles = FeedReportDraft['candles'];

/** One period's report as taken from the builder, and how to give its counts back. */
export interface TakenReport {
  draft: Omit<FeedReportDraft, 'origin' | 'ttlMs'> & { ts: number };
  /** The report was not published: its venue counts go into the next one. */
  putBack(): void;
}

/**
 * What the datafeed knows for its next report: the venue's calls since the last report (a
 * VenueMeter), the newest closed candle of each symbol and when it came, and the house
 * portfolio's equity with its running peak. `take` closes the period at `now` and opens the next.
 */
export class FeedReportBuilder {
  readonly venue: VenueMeter;
  readonly #now: () => number;
  readonly #candles = new Map<string, Candles[string]>();
  #house: { equity: number; peak: number } | undefined;
  #periodStart: number;

  constructor(o: { venue: VenueMeter; now?: () => number }) {
    this.venue = o.venue;
    this.#now = o.now ?? Date.now;
    this.#periodStart = this.#now();
  }

  /** A closed candle of `symbol` was received at `receivedAt` (default now); older bars are ignored. */
  candle(symbol: string, timeframe: string, time: number, receivedAt = this.#now()): void {
    const held = this.#candles.get(symbol);
    if (held && held.time >= time) return;
    // Bounded like the report: symbols beyond the limit are left out (a feed has far fewer).
    if (!held && this.#candles.size >= MAX_FEED_REPORT_CANDLES) return;
    this.#candles.set(symbol, { timeframe, time, receivedAt });
  }

  /** The house portfolio's equity now (summed over the streams); the peak is kept here. */
  house(equity: number): void {
    if (!Number.isFinite(equity) || equity < 0) return;
    this.#house = { equity, peak: Math.max(equity, this.#house?.peak ?? equity) };
  }

  /** Closes the period at now: the report's content, and a fresh period from now. */
  take(): TakenReport {
    const ts = this.#now();
    const start = this.#periodStart;
    this.#periodStart = ts;
    const window = this.venue.take();
    const draft = {
      ts,
      periodMs: Math.min(Math.max(1, ts - start), MAX_FEED_REPORT_PERIOD_MS),
      venue: venueOf(this.venue.name, window),
      candles: Object.fromEntries(this.#candles),
      ...(this.#house ? { house: { ...this.#house } } : {}),
    };
    return {
      draft,
      putBack: () => {
        // Past a day the merged period would be longer than a report may cover: start afresh.
        if (this.#now() - start > MAX_FEED_REPORT_PERIOD_MS) return;
        this.venue.putBack(window);
        this.#periodStart = Math.min(this.#periodStart, start);
      },
    };
  }
}

function venueOf(name: string, w: VenueWindow): FeedReportDraft['venue'] {
  return {
    name,
    requests: w.requests,
    errors: w.errors,
    latencyP99Ms: p99(w.latencies),
    ...(w.lastError !== undefined ? { lastError: w.lastError } : {}),
  };
}

export interface FeedReporterOptions {
  bus: Bus;
  signer: Signer;
  logger: Pick<Logger, 'warn' | 'debug'>;
  origin: string;
  /** Period between reports, ms (> 0). */
  everyMs: number;
  builder: FeedReportBuilder;
}

/**
 * Every `everyMs`, signs the period's report with the datafeed's key and publishes it on
 * `feed-reports`, keyed by origin. A failed publish is logged and its counts go into the next
 * report; nothing stops the feed. After `stop` nothing more is published.
 */
export class FeedReporter {
  readonly #o: FeedReporterOptions;
  #timer: NodeJS.Timeout | undefined;
  #inFlight: Promise<FeedReport | null> | undefined;
  #stopped = false;
  #failures = 0;

  constructor(o: FeedReporterOptions) {
    this.#o = o;
  }

  start(): void {
    if (this.#stopped || this.#timer) return;
    this.#timer = setInterval(() => {
      // A publish slower than the period: this one's counts go into the next.
      if (!this.#inFlight) void this.publish();
    }, this.#o.everyMs);
  }

  /** Signs and publishes the report of the period ending now; null when it was not published. */
  publish(): Promise<FeedReport | null> {
    const run = this.#publish().finally(() => {
      if (this.#inFlight === run) this.#inFlight = undefined;
    });
    this.#inFlight = run;
    return run;
  }

  async #publish(): Promise<FeedReport | null> {
    if (this.#stopped) return null;
    const o = this.#o;
    const taken = o.builder.take();
    // Signed whole before it is handed to the bus: a report is published entire or not at all.
    const report = createFeedReport(
      { ...taken.draft, origin: o.origin, ttlMs: reportTtlMs(o.everyMs) },
      o.signer,
    );
    try {
      await o.bus.publish(TOPICS.feedReports, [{ key: o.origin, value: JSON.stringify(report) }]);
    } catch (err) {
      taken.putBack();
      this.#failures++;
      o.logger.warn(
        { err: (err as Error).message, failures: this.#failures, id: report.id },
        'feed report not published: its counts go into the next one',
      );
      return null;
    }
    this.#failures = 0;
    o.logger.debug({ id: report.id, venue: report.venue }, 'feed report published');
    return report;
  }

  /** No report after this; waits for one being published. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#inFlight;
  }
}
