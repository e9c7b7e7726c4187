import type { Exchange } from 'ccxt';
import type { Logger } from 'pino';
import { Backoff, type BackoffPolicy } from '@appliance/protocol';
import type { Candle } from '@appliance/trading-core';
import { feedCandleProblem } from './candle-check.js';
import { FeedError } from './errors.js';
import type { VenueMeter } from './venue-meter.js';

/**
 * Waits after a failed fetchOHLCV, instead of the poll interval: 1 s doubling to 60 s, equal
 * jitter so that feeds polling one exchange do not retry in step. Only this read is retried:
 * it has no effect on the exchange, so asking again is always safe.
 */
export const DEFAULT_POLL_RETRY: BackoffPolicy = { initialMs: 1_000, maxMs: 60_000, jitter: 'equal' };

export interface PollOptions {
  exchange: Exchange;
  symbol: string;
  timeframe: string;
  /** How often to ask for new candles. */
  pollMs: number;
  /** Emit closed candles from this time on (default: the latest closed one). */
  since?: number;
  signal?: AbortSignal;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** Consecutive failures tolerated before giving up with E_SOURCE. */
  maxFailures?: number;
  /** Wait after each failure (default DEFAULT_POLL_RETRY); a success goes back to `pollMs`. */
  retry?: BackoffPolicy;
  /** Randomness in [0, 1) for the retry jitter (injected in tests). */
  random?: () => number;
  onError?: (err: unknown) => void;
  /** Where refused candles and gaps are reported (at warn). */
  logger?: Pick<Logger, 'warn'>;
  /** Counters, updated as the poller goes (pass one object to read them). */
  stats?: PollStats;
  /** Counts each fetchOHLCV call, its failures and latency, for the feed report. */
  venue?: Pick<VenueMeter, 'measure'>;
}

export interface PollStats {
  /** Closed candles refused because they are not sound (each counted once). */
  refused: number;
  /** Runs of missing candles between two emitted ones. */
  gaps: number;
}

/**
 * Live candles from ccxt `fetchOHLCV`, polled. Only closed candles are emitted (the newest bar
 * an exchange returns is still forming), each once, in order.
 */
export async function* pollCandles(o: PollOptions): AsyncGenerator<Candle> {
  const now = o.now ?? Date.now;
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const tfMs = o.exchange.parseTimeframe(o.timeframe) * 1000;
  let last = o.since === undefined ? undefined : o.since - 1;
  const retry = new Backoff(o.retry ?? DEFAULT_POLL_RETRY, o.random);
  const stats = o.stats ?? { refused: 0, gaps: 0 };
  const refusedTimes = new Set<number>();
  while (!o.signal?.aborted) {
    try {
      const since = last === undefined ? undefined : last + 1;
      const fetch = () => o.exchange.fetchOHLCV(o.symbol, o.timeframe, since, 500);
      const rows = await (o.venue ? o.venue.measure(fetch) : fetch());
      retry.reset();
      const closed = rows
        .map(([time, open, high, low, close, volume]) => ({ time, open, high, low, close, volume }) as Candle)
        // A row without a usable time is kept here so that it is refused (and reported) below.
        .filter((c) => !Number.isFinite(c.time) || c.time + tfMs <= now());
      // First poll with no `since`: start from the latest closed candle, not the whole history.
      const fresh =
        last === undefined
          ? closed.slice(-1)
          : closed.filter((c) => !Number.isFinite(c.time) || c.time > last!);
      for (const c of fresh) {
        const problem = feedCandleProblem(c);
        if (problem !== null) {
          // Not emitted; reported once even though later polls fetch it again.
          if (!refusedTimes.has(c.time)) {
            refusedTimes.add(c.time);
            stats.refused++;
            o.logger?.warn(
              {
                symbol: o.symbol,
                timeframe: o.timeframe,
                time: c.time,
                reason: problem,
                refused: stats.refused,
              },
              `refused ${o.symbol} ${o.timeframe} candle at ${String(c.time)}: ${problem}`,
            );
          }
          continue;
        }
        if (last !== undefined && c.time - last > tfMs) {
          stats.gaps++;
          const missing = Math.round((c.time - last) / tfMs) - 1;
          o.logger?.warn(
            { symbol: o.symbol, timeframe: o.timeframe, after: last, before: c.time, missing },
            `gap: ${missing} ${o.symbol} ${o.timeframe} candle${missing === 1 ? '' : 's'} missing between ${new Date(last).toISOString()} and ${new Date(c.time).toISOString()}`,
          );
        }
        last = c.time;
        for (const t of refusedTimes) if (t <= last) refusedTimes.delete(t);
        yield c;
      }
    } catch (err) {
      o.onError?.(err);
      const wait = retry.next();
      if (retry.attempt >= (o.maxFailures ?? 10)) {
        throw new FeedError(
          'E_SOURCE',
          `fetchOHLCV ${o.symbol} failed ${retry.attempt} times: ${(err as Error).message}`,
        );
      }
      await sleep(wait);
      continue;
    }
    await sleep(o.pollMs);
  }
}
