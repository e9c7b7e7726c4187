import { randomUUID } from 'node:crypto';
import kafkajs from 'kafkajs';
import type {
  Admin,
  Consumer,
  EachMessagePayload,
  Kafka,
  KafkaConfig,
  LogEntry,
  Message,
  PartitionerArgs,
  Producer,
  RetryOptions,
  SASLOptions,
  TopicMessages,
} from 'kafkajs';
import type { Bus, BusMessage, BusRecord, SubscribeOptions, Subscription } from './bus.js';
import { partitionForKey } from './bus.js';
import { TOPIC_PARTITIONS } from './topics.js';

/** The logging calls the bus makes; a pino logger fits. */
export interface BusLogger {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface KafkaBusOptions {
  brokers: string[];
  clientId: string;
  /** Receives kafkajs's warnings and errors and the bus's own. Default: kafkajs is silent. */
  logger?: BusLogger;
  /**
   * Idempotent producer, so a retried produce cannot write a record twice. Default: whenever
   * the cluster can serve it. kafkajs asks the controller for a producer id, and librdkafka's
   * mock cluster reports none; there the default logs a warning and uses a plain acks=all
   * producer, while `true` fails publishes with `E_IDEMPOTENCE_UNAVAILABLE`.
   */
  idempotent?: boolean;
  /**
   * How long one request may wait for a broker, in ms. Default 30 000. A produce request that
   * times out is retried, and without idempotence the retry can duplicate the record, so keep
   * this longer than the broker stalls you expect when `idempotent` is false.
   */
  requestTimeoutMs?: number;
  /** Consumer group session timeout, in ms. Default 30 000. */
  sessionTimeoutMs?: number;
  /**
   * How long a fetch may wait on the broker for new records, in ms. Default 100. Kafka answers
   * as soon as records arrive; librdkafka's mock cluster always waits this long, so it bounds
   * the delivery latency there.
   */
  fetchMaxWaitMs?: number;
  /** kafkajs's retry for every request, merged over `DEFAULT_KAFKA_RETRY`. */
  retry?: RetryOptions;
  /**
   * TLS to the brokers: `true` trusts the system's CAs; an object gives PEM text (the runtime's
   * `kafkaSecurityFromEnv` reads files). Default: plaintext. See docs/bus-security.md.
   */
  ssl?: boolean | KafkaTlsOptions;
  /** SASL/SCRAM: the principal this process writes and reads as (its ACLs). Default: none. */
  sasl?: KafkaSaslOptions;
  /** Builds the kafkajs client from its config. Default `new Kafka(config)`; tests inspect the config here. */
  createClient?: (config: KafkaConfig) => Kafka;
}

/** TLS to the brokers, as PEM text. */
export interface KafkaTlsOptions {
  /** The CA(s) the brokers' certificates chain to. Default: the system's. */
  ca?: string;
  /** A client certificate and its key, for brokers that authenticate clients by certificate (mTLS). */
  cert?: string;
  key?: string;
  /** Default true. Only ever false against a test cluster: anyone on the path could then read and write. */
  rejectUnauthorized?: boolean;
}

/** SCRAM only: the password never crosses the wire (PLAIN would send it, and is refused). */
export interface KafkaSaslOptions {
  mechanism: 'scram-sha-256' | 'scram-sha-512';
  username: string;
  password: string;
}

export const DEFAULT_KAFKA_REQUEST_TIMEOUT_MS = 30_000;
export const DEFAULT_KAFKA_SESSION_TIMEOUT_MS = 30_000;
/** kafkajs's own bounded retry: about a minute of backoff (300 ms doubling, capped at 5 s). */
export const DEFAULT_KAFKA_RETRY: RetryOptions = { initialRetryTime: 300, maxRetryTime: 5_000, retries: 15 };
export const DEFAULT_KAFKA_FETCH_MAX_WAIT_MS = 100;
/** Records coalesced into one produce call when publishes queue up behind a slow one. */
const MAX_RECORDS_PER_SEND = 5_000;
/** Backoff between our own restarts of a crashed consumer, in ms. */
const RESTART_BACKOFF_MS = { initial: 300, max: 10_000 };

export type KafkaBusErrorCode =
  'E_BUS_CLOSED' | 'E_PUBLISH_FAILED' | 'E_IDEMPOTENCE_UNAVAILABLE' | 'E_SUBSCRIPTION_CLOSED';

export class KafkaBusError extends Error {
  override readonly name = 'KafkaBusError';
  constructor(
    readonly code: KafkaBusErrorCode,
    message: string,
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
  }
}

const { Kafka: KafkaClient, logLevel } = kafkajs;

/**
 * Places each record on `partitionForKey(key, partitions)`, as the embedded bus does, instead of
 * kafkajs's murmur2 default: readers (the gateway) check a signal is on its stream's partition
 * with the same function. Every writer of a topic must use it (a topic first written with
 * another partitioner has its streams elsewhere: recreate it).
 */
export function protocolPartitioner() {
  return ({ partitionMetadata, message }: PartitionerArgs): number =>
    partitionForKey(message.key?.toString() ?? '', partitionMetadata.length);
}

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

export class KafkaBus implements Bus {
  readonly kind = 'kafka' as const;
  readonly #kafka: Kafka;
  readonly #options: KafkaBusOptions;
  readonly #subscriptions = new Set<KafkaSubscription>();
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
    this.#assertOpen();
    await this.#knownTopic(options.topic);
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

/**
 * One subscription, served by one kafkajs consumer at a time. It tracks the next offset of
 * every partition itself: each (re)join seeks there, so a rebalance, a crash and restart, or a
 * stale fetch can neither skip nor repeat a message. kafkajs has no manual assignment, so each
 * consumer joins a group of its own; librdkafka's mock cluster holds a new group's first join
 * for 3 s (as group.initial.rebalance.delay.ms would), so `ready` takes about that long there.
 */
class KafkaSubscription implements Subscription {
  readonly ready: Promise<void>;
  readonly #bus: KafkaBus;
  readonly #options: SubscribeOptions;
  readonly #next: Map<number, number>;
  readonly #detach: () => void;
  readonly #inflight = new Set<Promise<void>>();
  #markReady!: () => void;
  #failReady!: (err: unknown) => void;
  #consumer: Consumer | undefined;
  #generation = 0;
  #restartTimer: NodeJS.Timeout | undefined;
  #backoffMs = RESTART_BACKOFF_MS.initial;
  #closing: Promise<void> | undefined;

