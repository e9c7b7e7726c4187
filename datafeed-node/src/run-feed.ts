import type { Exchange } from 'ccxt';
import type { Logger } from 'pino';
import type { Bus, Signer } from '@appliance/protocol';
import type { Candle, FillCosts } from '@appliance/trading-core';
import { pollCandles, type PollStats } from './ccxt-poller.js';
import { gapMessage, resolveReplayFiles } from './csv-candles.js';
import { Datafeed, type DatafeedStats } from './datafeed.js';
import type { EligibilityGate } from './eligibility.js';
import type { HousePolicySource } from './house-policy.js';
import { FeedError } from './errors.js';
import { FeedReportBuilder, FeedReporter } from './feed-reporter.js';
import { VenueMeter } from './venue-meter.js';
import { replayCandles } from './replay.js';
import { streamsOf, type StreamChoice } from './streams.js';
import { syntheticCandles } from './synthetic.js';

export type FeedSource =
  | {
      kind: 'replay';
      files: string[];
      speed: number | 'max';
      from?: number;
      limit?: number;
      /** The pair of a file not named like binance_BTC-USDT_1h.csv; one file only. */
      symbol?: string;
      /** The timeframe of every file (a name that says another is refused). */
      timeframe?: string;
    }
  | { kind: 'live'; exchange: Exchange; symbols: string[]; timeframe: string; pollMs?: number }
  | {
      kind: 'synthetic';
      symbols: string[];
      speed: number | 'max';
      stepMs?: number;
      seed?: number;
      limit?: number;
    };

/** `stream` and `strategy` for one algorithm, or `streams` for several (see DatafeedOptions). */
export interface RunFeedOptions extends StreamChoice {
  bus: Bus;
  signer: Signer;
  logger: Logger;
  origin: string;
  seed: number;
  ttlMs: number;
  costs: FillCosts;
  source: FeedSource;
  signal?: AbortSignal;
  now?: () => number;
  /** Keeps each stream's house portfolio to eligible symbols (see DatafeedOptions); none: no limit. */
  eligibility?: EligibilityGate;
  /** Holds each stream's house portfolio to the house policy (see DatafeedOptions); none: no limit. */
  housePolicy?: HousePolicySource;
  /** Called with each candle handled, for progress output. */
  onProgress?: (stats: DatafeedStats, symbol: string, candle: Candle) => void;
  /**
   * Publish a signed feed report (venue calls, newest candles, house equity) on `feed-reports`
   * this often, in ms; 0 or none: no reports. The venue is the ccxt exchange's id when live,
   * else `replay` or `synthetic` (no calls).
   */
  reportEveryMs?: number;
}

export interface FeedResult extends DatafeedStats {
  error?: string;
  /** Runs of missing candles reported (warn log each); the feed went on over them. */
  gaps: number;
  /** Live candles refused as unsound (warn log each). */
  refused: number;
}

/** Wires a market data source to a Datafeed and runs it until the source ends or is aborted. */
export async function runFeed(o: RunFeedOptions): Promise<FeedResult> {
  const counts: PollStats = { gaps: 0, refused: 0 };
  const meter = new VenueMeter(o.source.kind === 'live' ? venueName(o.source.exchange.id) : o.source.kind);
  let opened: ReturnType<typeof openSource>;
  try {
    opened = openSource(o.source, o.signal, o.logger, counts, meter);
  } catch (err) {
    if (err instanceof FeedError) {
      o.logger.error({ code: err.code }, err.message);
      return { ...emptyStats(o.seed), ...counts, error: `${err.code}: ${err.message}` };
    }
    throw err;
  }
  const { symbols, timeframe, candles } = opened;
  if (o.source.kind === 'synthetic')
    o.logger.warn('SYNTHETIC market data: signals on this stream are not real');
  let feed: Datafeed;
  try {
    feed = new Datafeed({
      bus: o.bus,
      signer: o.signer,
      logger: o.logger,
      origin: o.origin,
      seed: o.seed,
      ttlMs: o.ttlMs,
      costs: o.costs,
      streams: streamsOf(o),
      symbols,
      timeframe,
      quote: 'USDT',
      now: o.now,
      eligibility: o.eligibility,
      housePolicy: o.housePolicy,
    });
  } catch (err) {
    // Nothing was read yet: the source's generator has not started, so there is nothing to close.
    if (err instanceof FeedError) {
      o.logger.error({ code: err.code }, err.message);
      return { ...emptyStats(o.seed), ...counts, error: `${err.code}: ${err.message}` };
    }
    throw err;
  }
  const now = o.now ?? Date.now;
  const report = new FeedReportBuilder({ venue: meter, now });
  report.house(feed.stats().equity);
  const reporter = o.reportEveryMs
    ? new FeedReporter({
        bus: o.bus,
        signer: o.signer,
        logger: o.logger,
        origin: o.origin,
        everyMs: o.reportEveryMs,
        builder: report,
      })
    : undefined;
  // Aborted (SIGTERM): no report from here on, even before the source notices.
  const stopReports = () => void reporter?.stop();
  o.signal?.addEventListener('abort', stopReports, { once: true });
  if (!o.signal?.aborted) reporter?.start();
  let lastProgress = 0;
  try {
    for await (const { symbol, candle } of candles) {
      const receivedAt = now();
      await feed.onCandle(symbol, candle);
      const s = feed.stats();
      report.candle(symbol, timeframe, candle.time, receivedAt);
      report.house(s.equity);
      o.onProgress?.(s, symbol, candle);
      if (s.candles - lastProgress >= 1000) {
        lastProgress = s.candles;
        o.logger.info({ ...s, at: new Date(candle.time).toISOString() }, 'replay progress');
      }
    }
    return { ...feed.stats(), ...counts };
  } catch (err) {
    if (err instanceof FeedError) {
      o.logger.error({ code: err.code }, err.message);
      return { ...feed.stats(), ...counts, error: `${err.code}: ${err.message}` };
    }
    throw err;
  } finally {
    o.signal?.removeEventListener('abort', stopReports);
    await reporter?.stop();
  }
}

