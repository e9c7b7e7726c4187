/**
 * What a device's connection may cost the gateway, and what it is owed: one live connection per
 * device (issue #8, finding 9), hellos that stay acceptable whatever a device saved (finding 4),
 * and decision reports in batches, acknowledged once on the bus (finding 14).
 */
import t from 'tap';
import WebSocket from 'ws';
import {
  EmbeddedBus,
  MAX_DECISION_BATCH,
  TOPICS,
  type Bus,
  type BusMessage,
  type BusRecord,
  type DecisionRecord,
} from '@appliance/protocol';
import { telemetryFrame, waitFor } from '@appliance/test-kit';
import { connect, droppedFor, metric, publishSignals, signal, startGateway, token } from './fixtures.js';

t.test(
  '300 sockets with one device token: each replaces the one before with 4001, one is served',
  async (t) => {
    const { bus, url, gateway } = await startGateway(t);
    const closes: { code: number; reason: string }[] = [];
    const sockets = await Promise.all(
      Array.from({ length: 300 }, async () => {
        const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token('dev-1')}` } });
        ws.on('error', () => undefined);
        ws.on('close', (code, reason) => closes.push({ code, reason: reason.toString() }));
        await new Promise((r) => ws.once('open', r));
        return ws;
      }),
    );
    await waitFor(() => closes.length === 299, 'all but one to be replaced');
    t.same(
      new Set(closes.map((c) => `${c.code} ${c.reason}`)),
      new Set(['4001 replaced by a newer connection']),
    );
    await waitFor(() => gateway.stats().connections === 1, 'one connection left');
    const open = sockets.filter((ws) => ws.readyState === WebSocket.OPEN);
    t.equal(open.length, 1, 'one socket is served');
    t.match(await metric(url, 'gateway_closes_total'), /code="4001",gateway="gw-1"\} 299/);

    // That one works as any: hello, then live signals.
    const frames: { type: string }[] = [];
    open[0]!.on('message', (d) => frames.push(JSON.parse(d.toString())));
    open[0]!.send(JSON.stringify({ type: 'hello', deviceId: 'dev-1', version: '1', resume: {} }));
    await waitFor(() => frames.some((f) => f.type === 'caught-up'), 'caught-up');
    await publishSignals(bus, [signal()]);
    await waitFor(() => frames.some((f) => f.type === 'signal'), 'a live signal');
    // Another device is not affected.
    const other = connect(url, 'dev-2');
    await other.hello();
    t.equal(open[0]!.readyState, WebSocket.OPEN);
    open[0]!.close();
    other.ws.close();
  },
);

t.test('a device that reconnects before its old socket is gone is served on the new one', async (t) => {
  const { bus, url } = await startGateway(t);
  const old = connect(url, 'dev-1');
  await old.hello({}, {});
  const fresh = connect(url, 'dev-1');
  t.same(await old.closed, { code: 4001, reason: 'replaced by a newer connection' });
  await fresh.hello({}, {});
  const s = signal();
  await publishSignals(bus, [s]);
  await waitFor(() => fresh.signalIds().length === 1, 'the live signal on the new connection');
  t.same(old.signalIds(), [], 'nothing went to the replaced one');
  fresh.ws.close();
});

t.test(
  'a hello over maxPayload with 3,000 unknown streams is accepted; they are not echoed back',
  async (t) => {
    const { bus, url } = await startGateway(t);
    await publishSignals(bus, [signal('ema.1h')]);
    const resume: Record<string, string> = { 'ema.1h': '0' };
    for (let i = 0; i < 3_000; i++) resume[`flood-${i}`] = String(1_000_000 + i);
    const size = JSON.stringify({ type: 'hello', deviceId: 'dev-1', version: '1', resume }).length;
    t.ok(size > 64 * 1024, `the hello is ${size} bytes, over maxPayload`);
    const d = connect(url, 'dev-1');
    const caughtUp = await d.hello(resume, {});
    t.same(Object.keys(caughtUp.positions), ['ema.1h'], 'only streams the gateway knows');
    // Only the first frame may be that large.
    d.send({ ...telemetryFrame('dev-1'), errors: Array.from({ length: 20 }, () => 'e'.repeat(300)) }); // small
    const big = {
      ...telemetryFrame('dev-1'),
      positions: Object.fromEntries(Object.entries(resume).slice(0, 3_000)),
    };
    d.send(big);
    t.same(await d.closed, { code: 1009, reason: 'frame larger than maxPayload' });
  },
);

t.test('a resume point for a stream the gateway has not read yet is kept for that stream', async (t) => {
  const { bus, url } = await startGateway(t);
  const late = 'late.1h';
  // A fresh bus: the stream's partition is empty, so its signals will be at offsets 0, 1, 2, ...
  const d = connect(url, 'dev-1');
  const caughtUp = await d.hello({ [late]: '4' }, {});
  t.same(caughtUp.positions, {}, 'not echoed: the gateway does not know it');
  const signals = Array.from({ length: 7 }, () => signal(late));
  await publishSignals(bus, signals);
  await waitFor(() => d.signalIds(late).length === 2, 'the signals after its resume point');
  // One more is the barrier: signals come in offset order, so an early one sent wrongly would
  // be in the list before it.
  const barrier = signal(late);
  await publishSignals(bus, [barrier]);
  await waitFor(() => d.signalIds(late).length >= 3, 'the barrier signal');
  t.same(
    d.signalIds(late),
    [...signals.slice(5), barrier].map((s) => s.id),
    'the stream turned up: only what comes after the device’s resume point',
  );
  d.ws.close();
});

const decision = (i: number): DecisionRecord => ({
  signalId: `sig-${i}`,
  stream: 'ema.1h',
  symbol: 'BTC/USDT',
  side: 'buy',
  outcome: 'executed',
  code: 'OK',
  reason: 'bought',
  amount: 1,
  ts: 1_700_000_000_000 + i,
});

/** The embedded bus, with publishes to the telemetry topic failing or held back on demand. */
class FaultyBus extends EmbeddedBus {
  fail = false;
  hold: Promise<void> | undefined;
  override async publish(topic: string, records: readonly BusRecord[]): Promise<void> {
    if (topic === TOPICS.telemetry) {
      await this.hold;
      if (this.fail) throw new Error('bus unavailable');
    }
    return super.publish(topic, records);
  }
}

async function telemetryOf(bus: Bus) {
  const got: BusMessage[] = [];
  await bus.subscribe({ topic: TOPICS.telemetry, from: 'latest', onMessage: (m) => void got.push(m) });
  return got;
}

t.test(
  'a batch of decisions becomes one telemetry record each and is acknowledged once on the bus',
  async (t) => {
    const { bus, url } = await startGateway(t);
    const got = await telemetryOf(bus);
    const d = connect(url, 'dev-1');
    await d.hello();
    d.send({
      type: 'decisions',
      deviceId: 'dev-1',
      seq: 10,
      decisions: [decision(0), decision(1), decision(2)],
    });
    await waitFor(() => d.of('ack').length === 1, 'the ack');
    t.same(d.of('ack'), [{ type: 'ack', seq: 12 }]);
    t.equal(got.length, 3, 'each report on the bus before the ack');
    const records = got.map((m) => JSON.parse(m.value.toString()) as Record<string, unknown>);
    t.same(
      records.map((r) => r.seq),
      [10, 11, 12],
    );
    t.ok(got.every((m) => m.key === 'dev-1'));
    t.match(records[1], {
      type: 'decision',
      deviceId: 'dev-1',
      decision: decision(1),
      seq: 11,
      scope: 'family',
      gateway: 'gw-1',
      remote: '127.0.0.1',
      receivedAt: Number,
    });
    // The single report of devices that do not batch is still taken, without seq or ack.
    d.send({ type: 'decision', deviceId: 'dev-1', decision: decision(3) });
    await waitFor(() => got.length === 4, 'the single report');
    const single = JSON.parse(got[3]!.value.toString()) as Record<string, unknown>;
    t.match(single, { type: 'decision', decision: decision(3), scope: 'family', gateway: 'gw-1' });
    t.notOk('seq' in single);
    // A later batch is the barrier: acks come in order, so an ack for the single report would
    // arrive before this one's.
    d.send({ type: 'decisions', deviceId: 'dev-1', seq: 13, decisions: [decision(4)] });
    await waitFor(() => d.of('ack').length >= 2, 'the ack of the barrier batch');
    t.same(
      d.of('ack'),
      [
        { type: 'ack', seq: 12 },
        { type: 'ack', seq: 13 },
      ],
      'no ack for it',
    );
    d.ws.close();
  },
);

t.test(
  'no ack when the publish fails; nothing past a lost batch is acknowledged until it is sent again',
  async (t) => {
    const bus = new FaultyBus();
    const { url } = await startGateway(t, bus);
    const got = await telemetryOf(bus);
    const d = connect(url, 'dev-1');
    await d.hello();
    const batch = (seq: number, n: number) => ({
      type: 'decisions',
      deviceId: 'dev-1',
      seq,
      decisions: Array.from({ length: n }, (_, i) => decision(seq + i)),
    });
    bus.fail = true;
    d.send(batch(0, 3));
    await waitFor(
      async () => (await droppedFor(url, 'decisions-publish-failed')) === 1,
      'the failed publish',
    );
    bus.fail = false;
    d.send(batch(3, 3)); // stored, but 0..2 are not
    await waitFor(() => got.length === 3, 'the second batch on the bus');
    // No ack: the device still holds 0..2 and everything after. Acks come in order, so one sent
    // wrongly here would arrive before the re-sent batch's and break the list checked below.
    t.same(d.of('ack'), []);
    d.send(batch(0, 3)); // the device sends its outbox again, oldest first
    await waitFor(() => d.of('ack').length === 1, 'the ack of the re-sent batch');
    d.send(batch(3, 3));
    await waitFor(() => d.of('ack').length === 2, 'the ack of the rest');
    t.same(
      d.of('ack').map((a) => a.seq),
      [2, 5],
    );
    t.equal(d.ws.readyState, WebSocket.OPEN, 'the connection stays up throughout');
    d.ws.close();
  },
);

t.test('batches waiting for a stalled bus are bounded per connection', async (t) => {
  const bus = new FaultyBus();
  let release!: () => void;
  bus.hold = new Promise<void>((r) => (release = r));
  const { url } = await startGateway(t, bus);
  const d = connect(url, 'dev-1');
  await d.hello();
  for (let b = 0; b < 12; b++)
    d.send({
      type: 'decisions',
      deviceId: 'dev-1',
      seq: b * 2,
      decisions: [decision(2 * b), decision(2 * b + 1)],
    });
  await waitFor(async () => (await droppedFor(url, 'decisions-backlog')) === 4, 'the batches past the bound');
  release();
  await waitFor(() => d.of('ack').length === 8, 'the acks of the batches taken');
  t.same(
    d.of('ack').map((a) => a.seq),
    [1, 3, 5, 7, 9, 11, 13, 15],
  );
  d.ws.close();
});

t.test(
  'after an outage, hello, telemetry and an outbox of 1,000 reports in batches do not trip the inbound limit',
  async (t) => {
    const { bus, url, gateway } = await startGateway(t);
    const got = await telemetryOf(bus);
    const devices = Array.from({ length: 20 }, (_, i) => connect(url, `dev-${i}`));
    await Promise.all(devices.map((d) => d.opened));
    // Every device at once, as a fleet reconnecting after a Kafka outage.
    for (const [i, d] of devices.entries()) {
      d.send({ type: 'hello', deviceId: `dev-${i}`, version: '1', resume: {} });
      d.send(telemetryFrame(`dev-${i}`));
      for (let seq = 0; seq < 1_000; seq += MAX_DECISION_BATCH)
        d.send({
          type: 'decisions',
          deviceId: `dev-${i}`,
          seq,
          decisions: Array.from({ length: MAX_DECISION_BATCH }, (_, k) => decision(seq + k)),
        });
      d.send(telemetryFrame(`dev-${i}`));
    }
    await waitFor(
      () => devices.every((d) => d.of('ack').at(-1)?.seq === 999),
      'every device to have its 1,000 reports acknowledged',
      60_000,
    );
    t.equal(got.filter((m) => m.value.toString().startsWith('{"type":"decision"')).length, 20_000);
    t.equal(gateway.stats().connections, 20, 'no device was closed');
    t.equal(await droppedFor(url, 'rate-limit'), 0);
    for (const d of devices) d.ws.close();
  },
);