  constructor(bus: KafkaBus, options: SubscribeOptions, start: Map<number, number>, detach: () => void) {
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
      this.#backoffMs = RESTART_BACKOFF_MS.initial;
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
    const delay = this.#backoffMs;
    this.#backoffMs = Math.min(this.#backoffMs * 2, RESTART_BACKOFF_MS.max);
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
    const busMessage: BusMessage = {
      topic,
      partition,
      offset: message.offset,
      key: message.key?.toString() ?? '',
      value: message.value ?? Buffer.alloc(0),
      timestamp: Number(message.timestamp),
    };
    const handled = this.#handle(busMessage);
    this.#inflight.add(handled);
    await handled;
    this.#inflight.delete(handled);
  }

  async #handle(message: BusMessage): Promise<void> {
    try {
      await this.#options.onMessage(message);
    } catch (err) {
      try {
        if (this.#options.onError) this.#options.onError(err, message);
        else this.#logHandlerError(err, message);
      } catch (reportErr) {
        this.#logHandlerError(reportErr, message);
      }
    }
  }

  #logHandlerError(err: unknown, m: BusMessage): void {
    const where = `${m.topic}/${m.partition}@${m.offset}`;
    if (this.#bus.logger) this.#bus.logger.error({ err, message: where }, 'kafka bus: handler failed');
    else console.error(`kafka bus: handler failed on ${where}`, err);
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

export function createKafkaBus(options: KafkaBusOptions): KafkaBus {
  return new KafkaBus(options);
}
