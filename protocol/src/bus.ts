import { errorClass } from '@appliance/errors';

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
 * - per partition, `onMessage` is awaited before the next message is delivered;
 * - a plain subscription (no `group`) reads every partition of its topic (each subscriber sees
 *   everything) starting at `offsets[partition]` if given (the offset of the first message
 *   wanted, as Kafka's seek), else at the earliest retained or the end; the bus commits nothing
 *   for it: positions belong to the application (a device's resume offsets, a gateway's rings);
 * - a group subscription (`group` set) shares the topic's partitions with every other live
 *   subscription of that group, on any process: each partition is delivered to exactly one
 *   member at a time, so more members give more throughput. The bus commits a message's offset
 *   once `onMessage` resolved (or `onError` handled its throw), never before, and a partition
 *   that changes hands (a member joins, closes, or dies) resumes at its last committed offset.
 *   Delivery is therefore at least once: a message in flight on a member that dies is delivered
 *   again to the member that takes its partition over, and so may one handled just before its
 *   partition moved. A handler must tolerate that. Closing a member: the embedded bus treats it
 *   as a death (its handler in flight is not awaited, and not committed); Kafka's waits for that
 *   handler and commits it before leaving the group.
 *   `from` says where a partition the group has no committed position for starts; `offsets` is
 *   refused (`E_GROUP_OFFSETS`), since the group's commits decide. With 'latest' that start is
 *   the end as of the group's creation on the embedded bus, but on Kafka the end as of the first
 *   fetch of the member holding the partition, uncommitted until a message there is handled: a
 *   partition that changes hands before its first message skips what arrived in between. Use
 *   'earliest' where that matters. `ready` resolves once the member has joined and has its
 *   assignment (possibly none, with more members than partitions).
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
  /**
   * Where partitions without an explicit offset start; with `group`, where a partition the group
   * has no committed position for starts.
   */
  from: 'earliest' | 'latest';
  /** Per partition, the offset of the first message wanted. Not with `group`. */
  offsets?: Readonly<Record<number, string>>;
  /**
   * Share the topic's partitions with the other members of this consumer group, and have the
   * bus commit each handled message (see the header). Default: none, every partition is read.
   */
  group?: string;
  onMessage: MessageHandler;
  /** Called when `onMessage` throws; the message is then skipped. Defaults to the bus logger. */
  onError?: (err: unknown, message: BusMessage) => void;
}

export interface Subscription {
  /**
   * Resolves once the subscription has joined and positioned on every partition it reads (a
   * group member: once it has joined its group and has its assignment).
   */
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

export const BUS_ERROR_CODES = {
  E_GROUP_OFFSETS: 'a group subscription takes no offsets: the group resumes at its committed positions',
  E_BAD_GROUP: 'the group name must be 1 to 200 printable ASCII characters',
} as const;
export type BusErrorCode = keyof typeof BUS_ERROR_CODES;

/** A subscription asked for something the port does not offer; never retriable. */
export class BusError extends errorClass('BusError', BUS_ERROR_CODES) {
  constructor(code: BusErrorCode, message?: string) {
    super(code, message);
  }
}

/** Kafka's own limit is 255; we keep it shorter and printable, since it appears in ACLs and logs. */
const GROUP_NAME = /^[\x21-\x7e]{1,200}$/;

/** The checks both adapters make before subscribing, so a bad call fails alike on either. */
export function checkSubscribeOptions(options: SubscribeOptions): void {
  if (options.group === undefined) return;
  if (!GROUP_NAME.test(options.group)) {
    throw new BusError(
      'E_BAD_GROUP',
      `group ${JSON.stringify(options.group)}: ${BUS_ERROR_CODES.E_BAD_GROUP}`,
    );
  }
  if (options.offsets !== undefined) {
    throw new BusError(
      'E_GROUP_OFFSETS',
      `group ${options.group} on ${options.topic}: ${BUS_ERROR_CODES.E_GROUP_OFFSETS}`,
    );
  }
}
