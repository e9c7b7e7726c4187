/**
 * The gateway as a verifying filter (issue #8, findings 2 to 5): a writer on the bus without any
 * signing key puts records on the signals and control topics. Nothing it writes may reach a
 * device, move a cursor or stay in the gateway's state; genuine messages keep flowing.
 */
import t from 'tap';
import {
  EmbeddedBus,
  TOPICS,
  TOPIC_PARTITIONS,
  generateSigner,
  partitionForKey,
  signMessage,
} from '@appliance/protocol';
import { waitFor } from '@appliance/test-kit';
import {
  JUNK_SIG,
  connect,
  droppedFor,
  feed,
  forgedControl,
  genuineControl,
  otherPartitionKey,
  publishSignals,
  samePartitionStream,
  signal,
  startGateway,
} from './fixtures.js';

t.test(
  'a forged heartbeat and breaker with version 9e15 are dropped: genuine ones after them are delivered, also by a gateway started later',
  async (t) => {
    const { bus, url, gateway } = await startGateway(t);
    await bus.publish(TOPICS.control, [
      { key: 'heartbeat', value: forgedControl('heartbeat', {}, 9e15) },
      {
        key: 'breaker',
        value: forgedControl('breaker', { level: 'halt', multiplier: 0, reason: 'x' }, 9e15),
      },
      // Genuine bytes, other version: the signature no longer matches.
      {
        key: 'breaker',
        value: JSON.stringify({
          ...genuineControl({
            kind: 'breaker',
            version: 1,
            body: { level: 'normal', multiplier: 1, reason: 'ok' },
          }),
          version: 9e15,
        }),
      },
    ]);
    const genuine = [
      genuineControl({ kind: 'heartbeat', version: Date.now(), body: {} }),
      genuineControl({
        kind: 'breaker',
        version: Date.now() + 1,
        body: { level: 'normal', multiplier: 1, reason: 'ok' },
      }),
    ];
    await bus.publish(
      TOPICS.control,
      genuine.map((c) => ({ key: c.kind, value: JSON.stringify(c) })),
    );
    await waitFor(() => gateway.stats().controlScopes === 2, 'the genuine control state');

    const controlIds = (d: ReturnType<typeof connect>) =>
      d.of('control').map((f) => (f.control as { id: string }).id);
    const d = connect(url, 'dev-1');
    await d.hello();
    t.same(controlIds(d).sort(), genuine.map((c) => c.id).sort(), 'the device gets the genuine state only');

    // Later genuine messages still advance: nothing forged holds a version above them.
    const next = genuineControl({ kind: 'heartbeat', version: Date.now() + 2, body: {} });
    await bus.publish(TOPICS.control, [{ key: 'heartbeat', value: JSON.stringify(next) }]);
    await waitFor(() => controlIds(d).includes(next.id), 'the next heartbeat to reach the device');
    t.equal(await droppedFor(url, 'unverified-control'), 3, 'each forged message counted');

    // A gateway started now reads the topic from the start, forged records included.
    const later = await startGateway(t, bus);
    await waitFor(
      () => later.gateway.stats().controlScopes === 2,
      'the later gateway to read the control topic',
    );
    const e = connect(later.url, 'dev-2');
    await e.hello();
    t.same(
      controlIds(e).sort(),
      [genuine[1]!.id, next.id].sort(),
      'a gateway started later keeps the newest genuine state, nothing forged',
    );
    d.ws.close();
    e.ws.close();
  },
);