/** The ccxt exchange id as a report names the venue (ccxt's ids are lowercase already). */
function venueName(id: unknown): string {
  const name = String(id).toLowerCase();
  return /^[a-z0-9][a-z0-9._-]{0,63}$/.test(name) ? name : 'unknown';
}

function emptyStats(seed: number): DatafeedStats {
  return { candles: 0, signals: 0, fills: 0, equity: seed, ledgerBalanced: true };
}

function openSource(
  source: FeedSource,
  signal: AbortSignal | undefined,
  logger: Logger,
  counts: PollStats,
  meter: VenueMeter,
): { symbols: string[]; timeframe: string; candles: AsyncIterable<{ symbol: string; candle: Candle }> } {
  if (source.kind === 'replay') {
    const files = resolveReplayFiles(source.files, { symbol: source.symbol, timeframe: source.timeframe });
    return {
      symbols: files.map((d) => d.symbol),
      timeframe: files[0]!.timeframe,
      candles: replayCandles(files, {
        speed: source.speed,
        from: source.from,
        limit: source.limit,
        signal,
        // The documented rule: a gap is reported and the replay goes on.
        onGap: (g) => {
          counts.gaps++;
          logger.warn(
            {
              file: g.path,
              line: g.line,
              symbol: g.symbol,
              after: new Date(g.after).toISOString(),
              before: new Date(g.before).toISOString(),
              missing: g.missing,
            },
            gapMessage(g),
          );
        },
      }),
    };
  }
  if (source.kind === 'live') {
    return {
      symbols: source.symbols,
      timeframe: source.timeframe,
      candles: mergeLive(source, signal, logger, counts, meter),
    };
  }
  return { symbols: source.symbols, timeframe: '1h', candles: synthetic(source, signal) };
}

async function* mergeLive(
  source: Extract<FeedSource, { kind: 'live' }>,
  signal: AbortSignal | undefined,
  logger: Logger,
  counts: PollStats,
  meter: VenueMeter,
) {
  // One poller per symbol, interleaved round-robin; each poller only yields closed candles.
  const pollers = source.symbols.map((symbol) => ({
    symbol,
    it: pollCandles({
      exchange: source.exchange,
      symbol,
      timeframe: source.timeframe,
      pollMs: source.pollMs ?? 10_000,
      signal,
      logger,
      stats: counts,
      venue: meter,
    }),
  }));
  const pending = new Map(pollers.map((p) => [p.symbol, p.it.next().then((r) => ({ p, r }))]));
  while (pending.size > 0 && !signal?.aborted) {
    const { p, r } = await Promise.race(pending.values());
    if (r.done) {
      pending.delete(p.symbol);
      continue;
    }
    pending.set(
      p.symbol,
      p.it.next().then((r2) => ({ p, r: r2 })),
    );
    yield { symbol: p.symbol, candle: r.value };
  }
}

async function* synthetic(
  source: Extract<FeedSource, { kind: 'synthetic' }>,
  signal: AbortSignal | undefined,
) {
  const stepMs = source.stepMs ?? 3_600_000;
  const start = Math.floor(Date.now() / stepMs) * stepMs - 1000 * stepMs;
  const gens = source.symbols.map((symbol, i) => ({
    symbol,
    gen: syntheticCandles({ start, stepMs, price: 100 * (i + 1), seed: (source.seed ?? 42) + i }),
  }));
  const perCandleMs = source.speed === 'max' ? 0 : stepMs / source.speed;
  for (let n = 0; !signal?.aborted && (source.limit === undefined || n < source.limit); n++) {
    for (const g of gens) yield { symbol: g.symbol, candle: g.gen.next().value as Candle };
    if (perCandleMs > 0) await new Promise((r) => setTimeout(r, perCandleMs));
  }
}
