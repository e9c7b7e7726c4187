import type { Bus, BusMessage, BusRecord, SubscribeOptions, Subscription } from './bus.js';
import { checkSubscribeOptions, partitionForKey } from './bus.js';
import { TOPIC_PARTITIONS } from './topics.js';

export interface EmbeddedBusOptions {
  /** Messages kept per partition; older ones are dropped as Kafka retention would. */
  retentionPerPartition?: number;
  /** Clock for message timestamps. */
  now?: () => number;
  onHandlerError?: (err: unknown, message: BusMessage) => void;
}

export const DEFAULT_EMBEDDED_RETENTION = 200_000;

interface Partition {
  base: number; // offset of messages[0]
  messages: BusMessage[];
}

class EmbeddedSubscription implements Subscription {
  readonly ready = Promise.resolve();
  readonly #cursors: number[];
  #running = false;
  #closed = false;

  constructor(
    private readonly partitions: Partition[],
    private readonly options: SubscribeOptions,
    private readonly onError: (err: unknown, message: BusMessage) => void,
    private readonly detach: () => void,
  ) {
    this.#cursors = partitions.map((p, i) => {
      const explicit = options.offsets?.[i];
      if (explicit !== undefined) return Math.max(Number(explicit), p.base);
      return options.from === 'earliest' ? p.base : p.base + p.messages.length;
    });
  }

  wake(): void {
    if (this.#running || this.#closed) return;
    this.#running = true;
    // Deliver asynchronously: publishing never runs a subscriber's code on its own stack.
    setImmediate(() => void this.#pump());
  }

  async #pump(): Promise<void> {
    try {
      let delivered = true;
      while (delivered && !this.#closed) {
        delivered = false;
        for (let i = 0; i < this.partitions.length && !this.#closed; i++) {
          const p = this.partitions[i]!;
          const cursor = Math.max(this.#cursors[i]!, p.base);
          const msg = p.messages[cursor - p.base];
          if (!msg) continue;
          this.#cursors[i] = cursor + 1;
          delivered = true;
          try {
            await this.options.onMessage(msg);
          } catch (err) {
            (this.options.onError ?? this.onError)(err, msg);
          }
        }
      }
    } finally {
      this.#running = false;
    }
    if (!this.#closed && this.#hasBacklog()) this.wake();
  }

  #hasBacklog(): boolean {
    return this.partitions.some((p, i) => this.#cursors[i]! < p.base + p.messages.length);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.detach();
  }
}

/** What one partition of a group is doing: the message being handled, and by whom. */
interface InFlight {
  member: GroupMember;
  offset: number;
}

/**
 * A consumer group on one topic of the embedded bus: its members, who owns which partition
 * (round-robin by partition over the members in join order), and per partition the committed
 * offset (the next message the group still owes) and the position of the current owner.
 */
class EmbeddedGroup {
  readonly members: GroupMember[] = [];
  readonly owner: (GroupMember | undefined)[];
  readonly committed: number[];
  /** The owner's next offset; undefined after a hand-over, meaning "from `committed`". */
  readonly next: (number | undefined)[];
  readonly inflight: (InFlight | undefined)[];

  constructor(
    readonly partitions: Partition[],
    from: SubscribeOptions['from'],
  ) {
    // Fixed when the group is made, as a Kafka group's first commit would be: a partition
    // changing hands before its first message must not skip what arrived meanwhile.
    this.committed = partitions.map((p) => (from === 'earliest' ? p.base : p.base + p.messages.length));
    this.owner = partitions.map(() => undefined);
    this.next = partitions.map(() => undefined);
    this.inflight = partitions.map(() => undefined);
  }

  join(member: GroupMember): void {
    this.members.push(member);
    this.#assign();
  }

  /**
   * A member that leaves is treated as dead: what it was handling is not committed, so the next
   * owner starts at the committed offset and delivers it again.
   */
  leave(member: GroupMember): void {
    const i = this.members.indexOf(member);
    if (i < 0) return;
    this.members.splice(i, 1);
    this.inflight.forEach((f, p) => {
      if (f?.member === member) this.inflight[p] = undefined;
    });
    this.#assign();
  }

  #assign(): void {
    this.partitions.forEach((_, p) => {
      const owner = this.members.length > 0 ? this.members[p % this.members.length] : undefined;
      if (owner !== this.owner[p]) {
        this.owner[p] = owner;
        this.next[p] = undefined;
      }
    });
    this.wakeAll();
  }

  wakeAll(): void {
    for (const m of this.members) m.wake();
  }

  /** The owner's next message on `p`, or none while another member still handles one there. */
  take(member: GroupMember, p: number): BusMessage | undefined {
    if (this.owner[p] !== member || this.inflight[p]) return undefined;
    const part = this.partitions[p]!;
    const cursor = Math.max(this.next[p] ?? this.committed[p]!, part.base);
    const msg = part.messages[cursor - part.base];
    if (!msg) return undefined;
    this.next[p] = cursor + 1;
    this.inflight[p] = { member, offset: cursor };
    return msg;
  }

  /** After the handler settled: commit, unless the member left (died) meanwhile. */
  done(member: GroupMember, p: number, offset: number): void {
    const f = this.inflight[p];
    if (f?.member !== member || f.offset !== offset) return;
    this.inflight[p] = undefined;
    this.committed[p] = Math.max(this.committed[p]!, offset + 1);
    // A partition handed over while this message was in flight waited for this commit.
    if (this.owner[p] !== member) this.owner[p]?.wake();
  }

  hasBacklog(member: GroupMember): boolean {
    return this.partitions.some((part, p) => {
      if (this.owner[p] !== member || this.inflight[p]) return false;
      return (this.next[p] ?? this.committed[p]!) < part.base + part.messages.length;
    });
  }
}

/**
 * One member of an embedded group. Per partition it owns, one message at a time, as a plain
 * subscription; the group decides which partitions those are and where they start.
 */
class GroupMember implements Subscription {
  readonly ready = Promise.resolve();
  #running = false;
  #closed = false;

  constructor(
    private readonly group: EmbeddedGroup,
    private readonly options: SubscribeOptions,
    private readonly onError: (err: unknown, message: BusMessage) => void,
    private readonly detach: () => void,
  ) {}

  wake(): void {
    if (this.#running || this.#closed) return;
    this.#running = true;
    setImmediate(() => void this.#pump());
  }

  async #pump(): Promise<void> {
    try {
      let delivered = true;
      while (delivered && !this.#closed) {
        delivered = false;
        for (let p = 0; p < this.group.partitions.length && !this.#closed; p++) {
          const msg = this.group.take(this, p);
          if (!msg) continue;
          delivered = true;
          try {
            await this.options.onMessage(msg);
          } catch (err) {
            try {
              (this.options.onError ?? this.onError)(err, msg);
            } catch (reportErr) {
              this.onError(reportErr, msg);
            }
          }
          this.group.done(this, p, Number(msg.offset));
        }
      }
    } finally {
      this.#running = false;
    }
    if (!this.#closed && this.group.hasBacklog(this)) this.wake();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.group.leave(this);
    this.detach();
  }
}

/** The in-memory Bus: same semantics as the Kafka adapter, for one process and for tests. */
export class EmbeddedBus implements Bus {
  readonly kind = 'embedded' as const;
  readonly #topics = new Map<string, Partition[]>();
  readonly #subs = new Map<string, Set<EmbeddedSubscription | GroupMember>>();
  /** Groups by topic, then by name; a group outlives its members, as its commits do on Kafka. */
  readonly #groups = new Map<string, Map<string, EmbeddedGroup>>();
  readonly #retention: number;
  readonly #now: () => number;
  readonly #onHandlerError: (err: unknown, message: BusMessage) => void;

  constructor(options: EmbeddedBusOptions = {}) {
    this.#retention = options.retentionPerPartition ?? DEFAULT_EMBEDDED_RETENTION;
    this.#now = options.now ?? Date.now;
    this.#onHandlerError =
      options.onHandlerError ??
      ((err, m) =>
        console.error(`embedded bus: handler failed on ${m.topic}/${m.partition}@${m.offset}`, err));
  }

  async ensureTopic(topic: string, partitions: number): Promise<void> {
    this.#topic(topic, partitions);
  }

  async partitionCount(topic: string): Promise<number> {
    return this.#topic(topic).length;
  }

  #topic(topic: string, partitions?: number): Partition[] {
    let t = this.#topics.get(topic);
    if (!t) {
      const n = partitions ?? (TOPIC_PARTITIONS as Record<string, number>)[topic] ?? 1;
      t = Array.from({ length: n }, () => ({ base: 0, messages: [] }));
      this.#topics.set(topic, t);
    }
    return t;
  }

  async publish(topic: string, records: readonly BusRecord[]): Promise<void> {
    const partitions = this.#topic(topic);
    const timestamp = this.#now();
    for (const r of records) {
      const partition = partitionForKey(r.key, partitions.length);
      const p = partitions[partition]!;
      const value = typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
      const offset = String(p.base + p.messages.length);
      p.messages.push({ topic, partition, offset, key: r.key, value, timestamp });
      if (p.messages.length > this.#retention) {
        const drop = p.messages.length - this.#retention;
        p.messages.splice(0, drop);
        p.base += drop;
      }
    }
    for (const s of this.#subs.get(topic) ?? []) s.wake();
  }

  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    checkSubscribeOptions(options);
    const partitions = this.#topic(options.topic);
    const set = this.#subs.get(options.topic) ?? new Set();
    this.#subs.set(options.topic, set);
    if (options.group !== undefined) return this.#join(options.group, partitions, options, set);
    const sub = new EmbeddedSubscription(partitions, options, this.#onHandlerError, () => set.delete(sub));
    set.add(sub);
    sub.wake();
    return sub;
  }

  #join(
    name: string,
    partitions: Partition[],
    options: SubscribeOptions,
    set: Set<EmbeddedSubscription | GroupMember>,
  ): Subscription {
    const byName = this.#groups.get(options.topic) ?? new Map<string, EmbeddedGroup>();
    this.#groups.set(options.topic, byName);
    let group = byName.get(name);
    if (!group) {
      group = new EmbeddedGroup(partitions, options.from);
      byName.set(name, group);
    }
    const member = new GroupMember(group, options, this.#onHandlerError, () => set.delete(member));
    set.add(member);
    group.join(member);
    return member;
  }

  async close(): Promise<void> {
    for (const set of this.#subs.values()) for (const s of [...set]) await s.close();
  }
}
