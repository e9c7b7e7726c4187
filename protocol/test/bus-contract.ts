import { randomUUID } from 'node:crypto';
import type { Test } from 'tap';
import {
  partitionForKey,
  type Bus,
  type BusMessage,
  type SubscribeOptions,
  type Subscription,
} from '../src/bus.js';

export type MakeBus = () => Promise<{ bus: Bus; cleanup: () => Promise<void> }>;

/** Long enough for a consumer group join on librdkafka's mock cluster (about 3 s). */
const WAIT_MS = 30_000;

interface Collector {
  messages: BusMessage[];
  sub: Subscription;
  /** Resolves once `n` messages arrived; fails with a message saying how many did. */
  waitFor(n: number): Promise<BusMessage[]>;
}

async function collect(
  bus: Bus,
  options: Omit<SubscribeOptions, 'onMessage'> & { onMessage?: SubscribeOptions['onMessage'] },
): Promise<Collector> {
  const messages: BusMessage[] = [];
  const waiters = new Set<() => void>();
  const sub = await bus.subscribe({
    ...options,
    onMessage: async (m) => {
      await options.onMessage?.(m);
      messages.push(m);
      for (const w of waiters) w();
    },
  });
  const waitFor = (n: number): Promise<BusMessage[]> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (messages.length < n) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve(messages);
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(
          new Error(`waited ${WAIT_MS} ms for ${n} messages on ${options.topic}, got ${messages.length}`),
        );
      }, WAIT_MS);
      waiters.add(check);
      check();
    });
  return { messages, sub, waitFor };
}

const text = (m: BusMessage): string => m.value.toString();

