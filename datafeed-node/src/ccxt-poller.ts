import type { Exchange } from 'ccxt';
import { candleProblem, type Candle } from '@appliance/trading-core';
import { FeedError } from './errors.js';

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
  onError?: (err: unknown) => void;
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
  let failures = 0;
  while (!o.signal?.aborted) {
    try {
      const since = last === undefined ? undefined : last + 1;
      const rows = await o.exchange.fetchOHLCV(o.symbol, o.timeframe, since, 500);
      failures = 0;
      const closed = rows
        .map(([time, open, high, low, close, volume]) => ({ time, open, high, low, close, volume }) as Candle)
        .filter((c) => c.time + tfMs <= now() && candleProblem(c) === null);
      // First poll with no `since`: start from the latest closed candle, not the whole history.
      const fresh = last === undefined ? closed.slice(-1) : closed.filter((c) => c.time > last!);
      for (const c of fresh) {
        last = c.time;
        yield c;
      }
    } catch (err) {
      o.onError?.(err);
      if (++failures >= (o.maxFailures ?? 10)) {
        throw new FeedError(
          'E_SOURCE',
          `fetchOHLCV ${o.symbol} failed ${failures} times: ${(err as Error).message}`,
        );
      }
    }
    await sleep(o.pollMs);
  }
}
