import { randomUUID } from 'node:crypto';
import type { Test } from 'tap';
import { waitFor } from '@appliance/test-kit';
import { BusError, partitionForKey, type Bus, type BusMessage, type Subscription } from '../src/bus.js';

export interface FreshBus {
  bus: Bus;
  cleanup: () => Promise<void>;
  /**
   * The partitions this bus's member of `group` was last given, where the adapter tells (Kafka,
   * through its log); the contract then waits for the members' assignments to cover the topic
   * without overlap before it publishes, since `ready` is one member's join, not the group's.
   */
  assigned?: (group: string) => number[] | undefined;
}
export type MakeBus = () => Promise<FreshBus>;

/** Until the members' last assignments split all `partitions` among them, if the adapter tells. */
export async function balanced(buses: readonly FreshBus[], group: string, partitions: number): Promise<void> {
  if (buses.some((b) => !b.assigned)) return;
  await waitFor(
    () => {
      const got = buses.map((b) => b.assigned!(group));
      if (got.some((a) => !a || a.length === 0)) return false;
      const all = got.flatMap((a) => a!);
      return all.length === partitions && new Set(all).size === partitions;
    },
    `group ${group} split over ${buses.length} members`,
    WAIT_MS,
  );
}

/** Long enough for consumer-group joins and rebalances on librdkafka's mock cluster. */
const WAIT_MS = 60_000;

/** One handling of a record, in the order handlers were entered across every member. */
export interface Handled {
  member: string;
  partition: number;
  offset: number;
  key: string;
  value: string;
}

/** Keys spread over every partition of a topic with `partitions` partitions. */
export function keysOverPartitions(partitions: number, perPartition: number): string[] {
  const keys: string[] = [];
  const count = new Map<number, number>();
  for (let i = 0; keys.length < partitions * perPartition; i++) {
    const key = `key-${i}`;
    const p = partitionForKey(key, partitions);
    if ((count.get(p) ?? 0) >= perPartition) continue;
    count.set(p, (count.get(p) ?? 0) + 1);
    keys.push(key);
  }
  return keys;
}

/** `rounds` records per key, valued `key:round`, so a key's records have a known order. */
export function records(keys: readonly string[], rounds: number, from = 0) {
  return Array.from({ length: rounds }, (_, r) =>
    keys.map((key) => ({ key, value: `${key}:${from + r}` })),
  ).flat();
}

/**
 * Per key, the rounds in the order first handled: a key whose records came out of order, or
 * with one skipped and handled later, shows up as a list that is not 0, 1, 2, ...
 */
export function firstHandlingOrder(log: readonly Handled[]): Map<string, number[]> {
  const seen = new Set<string>();
  const byKey = new Map<string, number[]>();
  for (const h of log) {
    if (seen.has(h.value)) continue;
    seen.add(h.value);
    const list = byKey.get(h.key) ?? [];
    list.push(Number(h.value.split(':')[1]));
    byKey.set(h.key, list);
  }
  return byKey;
}

/** A log shared by the members of a test, and the most handlers ever in flight on one partition. */
export function groupLog() {
  const log: Handled[] = [];
  const inflight = new Map<number, number>();
  let maxInflight = 0;
  const handler =
    (member: string, onEnter?: (m: BusMessage) => Promise<void> | void) =>
    async (m: BusMessage): Promise<void> => {
      const now = (inflight.get(m.partition) ?? 0) + 1;
      inflight.set(m.partition, now);
      maxInflight = Math.max(maxInflight, now);
      log.push({
        member,
        partition: m.partition,
        offset: Number(m.offset),
        key: m.key,
        value: m.value.toString(),
      });
      try {
        await onEnter?.(m);
      } finally {
        inflight.set(m.partition, inflight.get(m.partition)! - 1);
      }
    };
  return {
    log,
    handler,
    get maxInflight() {
      return maxInflight;
    },
    values: () => new Set(log.map((h) => h.value)),
  };
}

