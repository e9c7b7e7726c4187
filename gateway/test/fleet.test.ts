/**
 * Issue #14: fleet control messages reach only the devices their target covers, at hello and
 * live, and command acknowledgements from devices reach the bus, acknowledged like decisions.
 */
import t from 'tap';
import {
  TOPICS,
  type Bus,
  type BusMessage,
  type CommandAck,
  type DecisionRecord,
  type FleetCommand,
} from '@appliance/protocol';
import { waitFor } from '@appliance/test-kit';
import { connect, genuineControl, startGateway, type Frame } from './fixtures.js';

let version = 1;
function fleet(target: string, halted = true, commands: FleetCommand[] = []) {
  return genuineControl({
    kind: 'fleet',
    version: version++,
    body: { target, halted, reason: `halt ${target}`, commands },
  });
}
const publishFleet = (bus: Bus, target: string, halted = true) =>
  bus.publish(TOPICS.control, [{ key: `fleet:${target}`, value: JSON.stringify(fleet(target, halted)) }]);

/** The targets of the fleet messages a device received, in order. */
const fleetTargets = (frames: Frame[]) =>
  frames
    .filter((f) => f.type === 'control')
    .map((f) => f.control as { kind: string; body: { target?: string } })
    .filter((c) => c.kind === 'fleet')
    .map((c) => c.body.target);

const TARGETS = [
  'all',
  'profile:family',
  'profile:beta',
  'profile:mandate:acme',
  'device:fam-1',
  'device:beta-1',
  'device:beta-2',
  'device:acme-1',
];
const COVERED: Record<string, string[]> = {
  'fam-1': ['all', 'profile:family', 'device:fam-1'],
  'beta-1': ['all', 'profile:beta', 'device:beta-1'],
  'beta-2': ['all', 'profile:beta', 'device:beta-2'],
  'acme-1': ['all', 'profile:mandate:acme', 'device:acme-1'],
};
const SCOPE: Record<string, string> = {
  'fam-1': 'family',
  'beta-1': 'beta',
  'beta-2': 'beta',
  'acme-1': 'mandate:acme',
};

t.test('fleet messages held at hello go only to the devices their target covers', async (t) => {
  const { bus, url, gateway } = await startGateway(t);
  for (const target of TARGETS) await publishFleet(bus, target);
  await waitFor(() => gateway.stats().controlScopes === TARGETS.length, 'every fleet scope held');
  for (const [id, scope] of Object.entries(SCOPE)) {
    const d = connect(url, id, {}, scope);
    await d.hello();
    t.same(fleetTargets(d.frames).sort(), [...COVERED[id]!].sort(), `${id} (${scope})`);
    d.ws.close();
  }
});

t.test('live fleet messages go only to the devices their target covers', async (t) => {
  const { bus, url } = await startGateway(t);
  // Another control message goes to everyone, as before.
  await bus.publish(TOPICS.control, [
    { key: 'heartbeat', value: JSON.stringify(genuineControl({ kind: 'heartbeat', version: 1, body: {} })) },
  ]);
  const devices = Object.entries(SCOPE).map(([id, scope]) => ({ id, d: connect(url, id, {}, scope) }));
  for (const { d } of devices) await d.hello();
  for (const target of TARGETS) await publishFleet(bus, target);
  // A last message to everyone is the barrier: all before it have been relayed.
  await publishFleet(bus, 'all', false);
  for (const { id, d } of devices) {
    await waitFor(() => fleetTargets(d.frames).filter((x) => x === 'all').length === 2, `${id}: the barrier`);
    t.same(fleetTargets(d.frames), [...COVERED[id]!, 'all'], id);
    t.equal(d.of('control').filter((f) => (f.control as { kind: string }).kind === 'heartbeat').length, 1);
  }
  const beta = devices.find((x) => x.id === 'beta-1')!.d;
  const got = fleetTargets(beta.frames);
  t.notOk(got.includes('profile:family'), 'a beta device never receives fleet:profile:family');
  t.notOk(got.includes('device:beta-2'), 'nor another device’s message');
  t.notOk(got.includes('device:fam-1'));
  for (const { d } of devices) d.ws.close();
});

const ack = (i: number): CommandAck => ({
  commandId: `cmd-0000000${i}`,
  action: 'flat',
  status: i % 2 ? 'done' : 'received',
  ts: 1_700_000_000_000 + i,
  ...(i % 2 ? { sold: [{ symbol: 'BTC/USDT', amount: 0.5, orderId: 'o1' }], unsold: [] } : {}),
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

t.test('command acks reach the bus, one stamped record each, acknowledged with decisions', async (t) => {
  const { bus, url } = await startGateway(t);
  const got: BusMessage[] = [];
  await bus.subscribe({ topic: TOPICS.telemetry, from: 'latest', onMessage: (m) => void got.push(m) });
  const d = connect(url, 'beta-1', {}, 'beta');
  await d.hello();
  d.send({ type: 'decisions', deviceId: 'beta-1', seq: 5, decisions: [decision(0), decision(1)] });
  d.send({ type: 'command-acks', deviceId: 'beta-1', seq: 7, acks: [ack(0), ack(1)] });
  await waitFor(() => d.of('ack').some((a) => a.seq === 8), 'the ack of the acks');
  t.same(d.of('ack'), [
    { type: 'ack', seq: 6 },
    { type: 'ack', seq: 8 },
  ]);
  const records = got.map((m) => JSON.parse(m.value.toString()) as Record<string, unknown>);
  t.same(
    records.map((r) => [r.type, r.seq]),
    [
      ['decision', 5],
      ['decision', 6],
      ['command-ack', 7],
      ['command-ack', 8],
    ],
  );
  t.ok(got.every((m) => m.key === 'beta-1'));
  t.match(records[3], {
    type: 'command-ack',
    deviceId: 'beta-1',
    seq: 8,
    ack: ack(1),
    scope: 'beta',
    gateway: 'gw-1',
    remote: '127.0.0.1',
    receivedAt: Number,
  });
  // An ack of another device's id is refused like any frame.
  d.send({ type: 'command-acks', deviceId: 'beta-2', seq: 9, acks: [ack(2)] });
  t.match(await d.closed, { code: 1008, reason: 'device id does not match token' });
});

t.test('a malformed command-acks frame closes the connection', async (t) => {
  const { url } = await startGateway(t);
  const d = connect(url, 'beta-1', {}, 'beta');
  await d.hello();
  d.send({ type: 'command-acks', deviceId: 'beta-1', seq: 1, acks: [] });
  t.match(await d.closed, { code: 1008, reason: /^malformed frame: acks/ });
});
