/**
 * Kafka stops answering for 30 s (SIGSTOP on the mock cluster) while devices trade, then comes
 * back with everything that queued up meanwhile. Before this was fixed, each device's catch-up
 * burst of decision reports tripped the gateway's inbound limit: every device was closed with
 * 1008 in the same second and the reports sent meanwhile were lost. Now no device is cut off
 * and every decision every device made reaches the telemetry topic.
 */
import t from 'tap';
import { TOPICS } from '@appliance/protocol';
import { requireTool, waitFor } from '@appliance/test-kit';
import { startProcessStack } from './fixtures/process-stack.js';

const DEVICES = ['out-1', 'out-2', 'out-3'];
const FREEZE_MS = 30_000;
/** A genuine signal this often, before, during (queued) and after the outage. */
const EVERY_MS = 100;

t.test('a 30 s bus outage cuts no device off and loses no decision report', async (t) => {
  if (!requireTool('kcat', 'kcat')) return t.comment('kcat is not installed: apt-get install kcat');
  const stack = await startProcessStack(t, { devices: DEVICES });

  // Every decision report that reaches the telemetry topic, per device.
  const reported = new Map<string, Set<string>>(DEVICES.map((d) => [d, new Set()]));
  const sub = await stack.bus.subscribe({
    topic: TOPICS.telemetry,
    from: 'earliest',
    onMessage: (m) => {
      const r = JSON.parse(m.value.toString()) as {
        type?: string;
        deviceId?: string;
        decision?: { signalId: string };
      };
      if (r.type === 'decision' && r.deviceId && r.decision)
        reported.get(r.deviceId)?.add(r.decision.signalId);
    },
  });
  t.teardown(() => sub.close());
  await sub.ready;

  // Candles and signals in order, one after another, as a datafeed publishes them: while Kafka
  // is frozen they queue behind the first publish and all land at once when it thaws.
  const published: string[] = [];
  let chain: Promise<unknown> = Promise.resolve();
  let i = 3;
  const publishNext = () => {
    const n = i++;
    chain = chain.then(async () => {
      const s = await stack.publishGenuine(n, n % 2 === 0 ? 'buy' : 'sell');
      if (s) published.push(s.id);
    });
  };
  const timer = setInterval(publishNext, EVERY_MS);
  t.teardown(() => clearInterval(timer));

  await waitFor(
    () => DEVICES.every((d) => stack.readState(d).fills > 0),
    'every device to trade before the outage',
    60_000,
  );
  stack.kafka.freeze();
  await new Promise((r) => setTimeout(r, FREEZE_MS));
  stack.kafka.thaw();
  await waitFor(
    () => published.length > FREEZE_MS / EVERY_MS,
    'what queued during the outage to land',
    120_000,
  );
  clearInterval(timer);
  await chain;
  const all = [...published];
  t.ok(all.length > FREEZE_MS / EVERY_MS, `signals published across the outage (${all.length})`);

  for (const id of DEVICES) {
    await waitFor(
      () => {
        const decided = new Set(stack.readState(id).decisions.map((d) => d.signalId));
        return all.slice(-150).every((s) => decided.has(s));
      },
      `${id} to decide every signal`,
      120_000,
    );
  }
  for (const id of DEVICES) {
    await waitFor(
      () => stack.readState(id).decisions.every((d) => reported.get(id)!.has(d.signalId)),
      `every decision of ${id} on the telemetry topic`,
      60_000,
    );
  }

  for (const id of DEVICES) {
    const state = stack.readState(id);
    t.ok(state.decisions.length >= 150, `${id}: decisions made (${state.decisions.length})`);
    t.ok(
      state.decisions.every((d) => reported.get(id)!.has(d.signalId)),
      `${id}: every decision reached the telemetry topic`,
    );
    t.ok(state.fills > 0, `${id}: the device traded (${state.fills} fills)`);
    const proc = stack.devices.get(id)!.proc;
    const cut = proc.lines.filter((l) => l.msg === 'disconnected from gateway');
    t.same(cut, [], `${id} was never disconnected`);
  }
  const closes = stack.gateway.lines.filter((l) => l.msg === 'closing device connection');
  t.same(closes, [], 'the gateway closed no device connection');
});