t.test('2,000 forged eligibility scopes are neither kept nor sent at hello', async (t) => {
  const { bus, url, gateway } = await startGateway(t);
  for (let k = 0; k < 2_000; k += 500)
    await bus.publish(
      TOPICS.control,
      Array.from({ length: 500 }, (_, j) => ({
        key: 'eligibility',
        value: forgedControl('eligibility', { stream: `scope-${k + j}`, symbols: ['BTC/USDT'] }, 1),
      })),
    );
  const real = genuineControl({
    kind: 'eligibility',
    version: Date.now(),
    body: { stream: 'ema.1h', symbols: ['BTC/USDT'] },
  });
  await bus.publish(TOPICS.control, [{ key: 'eligibility', value: JSON.stringify(real) }]);
  await waitFor(() => gateway.stats().controlScopes === 1, 'the genuine scope');
  await waitFor(
    async () => (await droppedFor(url, 'unverified-control')) === 2_000,
    'every forgery to be read',
  );
  const d = connect(url, 'dev-1');
  await d.hello();
  t.same(
    d.of('control').map((f) => (f.control as { id: string }).id),
    [real.id],
  );
  t.equal(gateway.stats().controlScopes, 1);
  d.ws.close();
});

t.test(
  'genuine control scopes beyond maxControlScopes are dropped with a metric; an older version is ignored',
  async (t) => {
    const { bus, url, gateway } = await startGateway(t, new EmbeddedBus(), { maxControlScopes: 16 });
    const base = Date.now();
    await bus.publish(
      TOPICS.control,
      Array.from({ length: 20 }, (_, i) => {
        const c = genuineControl({
          kind: 'eligibility',
          version: base + i,
          body: { stream: `s-${i}`, symbols: ['BTC/USDT'] },
        });
        return { key: 'eligibility', value: JSON.stringify(c) };
      }),
    );
    await waitFor(
      async () => (await droppedFor(url, 'too-many-control-scopes')) === 4,
      'the 4 beyond the bound',
    );
    t.equal(gateway.stats().controlScopes, 16, 'bounded');
    await bus.publish(TOPICS.control, [
      {
        key: 'breaker',
        value: JSON.stringify(
          genuineControl({
            kind: 'breaker',
            version: base,
            body: { level: 'normal', multiplier: 1, reason: 'a' },
          }),
        ),
      },
    ]);
    await waitFor(
      async () => (await droppedFor(url, 'too-many-control-scopes')) === 5,
      'a new scope, past the bound',
    );

    // Versions, on a gateway with room: a verified message older than the one held is ignored.
    const newer = genuineControl({
      kind: 'breaker',
      version: base + 100,
      body: { level: 'normal', multiplier: 1, reason: 'a' },
    });
    const older = genuineControl({
      kind: 'breaker',
      version: base + 50,
      body: { level: 'halt', multiplier: 0, reason: 'b' },
    });
    const roomy = await startGateway(t, new EmbeddedBus());
    await roomy.bus.publish(TOPICS.control, [
      { key: 'breaker', value: JSON.stringify(newer) },
      { key: 'breaker', value: JSON.stringify(older) },
    ]);
    await waitFor(
      async () => (await droppedFor(roomy.url, 'stale-control')) === 1,
      'the older breaker to be read',
    );
    const d = connect(roomy.url, 'dev-1');
    await d.hello();
    t.same(
      d.of('control').map((f) => (f.control as { id: string }).id),
      [newer.id],
      'the newer genuine breaker stays',
    );
    d.ws.close();
  },
);