/** Group behaviours every Bus adapter must have; `makeBus` gives a fresh bus (a fresh process's). */
export function busGroupContract(t: Test, name: string, makeBus: MakeBus): Promise<unknown> {
  const freshBus = async (t: Test) => {
    const made = await makeBus();
    t.teardown(made.cleanup);
    return made;
  };
  const fresh = async (t: Test) => (await freshBus(t)).bus;

  return t.test(`${name} keeps the group contract`, async (t) => {
    await t.test('two members share the partitions: every record handled once, in order', async (t) => {
      const made = await Promise.all([freshBus(t), freshBus(t)]);
      const [a, b] = made.map((m) => m.bus) as [Bus, Bus];
      const topic = `group-${randomUUID()}`;
      await a.ensureTopic(topic, 4);
      const partitions = await a.partitionCount(topic);
      const group = `g-${randomUUID()}`;
      const g = groupLog();
      const members: Subscription[] = [];
      for (const [id, bus] of [
        ['a', a],
        ['b', b],
      ] as const) {
        const sub = await bus.subscribe({ topic, group, from: 'earliest', onMessage: g.handler(id) });
        t.teardown(() => sub.close());
        members.push(sub);
      }
      await Promise.all(members.map((s) => s.ready));
      await balanced(made, group, partitions);
      const keys = keysOverPartitions(partitions, 3);
      const sent = records(keys, 25);
      for (let i = 0; i < sent.length; i += 50) await a.publish(topic, sent.slice(i, i + 50));
      await waitFor(() => g.log.length >= sent.length, `${sent.length} records handled`, WAIT_MS);

      t.equal(g.log.length, sent.length, 'no record handled twice');
      t.same([...g.values()].sort(), sent.map((r) => r.value).sort(), 'and none missing');
      const perMember = ['a', 'b'].map((id) => g.log.filter((h) => h.member === id));
      t.ok(
        perMember.every((l) => l.length > 0),
        `each member handled some (a ${perMember[0]!.length}, b ${perMember[1]!.length})`,
      );
      for (let p = 0; p < partitions; p++) {
        const handlers = new Set(g.log.filter((h) => h.partition === p).map((h) => h.member));
        t.equal(handlers.size, 1, `partition ${p} went to one member`);
        const offsets = g.log.filter((h) => h.partition === p).map((h) => h.offset);
        t.ok(
          offsets.every((o, i) => i === 0 || o === offsets[i - 1]! + 1),
          `partition ${p} handled in offset order, none skipped`,
        );
      }
      t.equal(g.maxInflight, 1, 'one handler at a time per partition');
      for (const [key, rounds] of firstHandlingOrder(g.log)) {
        if (rounds.some((r, i) => r !== i)) t.fail(`${key} out of order: ${rounds.join(',')}`);
      }
    });

    await t.test('a member that closes mid-run has its partitions taken over, losing nothing', async (t) => {
      const made = await Promise.all([freshBus(t), freshBus(t)]);
      const [a, b] = made.map((m) => m.bus) as [Bus, Bus];
      const topic = `group-${randomUUID()}`;
      await a.ensureTopic(topic, 4);
      const partitions = await a.partitionCount(topic);
      const group = `g-${randomUUID()}`;
      const g = groupLog();
      const subA = await a.subscribe({ topic, group, from: 'earliest', onMessage: g.handler('a') });
      const subB = await b.subscribe({ topic, group, from: 'earliest', onMessage: g.handler('b') });
      t.teardown(() => Promise.all([subA.close(), subB.close()]));
      await Promise.all([subA.ready, subB.ready]);
      await balanced(made, group, partitions);

      const keys = keysOverPartitions(partitions, 3);
      const first = records(keys, 20);
      const second = records(keys, 20, 20);
      await a.publish(topic, first);
      await waitFor(
        () => g.log.some((h) => h.member === 'a') && g.log.some((h) => h.member === 'b'),
        'both members handling',
        WAIT_MS,
      );
      await subA.close();
      const closedAt = g.log.length;
      await a.publish(topic, second);
      const all = [...first, ...second].map((r) => r.value);
      await waitFor(() => all.every((v) => g.values().has(v)), 'every record handled', WAIT_MS);

      t.same(
        g.log.slice(closedAt).filter((h) => h.member === 'a'),
        [],
        'nothing reaches the closed member',
      );
      t.equal(
        new Set(g.log.slice(closedAt).map((h) => h.partition)).size,
        partitions,
        'the remaining member reads every partition',
      );
      for (const [key, rounds] of firstHandlingOrder(g.log)) {
        if (rounds.some((r, i) => r !== i)) t.fail(`${key} out of order: ${rounds.join(',')}`);
      }
      t.pass(`${all.length} records handled at least once (${g.log.length} handlings)`);
    });

    await t.test('a new member resumes at the group’s commits, not at `from`', async (t) => {
      const bus = await fresh(t);
      const topic = `group-${randomUUID()}`;
      await bus.ensureTopic(topic, 4);
      const group = `g-${randomUUID()}`;
      const g = groupLog();
      const keys = keysOverPartitions(await bus.partitionCount(topic), 2);
      const first = await bus.subscribe({ topic, group, from: 'earliest', onMessage: g.handler('first') });
      await first.ready;
      await bus.publish(topic, records(keys, 3));
      await waitFor(() => g.log.length >= keys.length * 3, 'the first records handled', WAIT_MS);
      await first.close();

      await bus.publish(topic, records(keys, 2, 3));
      const second = await bus.subscribe({ topic, group, from: 'earliest', onMessage: g.handler('second') });
      t.teardown(() => second.close());
      await second.ready;
      await waitFor(() => g.log.length >= keys.length * 5, 'the later records handled', WAIT_MS);
      t.same(
        g.log
          .filter((h) => h.member === 'second')
          .map((h) => h.value)
          .sort(),
        records(keys, 2, 3)
          .map((r) => r.value)
          .sort(),
        'only what the group had not handled yet',
      );
    });

    await t.test('a throw goes to onError and is committed like a handled message', async (t) => {
      const bus = await fresh(t);
      const topic = `group-${randomUUID()}`;
      await bus.ensureTopic(topic, 4);
      const group = `g-${randomUUID()}`;
      const failed: string[] = [];
      const handled: string[] = [];
      const sub = await bus.subscribe({
        topic,
        group,
        from: 'earliest',
        onMessage: (m) => {
          handled.push(m.value.toString());
          if (m.value.toString() === 'boom') throw new Error('handler failed');
        },
        onError: (err, m) => failed.push(`${(err as Error).message}: ${m.value.toString()}`),
      });
      await sub.ready;
      await bus.publish(topic, [
        { key: 'one', value: 'before' },
        { key: 'one', value: 'boom' },
        { key: 'one', value: 'after' },
      ]);
      await waitFor(() => handled.length >= 3, 'three records', WAIT_MS);
      await sub.close();
      t.same(failed, ['handler failed: boom']);

      const again: string[] = [];
      const next = await bus.subscribe({
        topic,
        group,
        from: 'earliest',
        onMessage: (m) => void again.push(m.value.toString()),
      });
      t.teardown(() => next.close());
      await next.ready;
      await bus.publish(topic, [{ key: 'one', value: 'last' }]);
      await waitFor(() => again.length >= 1, 'the next record', WAIT_MS);
      t.same(again, ['last'], 'the record that threw is not delivered again');
    });

    await t.test('a plain subscriber alongside a group still sees every record', async (t) => {
      const bus = await fresh(t);
      const topic = `group-${randomUUID()}`;
      await bus.ensureTopic(topic, 4);
      const group = `g-${randomUUID()}`;
      const g = groupLog();
      const everything: string[] = [];
      const member = await bus.subscribe({ topic, group, from: 'earliest', onMessage: g.handler('m') });
      const plain = await bus.subscribe({
        topic,
        from: 'earliest',
        onMessage: (m) => void everything.push(m.value.toString()),
      });
      t.teardown(() => Promise.all([member.close(), plain.close()]));
      await Promise.all([member.ready, plain.ready]);
      const sent = records(keysOverPartitions(await bus.partitionCount(topic), 2), 5);
      await bus.publish(topic, sent);
      await waitFor(
        () => everything.length >= sent.length && g.log.length >= sent.length,
        'both sides done',
        WAIT_MS,
      );
      t.same([...everything].sort(), sent.map((r) => r.value).sort(), 'the plain subscriber saw all');
      t.same([...g.values()].sort(), sent.map((r) => r.value).sort(), 'and so did the group');
    });

    await t.test('offsets with a group, or a bad group name, are refused', async (t) => {
      const bus = await fresh(t);
      const topic = `group-${randomUUID()}`;
      const onMessage = (): void => {};
      const err = await bus
        .subscribe({ topic, group: 'sim', from: 'earliest', offsets: { 0: '5' }, onMessage })
        .catch((e: unknown) => e);
      t.ok(BusError.is(err, 'E_GROUP_OFFSETS'), 'E_GROUP_OFFSETS');
      t.equal(
        (err as Error).message,
        `group sim on ${topic}: a group subscription takes no offsets: the group resumes at its committed positions`,
      );
      t.equal((err as BusError).retriable, false);
      for (const group of ['', 'has space', 'x'.repeat(201)]) {
        const bad = await bus
          .subscribe({ topic, group, from: 'earliest', onMessage })
          .catch((e: unknown) => e);
        t.ok(BusError.is(bad, 'E_BAD_GROUP'), `E_BAD_GROUP for ${JSON.stringify(group).slice(0, 20)}`);
      }
    });
  });
}
