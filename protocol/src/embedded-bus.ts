import type { Bus, BusMessage, BusRecord, SubscribeOptions, Subscription } from './bus.js';
import { partitionForKey } from './bus.js';
import { TOPIC_PARTITIONS } from './topics.js';

export interface EmbeddedBusOptions {
  /** Messages kept per partition; older ones are dropped as Kafka retention would. */
  retentionPerPartition?: number;
  /** Clock for message timestamps. */
  now?: () => number;
  onHandlerError?: (err: unknown, message: BusMessage) => void;
}

export const DEFAULT_EMBEDDED_RETENTION = 200_000;

interface Partition {
  base: number; // offset of messages[0]
  messages: BusMessage[];
}

class EmbeddedSubscription implements Subscription {
  readonly ready = Promise.resolve();
  readonly #cursors: number[];
  #running = false;
  #closed = false;

  constructor(
    private readonly partitions: Partition[],
    private readonly options: SubscribeOptions,
    private readonly onError: (err: unknown, message: BusMessage) => void,
    private readonly detach: () => void,
  ) {
    this.#cursors = partitions.map((p, i) => {
      const explicit = options.offsets?.[i];
      if (explicit !== undefined) return Math.max(Number(explicit), p.base);
      return options.from === 'earliest' ? p.base : p.base + p.messages.length;
    });
  }

  wake(): void {
    if (this.#running || this.#closed) return;
    this.#running = true;
    // Deliver asynchronously: publishing never runs a subscriber's code on its own stack.
    setImmediate(() => void this.#pump());
  }

  async #pump(): Promise<void> {
    try {
      let delivered = true;
      while (delivered && !this.#closed) {
        delivered = false;
        for (let i = 0; i < this.partitions.length && !this.#closed; i++) {
          const p = this.partitions[i]!;
          const cursor = Math.max(this.#cursors[i]!, p.base);
          const msg = p.messages[cursor - p.base];
          if (!msg) continue;
          this.#cursors[i] = cursor + 1;
          delivered = true;
          try {
            await this.options.onMessage(msg);
          } catch (err) {
            (this.options.onError ?? this.onError)(err, msg);
          }
        }
      }
    } finally {
      this.#running = false;
    }
    if (!this.#closed && this.#hasBacklog()) this.wake();
  }

  #hasBacklog(): boolean {
    return this.partitions.some((p, i) => this.#cursors[i]! < p.base + p.messages.length);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.detach();
  }
}

/** The in-memory Bus: same semantics as the Kafka adapter, for one process and for tests. */
export class EmbeddedBus implements Bus {
  readonly kind = 'embedded' as const;
  readonly #topics = new Map<string, Partition[]>();
  readonly #subs = new Map<string, Set<EmbeddedSubscription>>();
  readonly #retention: number;
  readonly #now: () => number;
  readonly #onHandlerError: (err: unknown, message: BusMessage) => void;

  constructor(options: EmbeddedBusOptions = {}) {
    this.#retention = options.retentionPerPartition ?? DEFAULT_EMBEDDED_RETENTION;
    this.#now = options.now ?? Date.now;
    this.#onHandlerError =
      options.onHandlerError ??
      ((err, m) =>
        console.error(`embedded bus: handler failed on ${m.topic}/${m.partition}@${m.offset}`, err));
  }

  async ensureTopic(topic: string, partitions: number): Promise<void> {
    this.#topic(topic, partitions);
  }

  async partitionCount(topic: string): Promise<number> {
    return this.#topic(topic).length;
  }

  #topic(topic: string, partitions?: number): Partition[] {
    let t = this.#topics.get(topic);
    if (!t) {
      const n = partitions ?? (TOPIC_PARTITIONS as Record<string, number>)[topic] ?? 1;
      t = Array.from({ length: n }, () => ({ base: 0, messages: [] }));
      this.#topics.set(topic, t);
    }
    return t;
  }

  async publish(topic: string, records: readonly BusRecord[]): Promise<void> {
    const partitions = this.#topic(topic);
    const timestamp = this.#now();
    for (const r of records) {
      const partition = partitionForKey(r.key, partitions.length);
      const p = partitions[partition]!;
      const value = typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
      const offset = String(p.base + p.messages.length);
      p.messages.push({ topic, partition, offset, key: r.key, value, timestamp });
      if (p.messages.length > this.#retention) {
        const drop = p.messages.length - this.#retention;
        p.messages.splice(0, drop);
        p.base += drop;
      }
    }
    for (const s of this.#subs.get(topic) ?? []) s.wake();
  }

  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    const partitions = this.#topic(options.topic);
    const set = this.#subs.get(options.topic) ?? new Set();
    this.#subs.set(options.topic, set);
    const sub = new EmbeddedSubscription(partitions, options, this.#onHandlerError, () => set.delete(sub));
    set.add(sub);
    sub.wake();
    return sub;
  }

  async close(): Promise<void> {
    for (const set of this.#subs.values()) for (const s of [...set]) await s.close();
  }
}
