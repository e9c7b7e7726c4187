/**
 * The message bus port. Two adapters implement it with the same semantics: Kafka (kafkajs)
 * for deployments, and an embedded in-memory bus for one process and for unit tests.
 *
 * Semantics both adapters keep:
 * - a topic has a fixed number of partitions; a record goes to partition
 *   `partitionForKey(key, partitionCount(topic))` on both adapters, so records with one key keep
 *   their order, and a reader can tell a record that is not on its key's partition (written
 *   there by hand, bypassing the adapters) from a genuine one;
 * - offsets are per partition, decimal strings, increasing;
 * - a subscription reads every partition of its topic (no consumer-group sharing: each
 *   subscriber sees everything) starting at `offsets[partition]` if given (the offset of the
 *   first message wanted, as Kafka's seek), else at the earliest retained or the end;
 * - per partition, `onMessage` is awaited before the next message is delivered;
 * - the bus does not commit offsets: positions belong to the application (a device's resume
 *   offsets, a gateway's rings).
 */
export interface BusRecord {
  key: string;
  value: string | Buffer;
}

export interface BusMessage {
  topic: string;
  partition: number;
  offset: string;
  key: string;
  value: Buffer;
  timestamp: number;
}

export type MessageHandler = (message: BusMessage) => void | Promise<void>;

export interface SubscribeOptions {
  topic: string;
  /** Where partitions without an explicit offset start. */
  from: 'earliest' | 'latest';
  /** Per partition, the offset of the first message wanted. */
  offsets?: Readonly<Record<number, string>>;
  onMessage: MessageHandler;
  /** Called when `onMessage` throws; the message is then skipped. Defaults to the bus logger. */
  onError?: (err: unknown, message: BusMessage) => void;
}

export interface Subscription {
  /** Resolves once the subscription has joined and positioned on every partition. */
  readonly ready: Promise<void>;
  close(): Promise<void>;
}

export interface Bus {
  readonly kind: 'embedded' | 'kafka';
  /** Creates the topic with this many partitions if it does not exist. */
  ensureTopic(topic: string, partitions: number): Promise<void>;
  /**
   * The number of partitions of `topic`, creating the topic as a first publish would if it does
   * not exist. Records are placed by `partitionForKey(key, partitionCount(topic))`.
   */
  partitionCount(topic: string): Promise<number>;
  /** Resolves once every record is durably accepted (acks=all on Kafka). */
  publish(topic: string, records: readonly BusRecord[]): Promise<void>;
  subscribe(options: SubscribeOptions): Promise<Subscription>;
  close(): Promise<void>;
}

/**
 * The partition of a record with `key`: a stable 32-bit FNV-1a hash of the key's UTF-16 code
 * units, modulo the partition count. Both adapters place records with it (the Kafka adapter
 * through a kafkajs partitioner, instead of kafkajs's murmur2 default), so a gateway can check
 * that a signal sits on its stream's own partition.
 */
export function partitionForKey(key: string, partitions: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % partitions;
}
