import { TOPICS, createSignal, type Bus, type Signer } from '@appliance/protocol';
import { now } from './clock.js';

export const BENCH_STREAM = 'bench.fanout';

export interface BenchSignals {
  /** The signed signals as the datafeed publishes them (`JSON.stringify(signal)`). */
  raw: string[];
  /** Their ids, in the same order: a client maps a received frame back to its index. */
  ids: string[];
}

/**
 * Signs `count` signals once, up front, so every configuration is fed byte-identical records
 * and signing is not part of the publish-to-client time. Their `ts` is the signing time: the
 * schema makes it a whole millisecond, too coarse here, so the publisher records the precise
 * publish time of each index itself (see `Publisher.publish`).
 */
export function makeSignals(count: number, signer: Signer, issuedAt: number): BenchSignals {
  const raw: string[] = [];
  const ids: string[] = [];
  const firstCandle = Math.floor(issuedAt / 60_000) * 60_000 - count * 60_000;
  for (let i = 0; i < count; i++) {
    const signal = createSignal(
      {
        stream: BENCH_STREAM,
        symbol: 'BTC/USDT',
        side: i % 2 === 0 ? 'buy' : 'sell',
        price: 60_000 + (i % 100) * 0.5,
        candleTime: firstCandle + i * 60_000,
        ts: Math.floor(issuedAt),
        ttlMs: 24 * 60 * 60 * 1000,
        strength: 0.75,
        algoVersion: 'bench/1',
        origin: 'bench-feed',
      },
      signer,
    );
    raw.push(JSON.stringify(signal));
    ids.push(signal.id);
  }
  return { raw, ids };
}

export interface PublishRange {
  from: number;
  to: number;
  /** Messages per second, evenly spaced; `null` publishes the range back to back in one tick. */
  ratePerSec: number | null;
}

/** Longest we wait for the bus to acknowledge a phase's publishes before calling it failed. */
const ACK_TIMEOUT_MS = 30_000;

/** Publishes ranges of the pre-signed signals on the signals topic, as a datafeed would. */
export class Publisher {
  constructor(
    private readonly bus: Bus,
    private readonly signals: readonly string[],
  ) {}

  /** Returns, per index of the range, the time just before its `bus.publish` call. */
  async publish({ from, to, ratePerSec }: PublishRange): Promise<number[]> {
    if (from < 0 || to > this.signals.length || from > to) throw new RangeError(`bad range ${from}..${to}`);
    const times: number[] = [];
    const acks: Promise<void>[] = [];
    const interval = ratePerSec === null ? 0 : 1000 / ratePerSec;
    const start = now();
    for (let i = from; i < to; i++) {
      if (interval > 0) {
        // Scheduled against the start, not the previous send, so timer lateness does not add up.
        const wait = start + (i - from) * interval - now();
        if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
      }
      times.push(now());
      // Not awaited: a steady feed does not wait for Kafka's ack before the next signal.
      acks.push(this.bus.publish(TOPICS.signals, [{ key: BENCH_STREAM, value: this.signals[i]! }]));
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`publishes not acknowledged within ${ACK_TIMEOUT_MS} ms`)),
        ACK_TIMEOUT_MS,
      );
    });
    try {
      await Promise.race([Promise.all(acks), timeout]);
    } finally {
      clearTimeout(timer);
    }
    return times;
  }
}
