/**
 * The device parses every gateway frame with protocol's `GatewayFrame` before acting on it: a
 * frame that does not parse (unknown type, a field too many, a bad offset) is ignored and changes
 * nothing. The gateway is a fake (the real `ws` server), so it can send what a real one never does.
 */
import t from 'tap';
import { createControl, type Signal, type Signer } from '@appliance/protocol';
import { waitFor } from '@appliance/test-kit';
import { startFakeGateway } from './fake-gateway.js';
import { STREAM, signedSignal, startStack } from './stack.js';

let candle = 1_700_000_000_000;

function fresh(signer: Signer, stream = STREAM, ts = Date.now()): Signal {
  candle += 3_600_000;
  return signedSignal(signer, { stream, candleTime: candle, ts });
}

t.test(
  'frames of unknown type, with extra fields or a bad offset are ignored and change nothing',
  async (t) => {
    const stack = await startStack(t);
    const gw = await startFakeGateway(t, { ack: false }); // reports stay in the outbox
    const dev = await stack.device({
      config: { gatewayUrl: gw.url, settings: { timeZone: 'UTC', streams: [STREAM, 'ema.4h'] } },
    });
    let caughtUp = 0;
    dev.client.on('caught-up', () => caughtUp++);

    // One genuine decision first: a resume point, a report waiting for its ack.
    gw.send({ type: 'signal', stream: STREAM, offset: '5', signal: fresh(stack.feed, STREAM, 0) });
    await dev.until(1);
    await dev.client.idle();
    t.match(dev.decisions[0], { code: 'E_EXPIRED' });
    const seq = dev.store.data.outbox.next - 1; // the report's number
    t.equal(dev.store.data.outbox.reports.length, 1);
    const snapshot = () => {
      const d = dev.store.data;
      return JSON.parse(
        JSON.stringify({
          resume: d.resume,
          since: d.since,
          decisions: d.decisions,
          intents: d.intents,
          lastCandle: d.lastCandle,
          spends: d.spends,
          fills: d.fills,
          outbox: d.outbox,
        }),
      ) as unknown;
    };
    const before = snapshot();
    t.same(before, { ...(before as object), resume: { [STREAM]: '5' } });

    const halt = createControl(
      {
        kind: 'breaker',
        version: 1,
        ts: Date.now(),
        ttlMs: 60_000,
        origin: 'control',
        body: { level: 'halt', multiplier: 0, reason: 'test' },
      },
      stack.control,
    );
    const bad: unknown[] = [
      // Unknown types, and no frame at all.
      { type: 'resync', stream: STREAM, offset: '1' },
      { type: 'SIGNAL', stream: STREAM, offset: '6', signal: fresh(stack.feed) },
      { stream: STREAM, offset: '6', signal: fresh(stack.feed) },
      null,
      [],
      'caught-up',
      42,
      // Known types with a field too many: each would otherwise change something.
      { type: 'signal', stream: STREAM, offset: '6', signal: fresh(stack.feed), extra: 1 },
      { type: 'control', offset: '1', control: halt, extra: 1 },
      { type: 'ack', seq, extra: 1 },
      { type: 'caught-up', positions: { 'ema.4h': '77' }, partitions: { '1': '9' }, extra: 1 },
      { type: 'welcome', gateway: 'gw-1', deviceId: 'dev-1', extra: 1 },
      // Known types with a missing or malformed field.
      { type: 'signal', stream: STREAM, offset: '6' },
      { type: 'signal', stream: STREAM, offset: '-6', signal: fresh(stack.feed) },
      { type: 'signal', stream: STREAM, offset: 6, signal: fresh(stack.feed) },
      { type: 'signal', stream: STREAM, offset: '12345678901234567890', signal: fresh(stack.feed) },
      { type: 'signal', stream: 'EMA 1h', offset: '6', signal: fresh(stack.feed) },
      { type: 'ack', seq: String(seq) },
      { type: 'ack', seq: -1 },
      { type: 'caught-up', positions: { 'ema.4h': 77 }, partitions: {} },
      { type: 'caught-up', positions: { 'ema.4h': '77' }, partitions: { p: '9' } },
      { type: 'caught-up', partitions: { '1': '9' } },
    ];
    for (const frame of bad) gw.send(JSON.stringify(frame));
    // Frames are handled in order: once this one is adopted, every frame above has been handled.
    gw.send({ type: 'caught-up', positions: {}, partitions: { '2': '3' } });
    await waitFor(() => dev.store.data.since?.['2'] === '3', 'the valid caught-up');
    await dev.client.idle();

    const after = snapshot() as { since: Record<string, string> };
    t.same(after, { ...(before as object), since: { ...after.since } }, 'nothing but the valid frame moved');
    t.same(after.since, { ...(before as { since: object }).since, '2': '3' });
    t.equal(caughtUp, 1, 'only the valid caught-up was acted on');
    t.equal(dev.decisions.length, 1, 'no signal was decided');
    t.equal(stack.paper.orders(dev.keys.apiKey).length, 0, 'nothing traded');
    t.equal(dev.client.runtime().breaker, null, 'the breaker frame with an extra field was not taken');

    // The same frames without the extra fields are acted on (so the ones above were ignored for them).
    gw.send({ type: 'control', offset: '1', control: halt });
    gw.send({ type: 'ack', seq });
    await waitFor(() => dev.store.data.outbox.reports.length === 0, 'the ack');
    await dev.client.idle();
    t.equal(dev.client.runtime().breaker?.level, 'halt');
  },
);
