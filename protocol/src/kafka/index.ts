/**
 * `@appliance/protocol/kafka`: the Kafka adapter of the `Bus` port. Its own entry point, so
 * only the processes that reach Kafka load kafkajs (a device never does).
 */
export { KafkaBus, createKafkaBus } from './kafka-bus.js';
export { KafkaBusError, type KafkaBusErrorCode } from './errors.js';
export {
  DEFAULT_KAFKA_FETCH_MAX_WAIT_MS,
  DEFAULT_KAFKA_GROUP_COMMIT_EVERY,
  DEFAULT_KAFKA_GROUP_REBALANCE_TIMEOUT_MS,
  DEFAULT_KAFKA_GROUP_SESSION_TIMEOUT_MS,
  DEFAULT_KAFKA_REQUEST_TIMEOUT_MS,
  DEFAULT_KAFKA_RETRY,
  DEFAULT_KAFKA_SESSION_TIMEOUT_MS,
  type BusLogger,
  type KafkaBusOptions,
  type KafkaSaslOptions,
  type KafkaTlsOptions,
} from './options.js';
export { protocolPartitioner } from './partitioner.js';
