import { errorClass } from '@appliance/errors';

export const KAFKA_BUS_ERROR_CODES = {
  E_BUS_CLOSED: 'the bus is closed',
  E_PUBLISH_FAILED: 'Kafka did not take the records, after kafkajs retried',
  E_IDEMPOTENCE_UNAVAILABLE: 'the cluster cannot give an idempotent producer an id',
  E_SUBSCRIPTION_CLOSED: 'the subscription was closed before it was ready',
} as const;
export type KafkaBusErrorCode = keyof typeof KAFKA_BUS_ERROR_CODES;

/**
 * `retriable` only for a publish that failed on something kafkajs itself calls transient (a
 * leader election, a lost connection): an unauthorised topic or an oversized record fails again.
 */
export class KafkaBusError extends errorClass('KafkaBusError', KAFKA_BUS_ERROR_CODES) {
  constructor(code: KafkaBusErrorCode, message: string, cause?: unknown) {
    super(code, message, { cause, retriable: code === 'E_PUBLISH_FAILED' && kafkajsRetriable(cause) });
  }
}

/** kafkajs marks each of its errors `retriable`; when its own retries run out it wraps the last one. */
function kafkajsRetriable(err: unknown): boolean {
  const e = err as { name?: unknown; retriable?: unknown; cause?: unknown } | null | undefined;
  if (e?.name === 'KafkaJSNumberOfRetriesExceeded') return kafkajsRetriable(e.cause);
  return typeof e?.name === 'string' && e.name.startsWith('KafkaJS') && e.retriable === true;
}
