/**
 * The verifying filter on a real Kafka protocol (librdkafka's mock cluster through kcat): a
 * writer without keys uses a plain Kafka producer and picks partitions itself. Its records must
 * not reach devices, move cursors or survive into a gateway started later; the genuine ones
 * land where `partitionForKey` says, since every writer through the KafkaBus places them so.
 */
import t from 'tap';
import kafkajs from 'kafkajs';
import { TOPICS, partitionForKey, type BusMessage, type Signal } from '@appliance/protocol';
import { createKafkaBus } from '@appliance/protocol/kafka';
import { requireTool, startKafkaMock, waitFor } from '@appliance/test-kit';
import {
  JUNK_SIG,
  connect,
  droppedFor,
  forgedControl,
  genuineControl,
  publishSignals,
  signal,
  startGateway,
} from './fixtures.js';

if (!requireTool('kcat', 'kcat')) {
  t.plan(0, 'kcat is not installed (apt-get install kcat)');
} else {
  const mock = await startKafkaMock();
  t.teardown(() => mock.stop());
  const newBus = (clientId: string) => {
    const bus = createKafkaBus({ brokers: mock.brokers, clientId, idempotent: false });
    t.teardown(() => bus.close());
    return bus;
  };

  await t.test(
    'a keyless Kafka writer moves no cursor and leaves no control state, in this gateway or one started later',
    async (t) => {
      const feedBus = newBus('feed');
      await feedBus.ensureTopic(TOPICS.signals, 3);
      await feedBus.ensureTopic(TOPICS.control, 1);
      const partitions = await feedBus.partitionCount(TOPICS.signals);
      const stream = 'ema-cross.1h';
      const own = partitionForKey(stream, partitions);
      const other = (own + 1) % partitions;

      // The attacker: a plain producer, partitions chosen by hand.
      const kafka = new kafkajs.Kafka({ brokers: mock.brokers, logLevel: kafkajs.logLevel.NOTHING });
      const producer = kafka.producer({ allowAutoTopicCreation: false });
      await producer.connect();
      t.teardown(() => producer.disconnect());
      const attack = (topic: string, partition: number, values: string[]) =>
        producer.send({
          topic,
          acks: -1,
          messages: values.map((value) => ({ partition, key: stream, value })),
        });

      await attack(TOPICS.control, 0, [
        forgedControl('heartbeat', {}, 9e15),
        forgedControl('breaker', { level: 'halt', multiplier: 0, reason: 'x' }, 9e15),
      ]);
      const genuineState = [
        genuineControl({ kind: 'heartbeat', version: Date.now(), body: {} }),
        genuineControl({
          kind: 'breaker',
          version: Date.now() + 1,
          body: { level: 'normal', multiplier: 1, reason: 'ok' },
        }),
      ];
      await feedBus.publish(
        TOPICS.control,
        genuineState.map((c) => ({ key: c.kind, value: JSON.stringify(c) })),
      );

      const first = signal(stream);
      await publishSignals(feedBus, [first]);
      const { gateway, url } = await startGateway(t, newBus('gw-a'));
      // Signals and control are separate subscriptions: wait for both, or the device can be
      // greeted before the second control record is read.
      await waitFor(
        () => gateway.stats().streams[stream]?.size === 1 && gateway.stats().controlScopes === 2,
        'the gateway to read the first signal and both control records',
      );
      const d = connect(url, 'dev-1');
      const caughtUp = await d.hello({ [stream]: gateway.stats().streams[stream]!.lastOffset! }, {});
      t.same(
        d
          .of('control')
          .map((f) => (f.control as { id: string }).id)
          .sort(),
        genuineState.map((c) => c.id).sort(),
        'the device gets the genuine control state only',
      );

      // Offsets on the other partition far above the stream's, then the hostile records there:
      // an unsigned one naming the stream, and a genuine signal's bytes copied over.
      const copied = signal(stream);
      await attack(
        TOPICS.signals,
        other,
        Array.from({ length: 30 }, () => 'junk'),
      );
      await attack(TOPICS.signals, other, [
        JSON.stringify({ ...signal(stream), sig: JUNK_SIG }),
        JSON.stringify(copied),
      ]);
      await attack(TOPICS.signals, own, [JSON.stringify({ ...signal(stream), sig: JUNK_SIG })]);
      const after: Signal[] = [signal(stream), signal(stream)];
      await publishSignals(feedBus, after);

      await waitFor(() => d.signalIds(stream).length === 2, 'the genuine signals', 30_000);
      t.same(
        d.signalIds(stream),
        after.map((s) => s.id),
        'only the genuine signals, in order',
      );
      t.ok(
        d.of('signal').every((f) => f.stream === stream),
        'nothing else reached the device',
      );
      // Partitions are read independently: the genuine signals on their own partition can reach
      // the device before the gateway has got to the other partition's records.
      await waitFor(
        async () => (await droppedFor(url, 'wrong-partition')) >= 2,
        'the records on the other partition to be dropped',
        30_000,
      );
      t.equal(await droppedFor(url, 'wrong-partition'), 2, 'both records on the other partition');

      // Where the genuine ones landed: the stream's own partition, as the KafkaBus places them.
      const seen: BusMessage[] = [];
      const sub = await feedBus.subscribe({
        topic: TOPICS.signals,
        from: 'earliest',
        onMessage: (m) => void seen.push(m),
      });
      t.teardown(() => sub.close());
      await waitFor(() => seen.length >= 35, 'the whole topic');
      const genuineIds = new Set([first, ...after].map((s) => s.id));
      const idOf = (m: BusMessage): string => {
        try {
          return String((JSON.parse(m.value.toString()) as { id?: unknown }).id);
        } catch {
          return '';
        }
      };
      t.same(
        [...new Set(seen.filter((m) => genuineIds.has(idOf(m))).map((m) => m.partition))],
        [own],
        `every genuine signal in partition ${own} = partitionForKey(stream, ${partitions})`,
      );

      // A gateway started now reads everything from the start; a device resumes from its point.
      const later = await startGateway(t, newBus('gw-b'));
      await waitFor(
        () => later.gateway.stats().streams[stream]?.size === 3 && later.gateway.stats().controlScopes === 2,
        'the later gateway to read the stream and the control state',
        30_000,
      );
      t.same(Object.keys(later.gateway.stats().streams), [stream], 'no stream but the genuine one');
      const e = connect(later.url, 'dev-2');
      const back = await e.hello(caughtUp.positions, caughtUp.partitions);
      t.same(
        e.signalIds(stream),
        after.map((s) => s.id),
        'its resume gets every genuine signal after it',
      );
      t.same(
        e
          .of('control')
          .map((f) => (f.control as { id: string }).id)
          .sort(),
        genuineState.map((c) => c.id).sort(),
        'and the genuine control state, nothing forged',
      );
      t.equal(
        back.positions[stream],
        d.of('signal').at(-1)!.offset,
        'at the same position as the first device',
      );
      d.ws.close();
      e.ws.close();
    },
  );
}
