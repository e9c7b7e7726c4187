import type { KafkaMessage } from 'kafkajs';
import type { BusMessage, SubscribeOptions } from '../bus.js';
import type { BusLogger } from './options.js';

export function toBusMessage(topic: string, partition: number, message: KafkaMessage): BusMessage {
  return {
    topic,
    partition,
    offset: message.offset,
    key: message.key?.toString() ?? '',
    value: message.value ?? Buffer.alloc(0),
    timestamp: Number(message.timestamp),
  };
}

/**
 * Runs the subscriber's handler on one message and never throws: a throw goes to `onError`
 * (or the log), and the message counts as handled, as the port promises.
 */
export async function handleMessage(
  options: SubscribeOptions,
  logger: BusLogger | undefined,
  message: BusMessage,
): Promise<void> {
  try {
    await options.onMessage(message);
  } catch (err) {
    try {
      if (options.onError) options.onError(err, message);
      else logHandlerError(logger, err, message);
    } catch (reportErr) {
      logHandlerError(logger, reportErr, message);
    }
  }
}

function logHandlerError(logger: BusLogger | undefined, err: unknown, m: BusMessage): void {
  const where = `${m.topic}/${m.partition}@${m.offset}`;
  if (logger) logger.error({ err, message: where }, 'kafka bus: handler failed');
  else console.error(`kafka bus: handler failed on ${where}`, err);
}
