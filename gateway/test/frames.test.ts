/**
 * The gateway builds its frames as strings (a signed message is relayed byte for byte), so
 * nothing types them: this drives a real gateway through every kind of frame it sends and checks
 * each one parses with protocol's `GatewayFrame`, the schema the device parses them with. A new
 * variant of the union fails here until a frame of it is produced and checked.
 */
import t from 'tap';
import { GatewayFrame, TOPICS } from '@appliance/protocol';
import { waitFor } from '@appliance/test-kit';
import { connect, genuineControl, publishSignals, signal, startGateway, type Frame } from './fixtures.js';

const STREAM = 'ema.1h';

t.test('every frame the gateway sends parses with GatewayFrame, and every variant is sent', async (t) => {
  const { bus, url } = await startGateway(t);
  const publishControl = (c: object) =>
    bus.publish(TOPICS.control, [{ key: 'control', value: JSON.stringify(c) }]);
  // Before anyone connects: control state and a signal, sent in a resume.
  await publishControl(
    genuineControl({ kind: 'breaker', version: 1, body: { level: 'normal', multiplier: 1, reason: 'ok' } }),
  );
  await publishSignals(bus, [signal(STREAM)]);
  await waitFor(async () => (await fetch(url.replace('ws:', 'http:') + '/healthz')).ok, 'the gateway');

  // A device that was live before (since: every partition empty then): sent the stream from its start.
  const dev = connect(url, 'dev-frames');
  const caughtUp = await dev.hello({}, {});
  t.type(caughtUp.partitions, 'object', 'caught-up always carries partitions');
  t.equal(dev.of('signal').length, 1, 'the signal before it, in the resume');

  // Live: a signal, a control message, and an ack for a batch of decision reports.
  await publishSignals(bus, [signal(STREAM)]);
  await publishControl(genuineControl({ kind: 'heartbeat', version: 2, body: {} }));
  dev.send({
    type: 'decisions',
    deviceId: 'dev-frames',
    seq: 7,
    decisions: [
      {
        signalId: 'a'.repeat(32),
        stream: STREAM,
        symbol: 'BTC/USDT',
        side: 'buy',
        outcome: 'rejected',
        code: 'E_EXPIRED',
        reason: 'expired',
        ts: Date.now(),
      },
    ],
  });
  await waitFor(
    () => dev.of('signal').length === 2 && dev.of('control').length === 2 && dev.of('ack').length === 1,
    'live frames and the ack',
  );
  t.match(dev.of('ack')[0], { seq: 7 });

  const seen = new Set<string>();
  for (const frame of dev.frames as Frame[]) {
    const parsed = GatewayFrame.safeParse(frame);
    t.ok(
      parsed.success,
      `${frame.type} frame parses${parsed.success ? '' : `: ${JSON.stringify(parsed.error.issues)}`}`,
    );
    seen.add(frame.type);
  }
  const variants = GatewayFrame.options.map((o) => o.shape.type.value);
  t.same([...seen].sort(), [...variants].sort(), 'a frame of every variant of GatewayFrame was checked');
  dev.ws.close();
});
