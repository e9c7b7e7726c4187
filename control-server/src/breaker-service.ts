import type { Logger } from 'pino';
import { z } from 'zod';
import {
  MAX_BREAKER_ASSETS,
  isProtocolError,
  timeframeMs as timeframeMsOf,
  verifyFeedReport,
  type BusMessage,
  type CandleMessage,
  type KeyRing,
} from '@appliance/protocol';
import {
  Breaker,
  LEVEL_RANK,
  MARKET,
  type BreakerConfigInput,
  type BreakerEvent,
  type BreakerSnapshot,
  type ScopeLevel,
} from '@appliance/trading-core';
import type { RequestOrigin } from './audit.js';
import type { Store } from './store/database.js';
import {
  BreakerApiError,
  BreakerOverrideTable,
  BreakerScopeName,
  type StoredOverride,
} from './breaker-overrides.js';

/** What the breaker control message carries: the market's level and the assets with their own. */
export interface BreakerBody extends ScopeLevel {
  assets?: Record<string, ScopeLevel>;
}

/** A feed report is about 1 KB per 10 symbols; far larger is refused before it is parsed. */
const MAX_FEED_REPORT_BYTES = 256 * 1024;
/** Changes are published together at most this often (a catch-up of retained candles trips many). */
const PUBLISH_COALESCE_MS = 250;
/** The operator's view keeps this many of the latest events. */
const RECENT_EVENTS = 200;

const DEFAULT_BREAKER_TICK_MS = 5_000;

/** Why a record on the feed-reports topic was not taken (counted, logged like dropped candles). */
export type FeedReportDrop = 'too-large' | 'malformed' | 'refused' | 'old';

export interface BreakerServiceOptions {
  /** Where overrides are kept (the `breaker_overrides` table); `Store.open(':memory:')` in tests. */
  store: Store;
  /** The breaker's thresholds and windows (trading-core's BreakerConfig); defaults when absent. */
  config?: BreakerConfigInput;
  /**
   * A pair of the quote stablecoin against a second one (`USDC/USDT`): its candles are read as the
   * peg (the quote priced 1/close in the other), never as a traded asset.
   */
  pegSymbol?: string;
  /** The datafeeds' public keys: only feed reports they signed are read. */
  feedKeys: KeyRing;
  /** Publishes the breaker's state as a signed control message (the ControlPublisher). */
  publish: (body: BreakerBody) => Promise<void>;
  logger: Logger;
  now: () => number;
  tickMs?: number;
}

const OverrideRequest = z.strictObject({
  scope: BreakerScopeName,
  level: z.enum(['normal', 'caution', 'halt']),
  reason: z.string().trim().min(1, 'reason: say why, for the people who will see it').max(300),
  /** Lapses by itself at this time (ms since the epoch) … */
  expiresAt: z.number().int().positive().optional(),
  /** … or this long from now. */
  expiresInMs: z
    .number()
    .int()
    .positive()
    .max(366 * 24 * 3_600_000)
    .optional(),
  /** Who sets it, shown with it. */
  operator: z.string().trim().min(1).max(64).optional(),
});
const ClearRequest = z.strictObject({
  scope: BreakerScopeName,
  operator: z.string().trim().min(1).max(64).optional(),
});

/**
 * The adaptive circuit breaker as a service: trading-core's pure `Breaker`, fed with every
 * verified candle (its publication time as the time it arrived, so a catch-up of retained
 * candles reads as it happened), with the datafeeds' signed reports on their venue and the house
 * portfolio, and with time; its level changes go out as one signed control message, coalesced.
 * Operators' overrides are written durably before they take effect.
 */
