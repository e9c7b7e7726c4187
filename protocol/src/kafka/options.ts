import type { KafkaConfig, Kafka, RetryOptions } from 'kafkajs';

/** The logging calls the bus makes; a pino logger fits. */
export interface BusLogger {
  /** Recoveries (a consumer back after a restart); optional so a bare warn/error sink will do. */
  info?(obj: object, msg: string): void;
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
  /** Session timeout of a plain subscription's private consumer group, in ms. Default 30 000. */
  sessionTimeoutMs?: number;
  /**
   * Session timeout of a group subscription's member, in ms: how long the group waits for a
   * member that stopped heart-beating (killed, frozen, partitioned away) before it moves that
   * member's partitions to the others. Default 10 000. Brokers refuse values outside their
   * `group.min.session.timeout.ms`..`group.max.session.timeout.ms` (6 000..1 800 000 by default).
   * A member beats every tenth of it, between messages, so a handler that runs longer than this
   * loses its partitions (its message is then delivered again elsewhere).
   */
  groupSessionTimeoutMs?: number;
  /**
   * How long a rebalance waits for the group's members to rejoin, in ms; a member still inside a
   * handler by then is dropped from the group. Default 30 000.
   */
  groupRebalanceTimeoutMs?: number;
  /**
   * A group member commits once this many handled messages are uncommitted, and at the end of
   * each fetched batch. Default 1: each message is committed before the next is handled, so a
   * member that dies, or whose commit a rebalance refuses, has at most the message it was on (per
   * partition) delivered again, at the price of one commit request per message. Larger values
   * trade more redelivery for fewer requests.
   */
  groupCommitEvery?: number;
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
export const DEFAULT_KAFKA_GROUP_SESSION_TIMEOUT_MS = 10_000;
export const DEFAULT_KAFKA_GROUP_REBALANCE_TIMEOUT_MS = 30_000;
export const DEFAULT_KAFKA_GROUP_COMMIT_EVERY = 1;
/** kafkajs's own bounded retry: about a minute of backoff (300 ms doubling, capped at 5 s). */
export const DEFAULT_KAFKA_RETRY: RetryOptions = { initialRetryTime: 300, maxRetryTime: 5_000, retries: 15 };
export const DEFAULT_KAFKA_FETCH_MAX_WAIT_MS = 100;
