import type { Exchange } from 'ccxt';
import type { Logger } from 'pino';
import type { Bus, Signer } from '@appliance/protocol';
import type { Candle, FillCosts, Strategy } from '@appliance/trading-core';
import { pollCandles } from './ccxt-poller.js';
import { describeCsvFile } from './csv-candles.js';
import { Datafeed, type DatafeedStats } from './datafeed.js';
import { FeedError } from './errors.js';
import { replayCandles } from './replay.js';
import { syntheticCandles } from './synthetic.js';

export type FeedSource =
  | { kind: 'replay'; files: string[]; speed: number | 'max'; from?: number; limit?: number }
  | { kind: 'live'; exchange: Exchange; symbols: string[]; timeframe: string; pollMs?: number }
  | {
      kind: 'synthetic';
      symbols: string[];
      speed: number | 'max';
      stepMs?: number;
      seed?: number;
      limit?: number;
    };

export interface RunFeedOptions {
  bus: Bus;
  signer: Signer;
  logger: Logger;
  stream: string;
  origin: string;
  seed: number;
  ttlMs: number;
  costs: FillCosts;
  strategy: () => Strategy;
  source: FeedSource;
  signal?: AbortSignal;
  now?: () => number;
  /** Called with each candle handled, for progress output. */
  onProgress?: (stats: DatafeedStats, symbol: string, candle: Candle) => void;
}

export interface FeedResult extends DatafeedStats {
  error?: string;
}

/** Wires a market data source to a Datafeed and runs it until the source ends or is aborted. */
export async function runFeed(o: RunFeedOptions): Promise<FeedResult> {
  const { symbols, timeframe, candles } = openSource(o.source, o.signal);
  if (o.source.kind === 'synthetic')
    o.logger.warn('SYNTHETIC market data: signals on this stream are not real');
  const feed = new Datafeed({ ...o, symbols, timeframe, quote: 'USDT', now: o.now });
  let lastProgress = 0;
  try {
    for await (const { symbol, candle } of candles) {
      await feed.onCandle(symbol, candle);
      const s = feed.stats();
      o.onProgress?.(s, symbol, candle);
      if (s.candles - lastProgress >= 1000) {
        lastProgress = s.candles;
        o.logger.info({ ...s, at: new Date(candle.time).toISOString() }, 'replay progress');
      }
    }
    return feed.stats();
  } catch (err) {
    if (err instanceof FeedError) {
      o.logger.error({ code: err.code }, err.message);
      return { ...feed.stats(), error: `${err.code}: ${err.message}` };
    }
    throw err;
  }
}

function openSource(
  source: FeedSource,
  signal: AbortSignal | undefined,
): { symbols: string[]; timeframe: string; candles: AsyncIterable<{ symbol: string; candle: Candle }> } {
  if (source.kind === 'replay') {
    const described = source.files.map((path) => {
      const d = describeCsvFile(path);
      if (!d)
        throw new FeedError(
          'E_FILE',
          `${path}: cannot tell symbol and timeframe from the name (expected e.g. binance_BTC-USDT_1h.csv)`,
        );
      return { path, ...d };
    });
    const timeframes = new Set(described.map((d) => d.timeframe));
    if (timeframes.size > 1)
      throw new FeedError('E_FILE', `replay files mix timeframes: ${[...timeframes].join(', ')}`);
    return {
      symbols: described.map((d) => d.symbol),
      timeframe: described[0]!.timeframe,
      candles: replayCandles(described, {
        speed: source.speed,
        from: source.from,
        limit: source.limit,
        signal,
      }),
    };
  }
  if (source.kind === 'live') {
    return { symbols: source.symbols, timeframe: source.timeframe, candles: mergeLive(source, signal) };
  }
  return { symbols: source.symbols, timeframe: '1h', candles: synthetic(source, signal) };
}

async function* mergeLive(source: Extract<FeedSource, { kind: 'live' }>, signal: AbortSignal | undefined) {
  // One poller per symbol, interleaved round-robin; each poller only yields closed candles.
  const pollers = source.symbols.map((symbol) => ({
    symbol,
    it: pollCandles({
      exchange: source.exchange,
      symbol,
      timeframe: source.timeframe,
      pollMs: source.pollMs ?? 10_000,
      signal,
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