export class BreakerService {
  readonly #o: BreakerServiceOptions;
  readonly #breaker: Breaker;
  readonly #file: BreakerOverrideTable;
  #overrides: StoredOverride[];
  readonly #events: (BreakerEvent & { rebuilt?: boolean })[] = [];
  /** The machine's clock: never goes back, whatever order the inputs arrive in. */
  #clock = 0;
  readonly #lastBar = new Map<string, number>();
  /** Per datafeed: the newest report's time, and its house portfolio's equity. */
  readonly #feeds = new Map<string, { ts: number; equity?: number }>();
  readonly #feedDrops: Record<FeedReportDrop, number> = { 'too-large': 0, malformed: 0, refused: 0, old: 0 };
  #timer: NodeJS.Timeout | undefined;
  #flush: NodeJS.Timeout | undefined;
  #publishing: Promise<void> = Promise.resolve();
  #live = false;

  private constructor(o: BreakerServiceOptions, file: BreakerOverrideTable, overrides: StoredOverride[]) {
    this.#o = o;
    this.#breaker = new Breaker(o.config);
    this.#file = file;
    this.#overrides = overrides;
  }

  static async open(o: BreakerServiceOptions): Promise<BreakerService> {
    const { file, overrides } = await BreakerOverrideTable.read(o.store);
    const now = o.now();
    const live = overrides.filter((v) => v.expiresAt === null || v.expiresAt > now);
    const service = new BreakerService(o, file, live);
    for (const v of live) service.#apply(service.#breaker.setOverride(v.scope, v, service.#at(now)));
    if (live.length !== overrides.length) await file.write(live);
    return service;
  }

  /** Starts the clock (staleness, silence, expiry, easing) and publishes the state now. */
  async start(): Promise<void> {
    this.#live = true;
    this.#timer = setInterval(() => this.tick(), this.#o.tickMs ?? DEFAULT_BREAKER_TICK_MS);
    this.#timer.unref();
    await this.#publishNow();
  }

