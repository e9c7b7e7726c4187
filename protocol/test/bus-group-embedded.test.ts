import t from 'tap';
import { waitFor } from '@appliance/test-kit';
import { partitionForKey } from '../src/bus.js';
import { EmbeddedBus } from '../src/embedded-bus.js';
import { busGroupContract, groupLog, keysOverPartitions, records } from './bus-group-contract.js';

// One bus shared by every "process" of a behaviour: embedded groups live inside one bus.
let shared: EmbeddedBus | undefined;

/** A key of a two-partition topic that lands on `partition`. */
const keyOn = (partition: number): string =>
  keysOverPartitions(2, 1).find((k) => partitionForKey(k, 2) === partition)!;

/** Enough turns of the event loop for the embedded bus to deliver whatever it can. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}
await busGroupContract(t, 'EmbeddedBus', async () => {
  shared ??= new EmbeddedBus();
  const bus = shared;
  return {
    bus,
    cleanup: async () => {
      await bus.close();
      if (shared === bus) shared = undefined;
    },
  };
});

t.test('a member closed inside a handler has that message delivered again to the next owner', async (t) => {
  const bus = new EmbeddedBus();
  t.teardown(() => bus.close());
  await bus.ensureTopic('jobs', 2);
  const g = groupLog();
  let release!: () => void;
  const stuck = new Promise<void>((resolve) => (release = resolve));
  const a = await bus.subscribe({
    topic: 'jobs',
    group: 'sim',
    from: 'earliest',
    onMessage: g.handler('a', (m) => (m.value.toString() === 'slow' ? stuck : undefined)),
  });
  const b = await bus.subscribe({ topic: 'jobs', group: 'sim', from: 'earliest', onMessage: g.handler('b') });
  t.teardown(() => b.close());
  // Partition 0 belongs to `a` (round-robin in join order); pick a key that lands there.
  const key = keyOn(0);
  await bus.publish('jobs', [
    { key: key, value: 'fast' },
    { key: key, value: 'slow' },
    { key: key, value: 'after' },
  ]);
  await waitFor(() => g.log.some((h) => h.value === 'slow'), 'a inside the slow handler');
  t.same(
    g.log.map((h) => `${h.member}:${h.value}`),
    ['a:fast', 'a:slow'],
  );
  await a.close();
  await waitFor(() => g.log.some((h) => h.value === 'after'), 'b taking the partition over');
  release();
  await settle();
  t.same(
    g.log.map((h) => `${h.member}:${h.value}`),
    ['a:fast', 'a:slow', 'b:slow', 'b:after'],
    'the committed message is not repeated, the one in flight is',
  );

  // The late end of a's handler committed nothing: a third member after b starts after `after`.
  await b.close();
  const c = await bus.subscribe({ topic: 'jobs', group: 'sim', from: 'earliest', onMessage: g.handler('c') });
  t.teardown(() => c.close());
  await bus.publish('jobs', [{ key: key, value: 'last' }]);
  await waitFor(() => g.log.some((h) => h.value === 'last'), 'c reading');
  t.same(
    g.log.filter((h) => h.member === 'c').map((h) => h.value),
    ['last'],
  );
});

t.test('a member that joins takes its partitions only once the old owner committed', async (t) => {
  const bus = new EmbeddedBus();
  t.teardown(() => bus.close());
  await bus.ensureTopic('jobs', 2);
  const g = groupLog();
  let release!: () => void;
  const stuck = new Promise<void>((resolve) => (release = resolve));
  const a = await bus.subscribe({
    topic: 'jobs',
    group: 'sim',
    from: 'earliest',
    onMessage: g.handler('a', (m) => (m.value.toString() === 'slow' ? stuck : undefined)),
  });
  t.teardown(() => a.close());
  // Partition 1 moves to the second member when it joins.
  const key = keyOn(1);
  await bus.publish('jobs', [
    { key, value: 'slow' },
    { key, value: 'next' },
  ]);
  await waitFor(() => g.log.some((h) => h.value === 'slow'), 'a inside the slow handler');
  const b = await bus.subscribe({ topic: 'jobs', group: 'sim', from: 'earliest', onMessage: g.handler('b') });
  t.teardown(() => b.close());
  await settle();
  t.same(
    g.log.map((h) => h.value),
    ['slow'],
    'b waits while a still handles a message of the partition',
  );
  release();
  await waitFor(() => g.log.some((h) => h.value === 'next'), 'b reading');
  t.same(
    g.log.map((h) => `${h.member}:${h.value}`),
    ['a:slow', 'b:next'],
    'and then goes on after it, without repeating it',
  );
  t.equal(g.maxInflight, 1);
});

t.test("a group made with 'latest' starts at the end as of its first member", async (t) => {
  const bus = new EmbeddedBus();
  t.teardown(() => bus.close());
  await bus.ensureTopic('jobs', 4);
  const keys = keysOverPartitions(4, 1);
  await bus.publish('jobs', records(keys, 1));
  const g = groupLog();
  const a = await bus.subscribe({ topic: 'jobs', group: 'sim', from: 'latest', onMessage: g.handler('a') });
  await bus.publish('jobs', records(keys, 1, 1));
  // b joins before a delivered anything (delivery is asynchronous): b's partitions still start
  // where the group began, not at the end as of b's join.
  const b = await bus.subscribe({ topic: 'jobs', group: 'sim', from: 'latest', onMessage: g.handler('b') });
  t.teardown(() => Promise.all([a.close(), b.close()]));
  await waitFor(() => g.log.length >= keys.length, 'the new records');
  t.same(
    [...g.values()].sort(),
    records(keys, 1, 1)
      .map((r) => r.value)
      .sort(),
  );
  t.ok(new Set(g.log.map((h) => h.member)).size === 2, 'both members had partitions');
});
