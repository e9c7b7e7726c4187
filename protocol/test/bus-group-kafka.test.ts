import t from 'tap';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { requireTool, spawnNode, startKafkaMock, waitFor } from '@appliance/test-kit';
import { partitionForKey } from '../src/bus.js';
import { createKafkaBus } from '../src/kafka/index.js';
import {
  balanced,
  busGroupContract,
  firstHandlingOrder,
  groupLog,
  keysOverPartitions,
  records,
  type FreshBus,
  type Handled,
} from './bus-group-contract.js';

/** The other member, run in a process of its own so it can be killed with SIGKILL. */
const MEMBER = fileURLToPath(new URL('./fixtures/group-member.ts', import.meta.url));

if (!requireTool('kcat', 'kcat')) {
  t.plan(0, 'kcat is not installed (apt-get install kcat)');
} else {
  const mock = await startKafkaMock();
  t.teardown(() => mock.stop());
  // Each "process" gets a bus of its own; 6 s is the shortest session brokers accept by default.
  // Its log tells which partitions its member of a group was last given.
  const makeBus = async (): Promise<FreshBus> => {
    const assignments = new Map<string, number[]>();
    const bus = createKafkaBus({
      brokers: mock.brokers,
      clientId: `group-${randomUUID().slice(0, 8)}`,
      idempotent: false,
      groupSessionTimeoutMs: 6_000,
      logger: {
        info: (obj, msg) => {
          const { group, partitions } = obj as { group?: string; partitions?: number[] };
          if (msg === 'bus group member joined' && group) assignments.set(group, partitions ?? []);
        },
        warn: () => {},
        error: () => {},
      },
    });
    return { bus, cleanup: () => bus.close(), assigned: (group) => assignments.get(group) };
  };

  await busGroupContract(t, 'KafkaBus', makeBus);

  await t.test(
    'a member killed with SIGKILL mid-message: the survivor takes its partitions and gets that message again',
    async (t) => {
      const topic = `group-kill-${randomUUID()}`;
      const group = `g-${randomUUID()}`;
      const made = await makeBus();
      const { bus } = made;
      t.teardown(made.cleanup);
      await bus.ensureTopic(topic, 4);
      const partitions = await bus.partitionCount(topic);

      const child = spawnNode('group-member', MEMBER, [mock.bootstrap, topic, group]);
      t.teardown(() => child.kill('SIGKILL'));
      await child.waitForLog((l) => l.msg === 'ready', 'the child member joined');

      const g = groupLog();
      const survivor = await bus.subscribe({
        topic,
        group,
        from: 'earliest',
        onMessage: g.handler('survivor'),
      });
      t.teardown(() => survivor.close());
      await survivor.ready;
      const childView: FreshBus = {
        bus,
        cleanup: async () => {},
        assigned: () =>
          child.lines.filter((l) => l.msg === 'bus group member joined').at(-1)?.partitions as
            number[] | undefined,
      };
      await balanced([made, childView], group, partitions);

      const childHandled = (): Handled[] =>
        child.lines
          .filter((l) => l.msg === 'handled')
          .map((l) => ({
            member: 'child',
            partition: Number(l.partition),
            offset: Number(l.offset),
            key: String(l.key),
            value: String(l.value),
          }));

      // Rounds 0-9, then one `hang` record per partition, then rounds 10-19 behind it: the child
      // stops at the hang record of each partition it holds; the survivor goes through its own.
      const keys = keysOverPartitions(partitions, 3);
      const hangKeys = Array.from({ length: partitions }, (_, p) =>
        keys.find((k) => partitionForKey(k, partitions) === p)!,
      );
      const before = records(keys, 10);
      const hangs = hangKeys.map((key) => ({ key, value: `hang-${key}` }));
      const after = records(keys, 10, 10);
      await bus.publish(topic, before);
      await bus.publish(topic, hangs);
      await bus.publish(topic, after);

      await waitFor(
        () => childHandled().some((h) => h.value.startsWith('hang')),
        'the child inside a hanging handler',
        60_000,
      );
      // The partitions the child was given, not the ones it handled: it stops at its first hang
      // record, so a second partition of its own may never show in what it handled, and the
      // survivor can only ever get through the partitions it holds itself (the wait below once
      // expected one more than that and could not end until the kill that came after it).
      const childParts = new Set(childView.assigned?.(group) ?? []);
      t.ok(
        childParts.size > 0 && childParts.size < partitions,
        `the child held partitions ${[...childParts]}`,
      );
      t.ok(
        childHandled().every((h) => childParts.has(h.partition)),
        'the child handled only its own partitions',
      );
      // The child may keep heartbeating while its handler hangs, or its session may lapse and the
      // group rebalance (the broker then waits up to the rebalance timeout for it): the bound covers both.
      const REBALANCE_BOUND_MS = 150_000;
      await waitFor(
        // At least: should the child's session lapse meanwhile, its partitions come here too.
        () => g.log.filter((h) => h.value.startsWith('hang')).length >= partitions - childParts.size,
        'the survivor through its own partitions',
        REBALANCE_BOUND_MS,
      );

      const killed = await child.kill('SIGKILL');
      t.equal(killed.signal, 'SIGKILL');
      const stuckOn = childHandled().filter((h) => h.value.startsWith('hang'));

      const late = records(keys, 5, 20);
      await bus.publish(topic, late);
      const everything = [...before, ...hangs, ...after, ...late].map((r) => r.value);
      await waitFor(
        () => {
          const seen = new Set([...childHandled(), ...g.log].map((h) => h.value));
          return everything.every((v) => seen.has(v));
        },
        'every record handled by one member or the other',
        REBALANCE_BOUND_MS,
      );

      const survivorValues = new Set(g.log.map((h) => h.value));
      t.same(
        stuckOn.filter((h) => !survivorValues.has(h.value)).map((h) => h.value),
        [],
        `the messages the child died inside (${stuckOn.map((h) => h.value)}) were delivered again to the survivor`,
      );
      t.ok(
        [...childParts].every((p) => g.log.some((h) => h.partition === p)),
        'the survivor took over every partition of the child',
      );
      for (const [key, rounds] of firstHandlingOrder(g.log)) {
        if (rounds.some((r, i) => i > 0 && r <= rounds[i - 1]!))
          t.fail(`${key} out of order: ${rounds.join(',')}`);
      }
      t.pass(`${everything.length} records, ${childHandled().length + g.log.length} handlings`);
    },
  );
}