t.test(
  'an unsigned record naming a stream on another partition, and a genuine one copied there, move no cursor',
  async (t) => {
    const { bus, url } = await startGateway(t);
    const stream = 'ema-cross.1h';
    const own = String(partitionForKey(stream, TOPIC_PARTITIONS.signals));
    const elsewhere = otherPartitionKey(stream);
    const first = signal(stream);
    await publishSignals(bus, [first]);
    const d = connect(url, 'dev-1');
    const caughtUp = await d.hello({ [stream]: '0' }, {});
    t.equal(caughtUp.positions[stream], '0');

    // Another stream on the other partition, so the hostile records there have offsets far
    // above the stream's: cursors moved to them would skip the genuine signals that follow.
    const filler = samePartitionStream(elsewhere, 'filler');
    await publishSignals(
      bus,
      Array.from({ length: 20 }, () => signal(filler)),
    );
    const copied = signal(stream);
    const unsigned = { ...signal(stream), sig: JUNK_SIG };
    await bus.publish(TOPICS.signals, [
      { key: elsewhere, value: JSON.stringify(unsigned) },
      { key: elsewhere, value: JSON.stringify(copied) }, // genuine bytes, the wrong partition
      { key: stream, value: JSON.stringify({ ...signal(stream), sig: JUNK_SIG }) }, // right partition, forged
    ]);
    const after = [signal(stream), signal(stream)];
    await publishSignals(bus, after);
    await waitFor(() => d.signalIds(stream).length === 2, 'the genuine signals after them');
    // The barrier: all three bad records counted as dropped (the other partition is read at its
    // own pace, so the genuine signals alone do not show its records have been dealt with).
    await waitFor(
      async () =>
        (await droppedFor(url, 'wrong-partition')) + (await droppedFor(url, 'unverified-signal')) >= 3,
      'the three bad records to be dropped',
    );
    t.same(
      d.signalIds(stream),
      after.map((s) => s.id),
      'only the genuine signals on the stream’s partition',
    );
    t.same(
      d
        .of('signal')
        .filter((f) => f.stream === stream)
        .map((f) => f.offset),
      ['2', '3'],
      'with their offsets in the stream’s partition',
    );
    t.ok(
      (await droppedFor(url, 'wrong-partition')) >= 2,
      'both records on the other partition dropped as such',
    );
    d.ws.close();
    await d.closed;

    // The device's next hello: its resume point is the stream's own offset, nothing skipped.
    const again = connect(url, 'dev-1');
    const back = await again.hello({ [stream]: '1' }, caughtUp.partitions);
    t.same(
      again.signalIds(stream),
      after.map((s) => s.id),
      'a resume from the stream’s offset gets every genuine signal',
    );
    t.equal(back.positions[stream], '3', 'and its position is the stream’s own offset');
    t.equal(back.partitions[own], '3', 'heads follow every record read');
    again.ws.close();
  },
);

t.test('a flood of 3,000 unsigned stream names leaves rings and hello small', async (t) => {
  const { bus, url, gateway } = await startGateway(t);
  await publishSignals(bus, [signal('ema.1h')]);
  for (let k = 0; k < 3_000; k += 500)
    await bus.publish(
      TOPICS.signals,
      Array.from({ length: 500 }, (_, j) => ({
        key: `flood-${k + j}`,
        value: JSON.stringify({ ...signal(`flood-${k + j}`), sig: JUNK_SIG }),
      })),
    );
  await waitFor(async () => (await droppedFor(url, 'unverified-signal')) === 3_000, 'the flood to be read');
  t.same(Object.keys(gateway.stats().streams), ['ema.1h'], 'one ring: the genuine stream');
  const d = connect(url, 'dev-1');
  const caughtUp = await d.hello({}, {});
  t.same(Object.keys(caughtUp.positions), ['ema.1h'], 'the device is told of one stream');
  const hello = JSON.stringify({
    type: 'hello',
    deviceId: 'dev-1',
    version: '1',
    resume: caughtUp.positions,
    since: caughtUp.partitions,
  });
  t.ok(hello.length < 200, `its next hello is small (${hello.length} bytes)`);
  d.ws.close();
});

t.test('genuine streams beyond maxStreams are dropped with a metric', async (t) => {
  const { bus, url, gateway } = await startGateway(t, new EmbeddedBus(), { maxStreams: 4 });
  await publishSignals(
    bus,
    Array.from({ length: 10 }, (_, i) => signal(`s-${i}`)),
  );
  await waitFor(async () => (await droppedFor(url, 'too-many-streams')) === 6, 'the 6 beyond the bound');
  t.equal(Object.keys(gateway.stats().streams).length, 4);
});

