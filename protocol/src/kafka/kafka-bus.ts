import { randomUUID } from 'node:crypto';
import kafkajs from 'kafkajs';
import type {
  Admin,
  Consumer,
  Kafka,
  KafkaConfig,
  LogEntry,
  Message,
  Producer,
  RetryOptions,
  SASLOptions,
  TopicMessages,
} from 'kafkajs';
import {
  checkSubscribeOptions,
  type Bus,
  type BusRecord,
  type SubscribeOptions,
  type Subscription,
} from '../bus.js';
import { TOPIC_PARTITIONS } from '../topics.js';
import { KafkaBusError } from './errors.js';
import {
  DEFAULT_KAFKA_FETCH_MAX_WAIT_MS,
  DEFAULT_KAFKA_GROUP_COMMIT_EVERY,
  DEFAULT_KAFKA_GROUP_REBALANCE_TIMEOUT_MS,
  DEFAULT_KAFKA_GROUP_SESSION_TIMEOUT_MS,
  DEFAULT_KAFKA_REQUEST_TIMEOUT_MS,
  DEFAULT_KAFKA_RETRY,
  DEFAULT_KAFKA_SESSION_TIMEOUT_MS,
  type BusLogger,
  type KafkaBusOptions,
} from './options.js';
import { protocolPartitioner } from './partitioner.js';
import { KafkaGroupSubscription, type GroupConsumerSource } from './group-subscription.js';
import { KafkaSubscription, type ConsumerSource } from './subscription.js';

/** Records coalesced into one produce call when publishes queue up behind a slow one. */
const MAX_RECORDS_PER_SEND = 5_000;

const { Kafka: KafkaClient, logLevel } = kafkajs;

/** We bound retries on purpose: a publish must settle, and the caller decides what to do next. */
const IGNORED_KAFKAJS_WARNINGS = new Set([
  'Limiting retries for the idempotent producer may invalidate EoS guarantees',
]);

