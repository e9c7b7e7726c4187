import t from 'tap';
import kafkajs from 'kafkajs';
import { requireTool, startKafkaMock, waitFor } from '@appliance/test-kit';
import type { BusMessage } from '../src/bus.js';
import { createKafkaBus, KafkaBusError, type KafkaBusOptions } from '../src/kafka/index.js';
import { busContract } from './bus-contract.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Rejects with `what` if `p` has not settled within `ms`, so a broken bus fails instead of hanging. */
function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not done within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

if (!requireTool('kcat', 'kcat')) {
  t.plan(0, 'kcat is not installed (apt-get install kcat)');
} else {
  const mock = await startKafkaMock();
  t.teardown(() => mock.stop());

  await busContract(t, 'KafkaBus', async () => {
    const bus = createKafkaBus({ brokers: mock.brokers, clientId: 'contract', idempotent: false });
    return { bus, cleanup: () => bus.close() };
  });

  await t.test('ensureTopic on the mock cluster creates the topic once and is idempotent', async (t) => {
    const bus = createKafkaBus({ brokers: mock.brokers, clientId: 'topics', idempotent: false });
    t.teardown(() => bus.close());
    await bus.ensureTopic('made-once', 3);
    await bus.ensureTopic('made-once', 3);
    await Promise.all([bus.ensureTopic('made-twice', 3), bus.ensureTopic('made-twice', 3)]);
    await bus.publish('made-once', [{ key: 'k', value: 'v' }]);
    const admin = new kafkajs.Kafka({ brokers: mock.brokers, logLevel: kafkajs.logLevel.NOTHING }).admin();
    await admin.connect();
    t.teardown(() => admin.disconnect());
    const { topics } = await admin.fetchTopicMetadata({ topics: ['made-once', 'made-twice'] });
    // The mock has no CreateTopics: topics get its default count, whatever was asked for.
    t.same(
      topics
        .map((m) => [m.name, m.partitions.length, m.partitions.every((p) => p.leader > 0)])
        .sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
      [
        ['made-once', 4, true],
        ['made-twice', 4, true],
      ],
    );
  });

  await t.test(
    'idempotence on a cluster without a controller: off with a warning by default, an error if required',
    async (t) => {
      const warnings: string[] = [];
      const logger = { warn: (_: object, msg: string) => void warnings.push(msg), error: () => {} };
      const lenient = createKafkaBus({ brokers: mock.brokers, clientId: 'idem-default', logger });
      const strict = createKafkaBus({ brokers: mock.brokers, clientId: 'idem-required', idempotent: true });
      t.teardown(() => Promise.all([lenient.close(), strict.close()]));
      await strict.ensureTopic('idem', 3);

      await lenient.publish('idem', [{ key: 'k', value: 'v' }]);
      t.same(warnings, [
        'the cluster reports no controller (id 0), so an idempotent producer cannot get a producer id: publishing without idempotence, so a produce retried after a broker stall may be written twice',
      ]);

      const err = await strict.publish('idem', [{ key: 'k', value: 'v' }]).catch((e: unknown) => e);
      t.ok(err instanceof KafkaBusError);
      t.equal((err as KafkaBusError).code, 'E_IDEMPOTENCE_UNAVAILABLE');
      t.equal(
        (err as KafkaBusError).message,
        "the cluster reports no controller (id 0), so an idempotent producer cannot get a producer id; librdkafka's mock cluster is like this: leave idempotent unset or false",
      );
    },
  );

  await t.test('a broker freeze loses and repeats nothing', async (t) => {
    // A cluster of its own: this test stops every broker for 10 s.
    const frozen = await startKafkaMock();
    t.teardown(() => frozen.stop());
    // The publisher keeps the default 30 s request timeout, longer than the freeze, so a
    // stalled produce is answered rather than retried (the mock cannot deduplicate).
    const publisher = createKafkaBus({ brokers: frozen.brokers, clientId: 'freeze-pub', idempotent: false });
    const topic = 'freeze';
    await publisher.ensureTopic(topic, 3);

    // Both readers give up on requests and on their session quickly, so the freeze hits them:
    // one rides it out inside kafkajs (timeouts, then a rejoin); the other has so small a retry
    // budget that its consumer crashes and the subscription restarts it. Either must come back
    // at the offsets it had reached.
    const reader = async (clientId: string, retry?: KafkaBusOptions['retry']) => {
      const got: BusMessage[] = [];
      const warnings: string[] = [];
      const bus = createKafkaBus({
        brokers: frozen.brokers,
        clientId,
        idempotent: false,
        requestTimeoutMs: 2_000,
        sessionTimeoutMs: 6_000,
        retry,
        logger: {
          info: (_, msg) => void warnings.push(msg),
          warn: (_, msg) => void warnings.push(msg),
          error: (_, msg) => void warnings.push(msg),
        },
      });
      const sub = await bus.subscribe({ topic, from: 'earliest', onMessage: (m) => void got.push(m) });
      return { clientId, bus, sub, got, warnings };
    };
    const readers = await Promise.all([
      reader('rejoining'),
      reader('restarting', { retries: 1, initialRetryTime: 100, maxRetryTime: 500 }),
    ]);
    t.teardown(async () => {
      frozen.thaw();
      await Promise.all([publisher, ...readers.map((r) => r.bus)].map((b) => b.close()));
    });
    await within(30_000, 'subscriptions ready', Promise.all(readers.map((r) => r.sub.ready)));

    const TOTAL = 300;
    const publishes: Promise<void>[] = [];
    const publishOne = (seq: number): void => {
      publishes.push(publisher.publish(topic, [{ key: `k${seq % 10}`, value: String(seq) }]));
    };
    // 100 before the freeze, 100 while frozen (over its 10 s), 100 after.
    for (let seq = 0; seq < 100; seq++, await sleep(10)) publishOne(seq);
    frozen.freeze();
    for (let seq = 100; seq < 200; seq++, await sleep(100)) publishOne(seq);
    frozen.thaw();
    for (let seq = 200; seq < TOTAL; seq++, await sleep(10)) publishOne(seq);

    const settled = await within(120_000, 'publishes', Promise.allSettled(publishes));
    t.same(
      settled.filter((s) => s.status === 'rejected'),
      [],
      'every publish, including those made during the freeze, resolved',
    );
    // One marker per key after the rest: a redelivered duplicate comes from an offset before
    // the marker on its partition, so once every marker is in, any duplicate would be too.
    await Promise.all(
      Array.from({ length: 10 }, (_, k) => publisher.publish(topic, [{ key: `k${k}`, value: 'marker' }])),
    );
    await waitFor(
      () => readers.every((r) => r.got.filter((m) => m.value.toString() === 'marker').length === 10),
      `readers reaching ${TOTAL} messages and the markers`,
      120_000,
    );
    for (const reader of readers)
      reader.got.splice(0, reader.got.length, ...reader.got.filter((m) => m.value.toString() !== 'marker'));
    for (const { clientId, got } of readers) {
      const seqs = got.map((m) => Number(m.value.toString()));
      t.equal(got.length, TOTAL, `${clientId}: no duplicate`);
      t.same(
        [...seqs].sort((a, b) => a - b),
        Array.from({ length: TOTAL }, (_, i) => i),
        `${clientId}: no gap`,
      );
      for (let k = 0; k < 10; k++) {
        const mine = got.filter((m) => m.key === `k${k}`).map((m) => Number(m.value.toString()));
        t.ok(
          mine.every((s, i) => i === 0 || s > mine[i - 1]!),
          `${clientId}: k${k} in publish order`,
        );
      }
    }
    const [rejoining, restarting] = readers;
    t.comment(
      `warnings logged: rejoining ${rejoining!.warnings.length}, restarting ${restarting!.warnings.length}`,
    );
    t.ok(
      restarting!.warnings.includes('bus consumer crashed; restarting at the tracked offsets'),
      'the freeze did crash a consumer, and it was restarted',
    );
    const crashed = restarting!.warnings.lastIndexOf(
      'bus consumer crashed; restarting at the tracked offsets',
    );
    t.ok(
      restarting!.warnings.indexOf(
        'bus consumer back after a restart, reading from the tracked offsets',
        crashed,
      ) > crashed,
      'and its recovery was logged after the last crash',
    );
  });
}