  stop(): void {
    clearInterval(this.#timer);
    clearTimeout(this.#flush);
  }

  /** The machine's time for an input that happened at `at` (clamped: never before the last). */
  #at(at: number): number {
    this.#clock = Math.max(this.#clock, at);
    return this.#clock;
  }

  /** One verified candle, newer than any taken for its symbol (the candle intake sees to that). */
  onCandle(c: CandleMessage, publishedAt: number): void {
    const at = this.#at(Math.min(publishedAt, this.#o.now()));
    const last = this.#lastBar.get(c.symbol);
    // A bar re-published while it forms, or one older than held: its close is not news.
    if (last !== undefined && c.time <= last) return;
    this.#lastBar.set(c.symbol, c.time);
    if (c.symbol === this.#o.pegSymbol) {
      this.#apply(this.#breaker.peg(1 / c.close, at));
      return;
    }
    // The candle schema admits only what `timeframeMs` reads.
    const timeframeMs = timeframeMsOf(c.timeframe)!;
    this.#apply(this.#breaker.candle({ symbol: c.symbol, time: c.time, close: c.close, timeframeMs }, at));
  }

  /** One record of the feed-reports topic: verified against the feed keys, newest per datafeed. */
  onFeedReport(m: Pick<BusMessage, 'value' | 'partition' | 'offset'>): 'accepted' | FeedReportDrop {
    if (m.value.length > MAX_FEED_REPORT_BYTES) return this.#dropReport('too-large', m);
    let input: unknown;
    try {
      input = JSON.parse(m.value.toString());
    } catch {
      return this.#dropReport('malformed', m);
    }
    const now = this.#o.now();
    let report;
    try {
      report = verifyFeedReport(input, this.#o.feedKeys, { now });
    } catch (err) {
      if (!isProtocolError(err)) throw err;
      return this.#dropReport('refused', m, `${err.code}: ${err.message.slice(0, 200)}`);
    }
    const held = this.#feeds.get(report.origin);
    if (held && report.ts <= held.ts) return this.#dropReport('old', m);
    this.#feeds.set(report.origin, { ts: report.ts, equity: report.house?.equity ?? held?.equity });
    const at = this.#at(now);
    const v = report.venue;
    this.#apply(
      this.#breaker.venue(
        { venue: v.name, requests: v.requests, errors: v.errors, latencyP99Ms: v.latencyP99Ms },
        at,
      ),
    );
    if (report.house) {
      // The house portfolios of every datafeed, summed: the fleet's virtual book.
      let equity = 0;
      for (const f of this.#feeds.values()) equity += f.equity ?? 0;
      this.#apply(this.#breaker.houseEquity(equity, at));
    }
    return 'accepted';
  }

  tick(): void {
    this.#apply(this.#breaker.tick(this.#at(this.#o.now())));
  }

  /** An operator's level for a scope; durable before it applies. Throws BreakerApiError(E_INVALID). */
  async setOverride(body: unknown, from: RequestOrigin): Promise<StoredOverride> {
    const r = parse(OverrideRequest, body);
    const now = this.#o.now();
    if (r.expiresAt !== undefined && r.expiresInMs !== undefined)
      throw new BreakerApiError('E_INVALID', 'give expiresAt or expiresInMs, not both');
    const expiresAt = r.expiresAt ?? (r.expiresInMs === undefined ? null : now + r.expiresInMs);
    if (expiresAt !== null && expiresAt <= now)
      throw new BreakerApiError('E_INVALID', 'expiresAt: must be in the future');
    const stored: StoredOverride = {
      scope: r.scope,
      level: r.level,
      reason: r.reason,
      by: r.operator ?? `operator at ${from.remote}`,
      setAt: now,
      expiresAt,
    };
    const next = [...this.#overrides.filter((v) => v.scope !== r.scope), stored];
    await this.#file.write(next);
    this.#overrides = next;
    this.#apply(this.#breaker.setOverride(stored.scope, stored, this.#at(now)));
    this.#o.logger.warn({ ...stored, from }, 'breaker override set');
    return stored;
  }

  async clearOverride(body: unknown, from: RequestOrigin): Promise<{ cleared: string }> {
    const r = parse(ClearRequest, body);
    if (!this.#overrides.some((v) => v.scope === r.scope))
      throw new BreakerApiError('E_NO_OVERRIDE', `no override on ${r.scope}`);
    const next = this.#overrides.filter((v) => v.scope !== r.scope);
    await this.#file.write(next);
    this.#overrides = next;
    const by = r.operator ?? `operator at ${from.remote}`;
    this.#apply(this.#breaker.clearOverride(r.scope, by, this.#at(this.#o.now())));
    this.#o.logger.warn({ scope: r.scope, by, from }, 'breaker override cleared');
    return { cleared: r.scope };
  }

  /** What devices are told: the market's level and every asset with a level of its own. */
  body(): BreakerBody {
    const snapshot = this.#breaker.snapshot();
    const assets = Object.values(snapshot.assets)
      .filter((a) => a.level !== 'normal')
      .sort((a, b) => LEVEL_RANK[b.level] - LEVEL_RANK[a.level] || a.scope.localeCompare(b.scope))
      .slice(0, MAX_BREAKER_ASSETS);
    const market = this.#breaker.level(MARKET);
    return {
      ...market,
      ...(assets.length > 0 && {
        assets: Object.fromEntries(
          assets.map((a) => [a.scope, { level: a.level, multiplier: a.multiplier, reason: a.reason }]),
        ),
      }),
    };
  }

  /** The operator's view: every scope with its readings, the overrides and the latest events. */
  view(): {
    snapshot: BreakerSnapshot;
    published: BreakerBody;
    overrides: StoredOverride[];
    events: BreakerEvent[];
    feeds: Record<string, { lastReportAt: number }>;
    feedReportsDropped: Record<FeedReportDrop, number>;
  } {
    return {
      snapshot: this.#breaker.snapshot(),
      published: this.body(),
      overrides: [...this.#overrides],
      events: [...this.#events].reverse(),
      feeds: Object.fromEntries([...this.#feeds].map(([k, v]) => [k, { lastReportAt: v.ts }])),
      feedReportsDropped: { ...this.#feedDrops },
    };
  }

  /** The live events, newest first, from the `breaker_events` table (kept across restarts). */
  history(limit: number, scope?: string): (BreakerEvent & { seq: number })[] {
    const rows = (
      scope === undefined
        ? this.#o.store.db
            .prepare('SELECT seq, event FROM breaker_events ORDER BY seq DESC LIMIT ?')
            .all(limit)
        : this.#o.store.db
            .prepare('SELECT seq, event FROM breaker_events WHERE scope = ? ORDER BY seq DESC LIMIT ?')
            .all(scope, limit)
    ) as { seq: number; event: string }[];
    return rows.map((r) => ({ ...(JSON.parse(r.event) as BreakerEvent), seq: r.seq }));
  }

  #apply(events: BreakerEvent[]): void {
    if (events.length === 0) return;
    // Written as they happen; events rebuilt from retained candles at start were written then.
    if (this.#live) this.#record(events);
    let changed = false;
    for (const e of events) {
      this.#events.push(this.#live ? e : { ...e, rebuilt: true });
      if (this.#events.length > RECENT_EVENTS) this.#events.shift();
      if (e.type === 'BreakerTripped' || e.type === 'BreakerEased') {
        changed = true;
        const line = { scope: e.scope, from: e.from, to: e.to, reason: e.reason, at: e.at };
        if (e.type === 'BreakerTripped') this.#o.logger.warn(line, `breaker tripped: ${e.scope} ${e.to}`);
        else this.#o.logger.info(line, `breaker eased: ${e.scope} ${e.to}`);
      } else if (e.type === 'OverrideCleared' && e.expired) {
        this.#overrides = this.#overrides.filter((v) => v.scope !== e.scope);
        this.#file
          .write(this.#overrides)
          .catch((err: unknown) => this.#o.logger.error({ err }, 'breaker overrides: could not write'));
        this.#o.logger.warn({ scope: e.scope }, 'breaker override expired');
      }
    }
    if (changed && this.#live && this.#flush === undefined)
      this.#flush = setTimeout(() => {
        this.#flush = undefined;
        void this.#publishNow();
      }, PUBLISH_COALESCE_MS);
  }

  #record(events: BreakerEvent[]): void {
    const insert = this.#o.store.db.prepare(
      'INSERT INTO breaker_events (at, type, scope, event) VALUES (?, ?, ?, ?)',
    );
    try {
      this.#o.store.db.transaction(() => {
        for (const e of events) insert.run(e.at, e.type, e.scope, JSON.stringify(e));
      })();
    } catch (err) {
      // The history is for people; a failed write must not stop the breaker from acting.
      this.#o.logger.error({ err }, 'breaker: the history could not be written');
    }
  }

  #publishNow(): Promise<void> {
    this.#publishing = this.#publishing
      .then(() => this.#o.publish(this.body()))
      .catch((err: unknown) => this.#o.logger.error({ err }, 'breaker: publishing the level failed'));
    return this.#publishing;
  }

  #dropReport(
    reason: FeedReportDrop,
    m: Pick<BusMessage, 'partition' | 'offset'>,
    error?: string,
  ): FeedReportDrop {
    const count = ++this.#feedDrops[reason];
    if (count <= 10 || count % 1_000 === 0)
      this.#o.logger[reason === 'old' ? 'debug' : 'warn'](
        { partition: m.partition, offset: m.offset, reason, count, error },
        'feed report dropped',
      );
    return reason;
  }
}

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body ?? {});
  if (parsed.success) return parsed.data;
  const i = parsed.error.issues[0];
  throw new BreakerApiError('E_INVALID', `${i?.path.join('.') || 'body'}: ${i?.message}`);
}