/** Behaviours every Bus adapter must have; `makeBus` gives a fresh bus per behaviour. */
export function busContract(t: Test, name: string, makeBus: MakeBus): Promise<unknown> {
  const fresh = async (t: Test, partitions = 3): Promise<{ bus: Bus; topic: string }> => {
    const { bus, cleanup } = await makeBus();
    t.teardown(cleanup);
    const topic = `contract-${randomUUID()}`;
    await bus.ensureTopic(topic, partitions);
    return { bus, topic };
  };

  return t.test(`${name} keeps the Bus contract`, async (t) => {
    await t.test('records of one key arrive in publish order, across many keys and partitions', async (t) => {
      const { bus, topic } = await fresh(t);
      const c = await collect(bus, { topic, from: 'earliest' });
      await c.sub.ready;
      const keys = Array.from({ length: 20 }, (_, k) => `key-${k}`);
      for (let i = 0; i < 50; i++) {
        await bus.publish(
          topic,
          keys.map((key) => ({ key, value: `${key}:${i}` })),
        );
      }
      const got = await c.waitFor(1000);
      t.equal(got.length, 1000, 'each record exactly once');
      const partitionOf = new Map<string, number>();
      for (const key of keys) {
        const mine = got.filter((m) => m.key === key);
        t.same(
          mine.map(text),
          Array.from({ length: 50 }, (_, i) => `${key}:${i}`),
          `${key} in order`,
        );
        t.equal(new Set(mine.map((m) => m.partition)).size, 1, `${key} stays in one partition`);
        partitionOf.set(key, mine[0]!.partition);
      }
      t.ok(new Set(partitionOf.values()).size > 1, 'the keys spread over more than one partition');
      for (const p of new Set(got.map((m) => m.partition))) {
        const offsets = got.filter((m) => m.partition === p).map((m) => BigInt(m.offset));
        t.ok(
          offsets.every((o, i) => i === 0 || o > offsets[i - 1]!),
          `offsets increase in partition ${p}`,
        );
      }
    });

    await t.test('every record lands on partitionForKey(key, partitionCount(topic))', async (t) => {
      const { bus, topic } = await fresh(t);
      const count = await bus.partitionCount(topic);
      t.ok(count >= 1, `the topic has ${count} partitions`);
      const c = await collect(bus, { topic, from: 'earliest' });
      await c.sub.ready;
      const keys = [...Array.from({ length: 40 }, (_, k) => `stream-${k}.1h`), 'ema-cross.1h', '', 'ü-é'];
      await bus.publish(
        topic,
        keys.map((key) => ({ key, value: key })),
      );
      const got = await c.waitFor(keys.length);
      t.same(
        got.filter((m) => m.partition !== partitionForKey(m.key, count)).map((m) => m.key),
        [],
        'no record elsewhere, so a reader can check a record is on its key’s partition',
      );
      t.ok(new Set(got.map((m) => m.partition)).size > 1, 'and the keys spread over the partitions');
    });

    await t.test("'earliest' sees what was published before it subscribed", async (t) => {
      const { bus, topic } = await fresh(t);
      await bus.publish(
        topic,
        Array.from({ length: 5 }, (_, i) => ({ key: `k${i}`, value: `old-${i}` })),
      );
      const c = await collect(bus, { topic, from: 'earliest' });
      await c.sub.ready;
      await bus.publish(topic, [{ key: 'k0', value: 'new-0' }]);
      const got = await c.waitFor(6);
      t.same(got.map(text).sort(), ['new-0', 'old-0', 'old-1', 'old-2', 'old-3', 'old-4']);
    });

    await t.test("'latest' sees only what was published after it was ready", async (t) => {
      const { bus, topic } = await fresh(t);
      // The same keys before and after: a partition holding a new record also holds an old one
      // in front of it, which a subscription that started too early would deliver first.
      const keys = ['a', 'b', 'c', 'd', 'e'];
      await bus.publish(
        topic,
        keys.map((key) => ({ key, value: `old-${key}` })),
      );
      const c = await collect(bus, { topic, from: 'latest' });
      await c.sub.ready;
      await bus.publish(
        topic,
        keys.map((key) => ({ key, value: `new-${key}` })),
      );
      const got = await c.waitFor(5);
      t.same(got.map(text).sort(), ['new-a', 'new-b', 'new-c', 'new-d', 'new-e']);
    });

    await t.test('explicit per-partition offsets resume exactly from there', async (t) => {
      const { bus, topic } = await fresh(t);
      await bus.publish(
        topic,
        Array.from({ length: 30 }, (_, i) => ({ key: `k${i % 6}`, value: `m${i}` })),
      );
      const all = await collect(bus, { topic, from: 'earliest' });
      const history = await all.waitFor(30);
      // Resume every partition from its middle record.
      const offsets: Record<number, string> = {};
      for (const p of new Set(history.map((m) => m.partition))) {
        const mine = history.filter((m) => m.partition === p);
        offsets[p] = mine[Math.floor(mine.length / 2)]!.offset;
      }
      const wanted = history
        .filter((m) => BigInt(m.offset) >= BigInt(offsets[m.partition]!))
        .map((m) => `${m.partition}@${m.offset}:${text(m)}`);
      const resumed = await collect(bus, { topic, from: 'latest', offsets });
      await resumed.sub.ready;
      await bus.publish(topic, [{ key: 'k0', value: 'after' }]);
      const got = await resumed.waitFor(wanted.length + 1);
      t.same(
        got
          .filter((m) => text(m) !== 'after')
          .map((m) => `${m.partition}@${m.offset}:${text(m)}`)
          .sort(),
        wanted.sort(),
        'exactly the records from each offset on',
      );
      t.equal(got.filter((m) => text(m) === 'after').length, 1, 'and new records after them');
    });

    await t.test('two subscribers each see every record', async (t) => {
      const { bus, topic } = await fresh(t);
      const [a, b] = await Promise.all([
        collect(bus, { topic, from: 'earliest' }),
        collect(bus, { topic, from: 'earliest' }),
      ]);
      await Promise.all([a.sub.ready, b.sub.ready]);
      const values = Array.from({ length: 40 }, (_, i) => `v${String(i).padStart(2, '0')}`);
      await bus.publish(
        topic,
        values.map((v, i) => ({ key: `k${i % 8}`, value: v })),
      );
      t.same((await a.waitFor(40)).map(text).sort(), values);
      t.same((await b.waitFor(40)).map(text).sort(), values);
    });

    await t.test('a handler that throws has that record skipped and the next delivered', async (t) => {
      const { bus, topic } = await fresh(t);
      const failed: string[] = [];
      let calls = 0;
      const c = await collect(bus, {
        topic,
        from: 'earliest',
        onMessage: (m) => {
          calls++;
          if (text(m) === 'boom') throw new Error('handler failed');
        },
        onError: (err, m) => failed.push(`${(err as Error).message}: ${text(m)}`),
      });
      await c.sub.ready;
      await bus.publish(topic, [
        { key: 'one-key', value: 'before' },
        { key: 'one-key', value: 'boom' },
        { key: 'one-key', value: 'after' },
      ]);
      const got = await c.waitFor(2);
      t.same(got.map(text), ['before', 'after']);
      t.same(failed, ['handler failed: boom']);
      t.equal(calls, 3, 'the failed record is not delivered again');
    });

    await t.test('close stops delivery', async (t) => {
      const { bus, topic } = await fresh(t);
      const [closing, witness] = await Promise.all([
        collect(bus, { topic, from: 'earliest' }),
        collect(bus, { topic, from: 'earliest' }),
      ]);
      await Promise.all([closing.sub.ready, witness.sub.ready]);
      await bus.publish(topic, [{ key: 'k', value: 'first' }]);
      await closing.waitFor(1);
      await closing.sub.close();
      await bus.publish(
        topic,
        Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: `late-${i}` })),
      );
      await witness.waitFor(11);
      t.same(closing.messages.map(text), ['first'], 'nothing after close, though the witness got it all');
      await closing.sub.close();
    });
  });
}