t.test(
  'records over maxRecordBytes (300 KiB, and over the device’s 1 MiB) are not relayed; the device keeps receiving',
  async (t) => {
    const { bus, url } = await startGateway(t);
    const d = connect(url, 'dev-1');
    await d.hello({}, {});
    const before = signal('ema.1h');
    await publishSignals(bus, [before]);
    await bus.publish(TOPICS.signals, [
      { key: 'ema.1h', value: JSON.stringify({ ...before, pad: 'x'.repeat(300 * 1024) }) },
      { key: 'ema.1h', value: JSON.stringify({ stream: 'ema.1h', pad: 'y'.repeat(1024 * 1024 + 16) }) },
    ]);
    // A genuine control message too large for the device: the control server's policy, signed.
    const policy = genuineControl({
      kind: 'policy',
      version: Date.now(),
      body: { profile: 'family', policy: { note: 'z'.repeat(300 * 1024) } },
    });
    await bus.publish(TOPICS.control, [{ key: 'policy:family', value: JSON.stringify(policy) }]);
    const after = signal('ema.1h');
    await publishSignals(bus, [after]);
    await waitFor(() => d.signalIds().length === 2, 'the signal after them');
    t.same(d.signalIds(), [before.id, after.id]);
    t.equal(d.of('control').length, 0, 'the oversized policy was not relayed either');
    t.equal(await droppedFor(url, 'record-too-large'), 3);
    t.equal(d.ws.readyState, d.ws.OPEN, 'the device was never closed');
    d.ws.close();
  },
);

t.test('a revocation list over maxRecordBytes is still applied: it is never relayed', async (t) => {
  const { bus, url } = await startGateway(t, new EmbeddedBus(), { maxRecordBytes: 4096 });
  const d = connect(url, 'dev-1');
  await d.hello();
  const devices = [...Array.from({ length: 500 }, (_, i) => `device-${i}`), 'dev-1'];
  const list = genuineControl({ kind: 'revocation', version: Date.now(), body: { devices } });
  t.ok(JSON.stringify(list).length > 4096);
  await bus.publish(TOPICS.control, [{ key: 'revocation', value: JSON.stringify(list) }]);
  t.same(await d.closed, { code: 1008, reason: 'device revoked' });
});

t.test(
  'an expired but genuine signal is relayed: the device, not the gateway, applies the window',
  async (t) => {
    const { bus, url } = await startGateway(t);
    const d = connect(url, 'dev-1');
    await d.hello({}, {});
    const expired = signal('ema.1h', { ts: Date.now() - 2 * 3_600_000, ttlMs: 60_000 });
    const future = signal('ema.1h', { ts: Date.now() + 3_600_000 });
    await publishSignals(bus, [expired, future]);
    await waitFor(() => d.signalIds().length === 2, 'both signals');
    t.same(d.signalIds(), [expired.id, future.id]);
    d.ws.close();
  },
);

t.test('a signal signed by an unknown key, or with a mis-derived id, is dropped', async (t) => {
  const { bus, url } = await startGateway(t);
  const d = connect(url, 'dev-1');
  await d.hello({}, {});
  const stranger = signal('ema.1h', {}, generateSigner());
  const good = signal('ema.1h');
  const { sig: _sig, ...unsigned } = good;
  const misDerived = signMessage('signal', { ...unsigned, id: 'e'.repeat(32) }, feed);
  await publishSignals(bus, [stranger, misDerived]);
  await bus.publish(TOPICS.signals, [
    { key: 'ema.1h', value: JSON.stringify({ ...good, id: 'f'.repeat(32) }) },
  ]);
  await publishSignals(bus, [good]);
  await waitFor(() => d.signalIds().length === 1, 'the genuine signal');
  // The genuine signal, published last, is the barrier: the bad ones would have come before it.
  t.same(d.signalIds(), [good.id]);
  t.equal(await droppedFor(url, 'unverified-signal'), 3);
  d.ws.close();
});