interface PendingPublish {
  topic: string;
  records: readonly BusRecord[];
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class KafkaBus implements Bus, ConsumerSource, GroupConsumerSource {
  readonly kind = 'kafka' as const;
  readonly #kafka: Kafka;
  readonly #options: KafkaBusOptions;
  readonly #subscriptions = new Set<KafkaSubscription | KafkaGroupSubscription>();
  readonly #topics = new Map<string, Promise<void>>();
  readonly #queue: PendingPublish[] = [];
  #flushing: Promise<void> | undefined;
  #producer: Promise<Producer> | undefined;
  #admin: Promise<Admin> | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: KafkaBusOptions) {
    this.#options = options;
    const logger = options.logger;
    const createClient = options.createClient ?? ((config: KafkaConfig) => new KafkaClient(config));
    this.#kafka = createClient({
      clientId: options.clientId,
      brokers: options.brokers,
      ...(options.ssl ? { ssl: options.ssl } : {}),
      // A copy, since kafkajs adds its authenticator to it; its types list each mechanism apart.
      ...(options.sasl ? { sasl: { ...options.sasl } as SASLOptions } : {}),
      requestTimeout: options.requestTimeoutMs ?? DEFAULT_KAFKA_REQUEST_TIMEOUT_MS,
      retry: this.#retry(),
      logLevel: logger ? logLevel.WARN : logLevel.NOTHING,
      logCreator: () => (entry: LogEntry) => {
        if (!logger || IGNORED_KAFKAJS_WARNINGS.has(entry.log.message)) return;
        const { message, timestamp: _timestamp, logger: _logger, ...extra } = entry.log;
        const obj = { kafkajs: entry.namespace, ...extra };
        if (entry.level === logLevel.ERROR) logger.error(obj, message);
        else logger.warn(obj, message);
      },
    });
  }

  get logger(): BusLogger | undefined {
    return this.#options.logger;
  }

  get groupCommitEvery(): number {
    return this.#options.groupCommitEvery ?? DEFAULT_KAFKA_GROUP_COMMIT_EVERY;
  }

  /**
   * Creates the topic unless it exists; an existing topic keeps its partition count.
   *
   * librdkafka's mock cluster (kcat) has no CreateTopics handler and reports a controller id
   * (0) that is none of its brokers, so kafkajs's createTopics fails with "Broker 0 not found".
   * It does create a topic when a metadata request names it (even with
   * allowAutoTopicCreation false), always with its default of 4 partitions. So when the cluster
   * has no controller we create by metadata request and accept its count; with a controller,
   * as on real Kafka, we use CreateTopics, which answers TOPIC_ALREADY_EXISTS after a race.
   */
  async ensureTopic(topic: string, partitions: number): Promise<void> {
    this.#assertOpen();
    await this.#createTopic(topic, partitions);
    this.#topics.set(topic, Promise.resolve());
  }

  async #createTopic(topic: string, partitions: number): Promise<void> {
    const admin = await this.#adminClient();
    if ((await admin.listTopics()).includes(topic)) return;
    const cluster = await admin.describeCluster();
    if (cluster.brokers.some((b) => b.nodeId === cluster.controller)) {
      await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
    } else {
      await admin.fetchTopicMetadata({ topics: [topic] });
    }
  }

  async partitionCount(topic: string): Promise<number> {
    this.#assertOpen();
    await this.#knownTopic(topic);
    const { topics } = await (await this.#adminClient()).fetchTopicMetadata({ topics: [topic] });
    const count = topics.find((m) => m.name === topic)?.partitions.length ?? 0;
    if (count < 1) throw new Error(`the cluster reports no partitions for topic ${topic}`);
    return count;
  }

  /**
   * Publishes are sent one produce call at a time, in call order (queued ones coalesced), so
   * records of one key keep their order across calls and an idempotent producer's sequence
   * numbers are never raced by concurrent sends.
   */
  publish(topic: string, records: readonly BusRecord[]): Promise<void> {
    if (this.#closing) return Promise.reject(new KafkaBusError('E_BUS_CLOSED', 'the bus is closed'));
    if (records.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.#queue.push({ topic, records, resolve, reject });
      this.#flushing ??= this.#flush();
    });
  }

  async #flush(): Promise<void> {
    try {
      while (this.#queue.length > 0) await this.#sendNext();
    } finally {
      // Cleared in the very tick the queue is seen empty (no await in between), before a
      // resolved caller can queue more and find a flush that is about to end.
      this.#flushing = undefined;
    }
  }

  async #sendNext(): Promise<void> {
    const batch: PendingPublish[] = [];
    let count = 0;
    while (this.#queue.length > 0 && (batch.length === 0 || count < MAX_RECORDS_PER_SEND)) {
      const next = this.#queue.shift()!;
      batch.push(next);
      count += next.records.length;
    }
    try {
      for (const topic of new Set(batch.map((p) => p.topic))) await this.#knownTopic(topic);
      const producer = await this.#producerClient();
      await producer.sendBatch({ acks: -1, topicMessages: toTopicMessages(batch) });
      for (const p of batch) p.resolve();
    } catch (err) {
      const failure =
        err instanceof KafkaBusError
          ? err
          : new KafkaBusError('E_PUBLISH_FAILED', `publish failed: ${(err as Error).message}`, err);
      for (const p of batch) p.reject(failure);
    }
  }

  /** A first publish to an unknown topic creates it as `ensureTopic` would, not with broker defaults. */
  #knownTopic(topic: string): Promise<void> {
    let known = this.#topics.get(topic);
    if (!known) {
      const partitions = (TOPIC_PARTITIONS as Record<string, number>)[topic] ?? 1;
      known = this.#createTopic(topic, partitions);
      known.catch(() => this.#topics.delete(topic));
      this.#topics.set(topic, known);
    }
    return known;
  }

  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    checkSubscribeOptions(options);
    this.#assertOpen();
    await this.#knownTopic(options.topic);
    if (options.group !== undefined) {
      const partitions = await this.partitionCount(options.topic);
      this.#assertOpen();
      const member = new KafkaGroupSubscription(this, { ...options, group: options.group }, partitions, () =>
        this.#subscriptions.delete(member),
      );
      this.#subscriptions.add(member);
      member.start();
      return member;
    }
    const offsets = await (await this.#adminClient()).fetchTopicOffsets(options.topic);
    this.#assertOpen();
    // Positions are fixed now, not at join: 'latest' means the end as of this call, and a
    // consumer restarted later resumes from here rather than from a later end.
    const start = new Map<number, number>();
    for (const { partition, low, high } of offsets) {
      const explicit = options.offsets?.[partition];
      const wanted =
        explicit !== undefined ? Number(explicit) : options.from === 'earliest' ? Number(low) : Number(high);
      // Clamped into the retained range, as the embedded bus does for offsets older than its base.
      start.set(partition, Math.min(Math.max(wanted, Number(low)), Number(high)));
    }
    const sub = new KafkaSubscription(this, options, start, () => this.#subscriptions.delete(sub));
    this.#subscriptions.add(sub);
    sub.start();
    return sub;
  }

  /** @internal A fresh consumer in a group of its own, so it is assigned every partition. */
  newConsumer(): Consumer {
    return this.#kafka.consumer({
      groupId: `${this.#options.clientId}-${randomUUID()}`,
      sessionTimeout: this.#options.sessionTimeoutMs ?? DEFAULT_KAFKA_SESSION_TIMEOUT_MS,
      // A tenth rather than kafkajs's suggested third: a stalled broker may swallow a few beats.
      heartbeatInterval: Math.floor(
        (this.#options.sessionTimeoutMs ?? DEFAULT_KAFKA_SESSION_TIMEOUT_MS) / 10,
      ),
      maxWaitTimeInMs: this.#options.fetchMaxWaitMs ?? DEFAULT_KAFKA_FETCH_MAX_WAIT_MS,
      allowAutoTopicCreation: false,
      // A crashed consumer is restarted by its subscription, at the positions it tracks;
      // kafkajs's own restart would rejoin at committed offsets, and we commit none.
      retry: { ...this.#retry(), restartOnFailure: async () => false },
    });
  }

  /**
   * @internal A consumer in the shared group `group`, named as given (no clientId prefix: members
   * on different processes, with different clientIds, must meet in one group), so a principal
   * needs a Read ACL on that group name. Short sessions, so a dead member's partitions move soon.
   */
  newGroupConsumer(group: string): Consumer {
    const sessionTimeout = this.#options.groupSessionTimeoutMs ?? DEFAULT_KAFKA_GROUP_SESSION_TIMEOUT_MS;
    return this.#kafka.consumer({
      groupId: group,
      sessionTimeout,
      // A tenth rather than kafkajs's suggested third, as for the private groups.
      heartbeatInterval: Math.floor(sessionTimeout / 10),
      rebalanceTimeout: this.#options.groupRebalanceTimeoutMs ?? DEFAULT_KAFKA_GROUP_REBALANCE_TIMEOUT_MS,
      maxWaitTimeInMs: this.#options.fetchMaxWaitMs ?? DEFAULT_KAFKA_FETCH_MAX_WAIT_MS,
      allowAutoTopicCreation: false,
      retry: this.#retry(),
    });
  }

  async close(): Promise<void> {
    this.#closing ??= (async () => {
      await Promise.allSettled([...this.#subscriptions].map((s) => s.close()));
      await this.#flushing;
      const clients = await Promise.allSettled([this.#producer, this.#admin].filter((c) => c !== undefined));
      await Promise.allSettled(
        clients.map((c) => (c.status === 'fulfilled' ? c.value.disconnect() : undefined)),
      );
    })();
    return this.#closing;
  }

  #retry(): RetryOptions {
    return { ...DEFAULT_KAFKA_RETRY, ...this.#options.retry };
  }

  #assertOpen(): void {
    if (this.#closing) throw new KafkaBusError('E_BUS_CLOSED', 'the bus is closed');
  }

  #adminClient(): Promise<Admin> {
    this.#admin ??= connectOrForget(this.#kafka.admin(), () => (this.#admin = undefined));
    return this.#admin;
  }

  #producerClient(): Promise<Producer> {
    this.#producer ??= (async () => {
      let idempotent = this.#options.idempotent ?? true;
      if (idempotent) {
        // Without a controller kafkajs would retry "Broker 0 not found" for a minute.
        const cluster = await (await this.#adminClient()).describeCluster();
        if (!cluster.brokers.some((b) => b.nodeId === cluster.controller)) {
          const why = `the cluster reports no controller (id ${cluster.controller}), so an idempotent producer cannot get a producer id`;
          if (this.#options.idempotent === true) {
            throw new KafkaBusError(
              'E_IDEMPOTENCE_UNAVAILABLE',
              `${why}; librdkafka's mock cluster is like this: leave idempotent unset or false`,
            );
          }
          this.#options.logger?.warn(
            { controller: cluster.controller },
            `${why}: publishing without idempotence, so a produce retried after a broker stall may be written twice`,
          );
          idempotent = false;
        }
      }
      const producer = this.#kafka.producer({
        idempotent,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
        retry: this.#retry(),
        createPartitioner: protocolPartitioner,
      });
      return connectOrForget(producer, () => {});
    })();
    this.#producer.catch(() => (this.#producer = undefined));
    return this.#producer;
  }
}

async function connectOrForget<T extends { connect(): Promise<void> }>(
  client: T,
  forget: () => void,
): Promise<T> {
  try {
    await client.connect();
    return client;
  } catch (err) {
    forget();
    throw err;
  }
}

function toTopicMessages(batch: readonly PendingPublish[]): TopicMessages[] {
  const byTopic = new Map<string, Message[]>();
  for (const { topic, records } of batch) {
    const messages = byTopic.get(topic) ?? [];
    for (const r of records) messages.push({ key: r.key, value: r.value });
    byTopic.set(topic, messages);
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
}

export function createKafkaBus(options: KafkaBusOptions): KafkaBus {
  return new KafkaBus(options);
}
