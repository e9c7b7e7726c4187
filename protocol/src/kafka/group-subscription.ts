import type { Consumer, EachMessagePayload } from 'kafkajs';
import { Backoff, type BackoffPolicy } from '../backoff.js';
import type { SubscribeOptions, Subscription } from '../bus.js';
import { KafkaBusError } from './errors.js';
import { handleMessage, toBusMessage } from './handler.js';
import type { BusLogger } from './options.js';

/** As a plain subscription's restarts: never a hot loop, spread over a fleet. */
const START_BACKOFF: BackoffPolicy = { initialMs: 300, maxMs: 10_000, jitter: 'equal' };

/** What a group member needs of its bus: a consumer in the named group, and where to log. */
export interface GroupConsumerSource {
  newGroupConsumer(group: string): Consumer;
  /** `KafkaBusOptions.groupCommitEvery`, defaulted. */
  readonly groupCommitEvery: number;
  readonly logger: BusLogger | undefined;
}

/**
 * One member of a consumer group (`SubscribeOptions.group`). Unlike a plain subscription it
 * tracks no offsets of its own: the group's committed offsets are the positions, and kafkajs
 * moves partitions between members on every join, leave and session timeout.
 *
 * Commits: kafkajs's autoCommit with `eachMessage` marks an offset resolved only after
 * `eachMessage` returned, which here is after the handler settled (a throw went to `onError`),
 * and commits resolved offsets once `groupCommitEvery` are pending (default: after every
 * message), at the end of each fetched batch and before it rejoins a rebalancing group. So
 * nothing is committed before it was handled; what was handled but not yet committed when a
 * member dies, or when a rebalance refuses the commit, is delivered again, which the port
 * allows (at least once). Batching commits by the batch alone repeated whole batches after
 * every rebalance on librdkafka's mock cluster, which refuses commits while a group rebalances.
 */
export class KafkaGroupSubscription implements Subscription {
  readonly ready: Promise<void>;
  readonly #bus: GroupConsumerSource;
  readonly #options: SubscribeOptions & { group: string };
  readonly #partitions: number;
  readonly #detach: () => void;
  readonly #backoff = new Backoff(START_BACKOFF);
  #markReady!: () => void;
  #failReady!: (err: unknown) => void;
  #consumer: Consumer | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #closing: Promise<void> | undefined;

  constructor(
    bus: GroupConsumerSource,
    options: SubscribeOptions & { group: string },
    partitions: number,
    detach: () => void,
  ) {
    this.#bus = bus;
    this.#options = options;
    this.#partitions = partitions;
    this.#detach = detach;
    this.ready = new Promise<void>((resolve, reject) => {
      this.#markReady = resolve;
      this.#failReady = reject;
    });
    this.ready.catch(() => {});
  }

  start(): void {
    const consumer = this.#bus.newGroupConsumer(this.#options.group);
    this.#consumer = consumer;
    void this.#run(consumer).catch((err: unknown) =>
      this.#restart(consumer, err, 'bus group member could not start; retrying'),
    );
  }

  /** Starts afresh with a new consumer, after a backoff, unless closing or already restarted. */
  #restart(consumer: Consumer, err: unknown, why: string): void {
    if (this.#closing || consumer !== this.#consumer) return;
    const delay = this.#backoff.next();
    this.#bus.logger?.warn(
      { err, topic: this.#options.topic, group: this.#options.group, retryInMs: delay },
      why,
    );
    this.#retryTimer = setTimeout(() => {
      void consumer
        .disconnect()
        .catch(() => {})
        .then(() => {
          if (!this.#closing && consumer === this.#consumer) this.start();
        });
    }, delay);
  }

  async #run(consumer: Consumer): Promise<void> {
    const { topic, from, group } = this.#options;
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      this.#backoff.reset();
      // Which node holds which partitions is what an operator asks first when a group lags.
      this.#bus.logger?.info?.(
        { topic, group, partitions: payload.memberAssignment[topic] ?? [] },
        'bus group member joined',
      );
      this.#markReady();
    });
    // kafkajs restarts a consumer that crashed on a retriable error itself, rejoining at the
    // committed offsets, which is what a group wants; on any other error it gives up, and a
    // member that silently stopped would hold nothing yet be missed by nobody: we restart it.
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (payload.restart) {
        this.#bus.logger?.warn(
          { err: payload.error, topic, group },
          'bus group member crashed; kafkajs rejoins at the committed offsets',
        );
      } else {
        this.#restart(consumer, payload.error, 'bus group member crashed; restarting it');
      }
    });
    // A close while we were connecting must not leave this consumer running.
    const closed = async (): Promise<boolean> => {
      if (!this.#closing) return false;
      await consumer.disconnect().catch(() => {});
      return true;
    };
    await consumer.connect();
    if (await closed()) return;
    await consumer.subscribe({ topic, fromBeginning: from === 'earliest' });
    if (await closed()) return;
    await consumer.run({
      autoCommit: true,
      autoCommitThreshold: this.#bus.groupCommitEvery,
      // One worker per partition this member may hold; kafkajs keeps each partition in order.
      partitionsConsumedConcurrently: Math.max(1, this.#partitions),
      eachMessage: (payload) => this.#deliver(payload),
    });
  }

  #deliver({ topic, partition, message }: EachMessagePayload): Promise<void> {
    return handleMessage(this.#options, this.#bus.logger, toBusMessage(topic, partition, message));
  }

  /**
   * Leaves the group after the handler in flight settled and its offset was committed (unless a
   * rebalance refused the commit), so the partitions move to the other members at once, rather
   * than after a session timeout.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      clearTimeout(this.#retryTimer);
      this.#failReady(
        new KafkaBusError('E_SUBSCRIPTION_CLOSED', 'the subscription was closed before it was ready'),
      );
      await this.#consumer?.disconnect().catch(() => {});
      this.#detach();
    })();
    return this.#closing;
  }
}
