import type { Consumer, EachMessagePayload } from 'kafkajs';
import { Backoff, type BackoffPolicy } from '../backoff.js';
import type { SubscribeOptions, Subscription } from '../bus.js';
import { KafkaBusError } from './errors.js';
import { handleMessage, toBusMessage } from './handler.js';
import type { BusLogger } from './options.js';

/**
 * Backoff between our own restarts of a crashed consumer: 300 ms doubling to 10 s, with equal
 * jitter so that every gateway whose consumer crashed on the same broker outage does not come
 * back in the same millisecond, yet never restarts in a hot loop.
 */
const RESTART_BACKOFF: BackoffPolicy = { initialMs: 300, maxMs: 10_000, jitter: 'equal' };

/** What a subscription needs of its bus: a fresh consumer, and where to log. */
export interface ConsumerSource {
  newConsumer(): Consumer;
  readonly logger: BusLogger | undefined;
}

/**
 * One subscription, served by one kafkajs consumer at a time. It tracks the next offset of
 * every partition itself: each (re)join seeks there, so a rebalance, a crash and restart, or a
 * stale fetch can neither skip nor repeat a message. kafkajs has no manual assignment, so each
 * consumer joins a group of its own; librdkafka's mock cluster holds a new group's first join
 * for 3 s (as group.initial.rebalance.delay.ms would), so `ready` takes about that long there.
 */
export class KafkaSubscription implements Subscription {
  readonly ready: Promise<void>;
  readonly #bus: ConsumerSource;
  readonly #options: SubscribeOptions;
  readonly #next: Map<number, number>;
  readonly #detach: () => void;
  readonly #inflight = new Set<Promise<void>>();
  #markReady!: () => void;
  #failReady!: (err: unknown) => void;
  #consumer: Consumer | undefined;
  #generation = 0;
  #restartTimer: NodeJS.Timeout | undefined;
  readonly #backoff = new Backoff(RESTART_BACKOFF);
  /** Restarts since the consumer last joined: said when it is back, so a crash is never the last word. */
  #restartsSinceJoin = 0;
  #closing: Promise<void> | undefined;

  constructor(
    bus: ConsumerSource,
    options: SubscribeOptions,
    start: Map<number, number>,
    detach: () => void,
  ) {
    this.#bus = bus;
    this.#options = options;
    this.#next = start;
    this.#detach = detach;
    this.ready = new Promise<void>((resolve, reject) => {
      this.#markReady = resolve;
      this.#failReady = reject;
    });
    // Nobody has to await `ready`; a close before it is not an unhandled rejection.
    this.ready.catch(() => {});
  }

  start(): void {
    const generation = ++this.#generation;
    void this.#run(generation).catch((err: unknown) => this.#restart(generation, err));
  }

  async #run(generation: number): Promise<void> {
    const { topic, from } = this.#options;
    const consumer = this.#bus.newConsumer();
    this.#consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      if (generation !== this.#generation) return;
      for (const partition of payload.memberAssignment[topic] ?? []) {
        const next = this.#next.get(partition);
        if (next !== undefined) consumer.seek({ topic, partition, offset: String(next) });
      }
      this.#backoff.reset();
      if (this.#restartsSinceJoin > 0)
        this.#bus.logger?.info?.(
          { topic, restarts: this.#restartsSinceJoin, partitions: payload.memberAssignment[topic] ?? [] },
          'bus consumer back after a restart, reading from the tracked offsets',
        );
      this.#restartsSinceJoin = 0;
      this.#markReady();
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => this.#restart(generation, payload.error));
    // A close or restart while we were connecting must not leave this consumer running.
    const superseded = async (): Promise<boolean> => {
      if (generation === this.#generation) return false;
      await consumer.disconnect().catch(() => {});
      return true;
    };
    await consumer.connect();
    if (await superseded()) return;
    await consumer.subscribe({ topic, fromBeginning: from === 'earliest' });
    if (await superseded()) return;
    await consumer.run({
      autoCommit: false,
      partitionsConsumedConcurrently: Math.max(1, this.#next.size),
      eachMessage: (payload) => this.#deliver(generation, payload),
    });
  }

  #restart(generation: number, err: unknown): void {
    if (generation !== this.#generation || this.#closing) return;
    this.#generation++;
    this.#restartsSinceJoin++;
    const delay = this.#backoff.next();
    this.#bus.logger?.warn(
      { err, topic: this.#options.topic, restartInMs: delay },
      'bus consumer crashed; restarting at the tracked offsets',
    );
    const old = this.#consumer;
    this.#restartTimer = setTimeout(() => {
      void (async () => {
        await old?.disconnect().catch(() => {});
        // Per partition, a handler still running on the old consumer finishes before the new one delivers.
        await Promise.allSettled([...this.#inflight]);
        if (!this.#closing) this.start();
      })();
    }, delay);
  }

  async #deliver(generation: number, { topic, partition, message }: EachMessagePayload): Promise<void> {
    if (generation !== this.#generation || this.#closing) return;
    const offset = Number(message.offset);
    if (offset < (this.#next.get(partition) ?? 0)) return;
    // Advanced before the handler runs: a restart meanwhile must not hand this message out again.
    this.#next.set(partition, offset + 1);
    const handled = handleMessage(this.#options, this.#bus.logger, toBusMessage(topic, partition, message));
    this.#inflight.add(handled);
    await handled;
    this.#inflight.delete(handled);
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#generation++;
      clearTimeout(this.#restartTimer);
      this.#failReady(
        new KafkaBusError('E_SUBSCRIPTION_CLOSED', 'the subscription was closed before it was ready'),
      );
      await this.#consumer?.disconnect().catch(() => {});
      await Promise.allSettled([...this.#inflight]);
      this.#detach();
    })();
    return this.#closing;
  }
}
