import type { Candle } from '@appliance/trading-core';
import { readCandleCsv, type CandleGap } from './csv-candles.js';

export interface ReplaySource {
  symbol: string;
  path: string;
  /** The file's timeframe; given, gaps are reported through `onGap`. */
  timeframe?: string;
}

export interface ReplayOptions {
  /** Multiple of real time (3600: an hour of candles a second), or 'max' for no pacing. */
  speed: number | 'max';
  /** Skip candles before this time (ms). */
  from?: number;
  /** Stop after this many candles in all. */
  limit?: number;
  signal?: AbortSignal;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** Called for each run of missing candles in a file; the replay goes on. */
  onGap?: (gap: CandleGap & { symbol: string }) => void;
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Replays several candle files as one stream ordered by candle time (a k-way merge), paced so
 * that market time runs `speed` times faster than the wall clock.
 */
export async function* replayCandles(
  sources: ReplaySource[],
  o: ReplayOptions,
): AsyncGenerator<{ symbol: string; candle: Candle }> {
  const now = o.now ?? Date.now;
  const sleep = o.sleep ?? defaultSleep;
  const iters = sources.map((s) => ({
    symbol: s.symbol,
    it: readCandleCsv(s.path, {
      timeframe: s.timeframe,
      // Gaps among candles skipped by `from` are not reported.
      onGap: (g) =>
        o.from === undefined || g.before > o.from ? o.onGap?.({ ...g, symbol: s.symbol }) : undefined,
    }),
    head: undefined as Candle | undefined,
    done: false,
  }));
  const advance = async (x: (typeof iters)[number]) => {
    for (;;) {
      const r = await x.it.next();
      if (r.done) {
        x.done = true;
        x.head = undefined;
        return;
      }
      if (o.from === undefined || r.value.time >= o.from) {
        x.head = r.value;
        return;
      }
    }
  };
  try {
    await Promise.all(iters.map(advance));
    let emitted = 0;
    let wallStart = 0;
    let marketStart = 0;
    while (!o.signal?.aborted && (o.limit === undefined || emitted < o.limit)) {
      let next: (typeof iters)[number] | undefined;
      for (const x of iters) if (x.head && (!next || x.head.time < next.head!.time)) next = x;
      if (!next) return;
      const candle = next.head!;
      if (o.speed !== 'max') {
        if (emitted === 0) {
          wallStart = now();
          marketStart = candle.time;
        }
        const due = wallStart + (candle.time - marketStart) / o.speed;
        const wait = due - now();
        if (wait > 0) await sleep(wait);
      }
      emitted++;
      yield { symbol: next.symbol, candle };
      await advance(next);
    }
  } finally {
    await Promise.all(iters.map((x) => x.it.return(undefined)));
  }
}
