// Finding 6 of issue 8: the fleet view folded whatever the telemetry topic carried. Now each
// record is checked against the schema of what gateways write before it is folded.
import t from 'tap';
import { TOPICS, type DecisionRecord } from '@appliance/protocol';
import { telemetryFrame, waitFor } from '@appliance/test-kit';
import { FleetView } from '../src/index.js';
import { setup } from './helpers.js';

const STAMP = { scope: 'family', gateway: 'gw-1', remote: '10.8.0.2', receivedAt: 1_000 };
const telemetry = (deviceId: string, over: object = {}) => ({
  ...telemetryFrame(deviceId),
  ...STAMP,
  ...over,
});
const decision = (signalId: string): DecisionRecord => ({
  signalId,
  stream: 'ema.1h',
  symbol: 'BTC/USDT',
  side: 'buy',
  outcome: 'executed',
  code: 'OK',
  reason: 'bought',
  ts: 1,
});
const decisionRecord = (deviceId: string, signalId: string, seq?: number) => ({
  type: 'decision',
  deviceId,
  decision: decision(signalId),
  ...(seq === undefined ? {} : { seq }),
  ...STAMP,
});

/** Records that are not what a gateway writes; each must be dropped and counted. */
const HOSTILE: [string, unknown][] = [
  [
    'the reported record',
    {
      type: 'telemetry',
      deviceId: 'dev-1',
      fills: '<img src=x onerror=alert(1)>',
      equity: 'NaN',
      receivedAt: 1,
      gateway: '<script>',
    },
  ],
  ['markup in a number', telemetry('dev-1', { fills: '<img src=x onerror=alert(1)>' })],
  ['markup in the gateway id', telemetry('dev-1', { gateway: '<script>alert(1)</script>' })],
  ['markup in the remote address', telemetry('dev-1', { remote: '<b>1.2.3.4</b>' })],
  ['a scope no token carries', telemetry('dev-1', { scope: 'everyone' })],
  ['no gateway stamp', telemetryFrame('dev-1')],
  ['receivedAt not a time', telemetry('dev-1', { receivedAt: '1000' })],
  ['an extra field', telemetry('dev-1', { html: '<img>' })],
  ['an overlong error', telemetry('dev-1', { errors: ['x'.repeat(301)] })],
  ['too many positions keys of the wrong form', telemetry('dev-1', { positions: { ['<b>'.repeat(10)]: 1 } })],
  ['NaN-like equity', telemetry('dev-1', { equity: null })],
  ['negative fills', telemetry('dev-1', { fills: -1 })],
  ['a decision without a decision', { ...decisionRecord('dev-1', 'a'), decision: undefined }],
  [
    'a decision with markup in its outcome',
    { ...decisionRecord('dev-1', 'a'), decision: { ...decision('a'), outcome: '<i>' } },
  ],
  ['a negative seq', decisionRecord('dev-1', 'a', -1)],
  ['an unknown type', { ...telemetry('dev-1'), type: 'hello' }],
  ['a device id with markup', telemetry('<img src=x>')],
  ['not an object', 'telemetry'],
  ['null', null],
  ['an array', [telemetry('dev-1')]],
];

t.test(
  'records that are not telemetry or decisions as gateways write them are counted and dropped',
  async (t) => {
    const fleet = new FleetView();
    for (const [name, record] of HOSTILE)
      t.match(fleet.apply(record), { ok: false, reason: 'rejected' }, name);
    t.same(fleet.stats(), { applied: 0, rejected: HOSTILE.length, unknownDevice: 0, duplicates: 0 });
    t.match(fleet.entries([{ id: 'dev-1', scope: 'family', label: '' }], 2_000), [
      { id: 'dev-1', online: false, lastSeen: null, gateway: null, fills: 0, errors: [] },
    ]);
    t.same(fleet.apply(telemetry('dev-1', { fills: 3 })), { ok: true });
    t.match(fleet.entries([{ id: 'dev-1', scope: 'family', label: '' }], 2_000), [
      { id: 'dev-1', online: true, fills: 3, gateway: 'gw-1' },
    ]);
    t.match(fleet.apply(telemetry('dev-1', { fills: '7' })), {
      ok: false,
      reason: 'rejected',
      issue: /^fills: /,
    });
  },
);

t.test(
  'a decision redelivered with the same seq is folded once; decisions without seq are kept',
  async (t) => {
    const fleet = new FleetView();
    for (const [id, seq] of [
      ['a', 1],
      ['b', 2],
      ['b', 2],
      ['c', 3],
      ['a', 1],
    ] as const)
      fleet.apply(decisionRecord('dev-1', id, seq));
    fleet.apply(decisionRecord('dev-1', 'd'));
    fleet.apply(decisionRecord('dev-1', 'd'));
    fleet.apply(decisionRecord('dev-2', 'x', 1)); // seqs are per device
    const [one, two] = fleet.entries(
      [
        { id: 'dev-1', scope: 'family', label: '' },
        { id: 'dev-2', scope: 'family', label: '' },
      ],
      2_000,
    );
    t.same(
      one!.lastDecisions.map((d) => d.signalId),
      ['a', 'b', 'c', 'd', 'd'],
    );
    t.same(
      two!.lastDecisions.map((d) => d.signalId),
      ['x'],
    );
    t.same(fleet.stats(), { applied: 6, rejected: 0, unknownDevice: 0, duplicates: 2 });
  },
);

t.test('records of devices the registry does not know are not kept', async (t) => {
  const fleet = new FleetView({ isKnown: (id) => id === 'dev-1' });
  for (let i = 0; i < 1000; i++) fleet.apply(telemetry(`ghost-${i}`));
  fleet.apply(telemetry('dev-1'));
  t.same(fleet.stats(), { applied: 1, rejected: 0, unknownDevice: 1000, duplicates: 0 });
});

t.test('through the bus: hostile records change nothing in /api/fleet and are counted there', async (t) => {
  const { call, bus } = await setup(t);
  await call('POST', '/api/devices', { id: 'dev-1' });
  await bus.publish(TOPICS.telemetry, [
    { key: 'dev-1', value: JSON.stringify(telemetry('dev-1', { fills: 2, receivedAt: Date.now() })) },
    { key: 'dev-1', value: Buffer.from([0xff, 0x00, 0x7b]) },
    ...HOSTILE.map(([, r]) => ({ key: 'dev-1', value: JSON.stringify(r) })),
    { key: 'ghost', value: JSON.stringify(telemetry('ghost', { receivedAt: Date.now() })) },
  ]);
  await waitFor(
    async () =>
      ((await call('GET', '/api/fleet')).body.telemetry as { rejected: number }).rejected > HOSTILE.length,
    'every record to be read',
  );
  const fleet = (await call('GET', '/api/fleet')).body;
  t.match(fleet, {
    devices: [{ id: 'dev-1', online: true, fills: 2, gateway: 'gw-1' }],
    telemetry: { applied: 1, rejected: HOSTILE.length + 1, unknownDevice: 1, duplicates: 0 },
  });
  t.equal((fleet.devices as unknown[]).length, 1, 'only registered devices');
  t.notOk(JSON.stringify(fleet).includes('<'), 'no markup from the bus');
});
