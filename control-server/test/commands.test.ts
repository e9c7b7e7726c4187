// Fleet commands (issue 14): two steps, the fleet messages each confirmed command publishes, the
// errors that change nothing, and each covered device's status from its acknowledgements.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { waitFor } from '@appliance/test-kit';
import { setup } from './helpers.js';
import {
  clockedSetup,
  controlMessages,
  fleetMessages,
  reportAck,
  reportTelemetry,
} from './commands-helpers.js';

type Json = Record<string, unknown>;

async function withDevices(
  t: Test,
  call: (m: string, p: string, b?: unknown) => Promise<{ status: number }>,
) {
  for (const [id, scope] of [
    ['dev-a', 'family'],
    ['dev-b', 'family'],
    ['dev-c', 'beta'],
  ])
    t.equal((await call('POST', '/api/devices', { id, scope })).status, 201, `${id} registered`);
}

t.test('a command is issued, published only once confirmed, and a second confirm is refused', async (t) => {
  const { call, seen, server, clock } = await clockedSetup(t);
  await withDevices(t, call);
  const issued = await call('POST', '/api/commands', {
    action: 'halt',
    target: 'profile:family',
    reason: 'exchange incident',
    operator: 'ana',
  });
  t.equal(issued.status, 201);
  const cmd = issued.body as Json;
  t.match(cmd, {
    id: /^cmd-[a-z0-9]{8,40}$/,
    action: 'halt',
    target: 'profile:family',
    reason: 'exchange incident',
    by: 'ana',
    state: 'awaiting-confirmation',
    confirmedAt: null,
    confirmBy: clock.now + 5 * 60_000,
    expiresAt: clock.now + 24 * 3_600_000,
  });
  await server.control.refresh();
  t.same(fleetMessages(seen), [], 'nothing is published before the confirm');
  const waiting = await call('GET', `/api/commands/${String(cmd.id)}`);
  t.same(
    (waiting.body.devices as Json[]).map((d) => [d.deviceId, d.status]),
    [
      ['dev-a', 'pending'],
      ['dev-b', 'pending'],
    ],
    'the devices it covers, and only those',
  );

  clock.now += 1_000;
  const confirmed = await call('POST', `/api/commands/${String(cmd.id)}/confirm`, { operator: 'bo' });
  t.equal(confirmed.status, 200);
  t.match(confirmed.body.command, { state: 'confirmed', confirmedAt: clock.now, confirmedBy: 'bo' });
  t.equal(
    (confirmed.body.command as Json).expiresAt,
    clock.now + 24 * 3_600_000,
    'valid 24 h from the confirm',
  );
  await waitFor(() => fleetMessages(seen).length === 1, 'the fleet message');
  t.same(fleetMessages(seen)[0], {
    target: 'profile:family',
    halted: true,
    reason: 'exchange incident',
    commands: [
      {
        id: cmd.id,
        action: 'halt',
        reason: 'exchange incident',
        by: 'bo',
        issuedAt: clock.now,
        expiresAt: clock.now + 24 * 3_600_000,
      },
    ],
  });

  const again = await call('POST', `/api/commands/${String(cmd.id)}/confirm`, {});
  t.equal(again.status, 409);
  t.equal(again.body.error, 'E_COMMAND_CONFIRMED');
  t.match(again.body.message, `${String(cmd.id)} was confirmed at `);
  t.equal(fleetMessages(seen).length, 1, 'a replayed confirm publishes nothing');

  // Every heartbeat re-issues it: a device that reconnects gets it.
  await server.control.refresh();
  await waitFor(() => fleetMessages(seen).length === 2, 'the fleet message again');
  t.same(fleetMessages(seen)[1], fleetMessages(seen)[0]);
});

t.test('bad input gets a clear error and stores or publishes nothing', async (t) => {
  const { call, seen, clock } = await clockedSetup(t);
  await withDevices(t, call);
  const cases: [Json, number, string, string][] = [
    [
      { action: 'halt', target: 'device:nope-device', reason: 'r' },
      400,
      'E_UNKNOWN_TARGET',
      'target: no device nope-device is registered',
    ],
    [
      { action: 'halt', target: 'profile:mandate:ghost', reason: 'r' },
      400,
      'E_UNKNOWN_TARGET',
      'target: no device has profile mandate:ghost',
    ],
    [
      { action: 'flat', target: 'everything', reason: 'r' },
      400,
      'E_UNKNOWN_TARGET',
      'target: "everything" is not all, profile:<profile> or device:<id>',
    ],
    [
      { action: 'sell', target: 'all', reason: 'r' },
      400,
      'E_INVALID',
      'action: Invalid option: expected one of "halt"|"resume"|"flat"',
    ],
    [
      { action: 'halt', target: 'all', reason: ' ' },
      400,
      'E_INVALID',
      'reason: say why, for the people who will see it',
    ],
    [
      { action: 'halt', target: 'all', reason: 'r', expiresInMs: 10 },
      400,
      'E_INVALID',
      'expiresInMs: at least a minute',
    ],
  ];
  for (const [body, status, error, message] of cases) {
    const r = await call('POST', '/api/commands', body);
    t.same([r.status, r.body], [status, { error, message }], JSON.stringify(body));
  }
  t.same((await call('GET', '/api/commands')).body, { commands: [] }, 'nothing stored');

  const wrong = await call('POST', '/api/commands/cmd-00000000000000000000/confirm', {});
  t.same(
    [wrong.status, wrong.body],
    [404, { error: 'E_COMMAND_UNKNOWN', message: 'no command cmd-00000000000000000000' }],
  );
  t.equal((await call('GET', '/api/commands/not-an-id')).status, 404);

  const late = (await call('POST', '/api/commands', { action: 'flat', target: 'all', reason: 'unwind' }))
    .body;
  clock.now += 5 * 60_000 + 1;
  const expired = await call('POST', `/api/commands/${String(late.id)}/confirm`, {});
  t.equal(expired.status, 410);
  t.equal(expired.body.error, 'E_COMMAND_EXPIRED');
  t.match(expired.body.message, /had to be confirmed by .*: issue it again$/);
  t.match((await call('GET', `/api/commands/${String(late.id)}`)).body.command, {
    state: 'lapsed',
    confirmedAt: null,
  });
  t.same(fleetMessages(seen), [], 'nothing was published');
});

t.test('resume clears its target and every narrower one; a broader halt still holds', async (t) => {
  const { call, server } = await clockedSetup(t);
  await withDevices(t, call);
  const run = async (action: string, target: string, reason: string) => {
    const { id } = (await call('POST', '/api/commands', { action, target, reason })).body;
    t.equal(
      (await call('POST', `/api/commands/${String(id)}/confirm`, {})).status,
      200,
      `${action} ${target}`,
    );
  };
  const halted = () =>
    Object.fromEntries(server.commands.fleetBodies().map((b) => [b.target, [b.halted, b.reason]]));
  await run('halt', 'device:dev-a', 'a only');
  await run('flat', 'profile:family', 'unwind family');
  await run('halt', 'device:dev-c', 'c only');
  await run('halt', 'all', 'everyone');
  await run('resume', 'profile:family', 'family back');
  t.same(
    halted(),
    {
      'device:dev-a': [false, 'resumed: family back'],
      'profile:family': [false, 'resumed: family back'],
      'device:dev-c': [true, 'c only'],
      all: [true, 'everyone'],
    },
    'a beta device and the broader all are untouched',
  );
  await run('resume', 'all', 'all clear');
  t.same(
    Object.values(halted()).map(([h]) => h),
    [false, false, false, false],
    'resume all clears all',
  );
  const family = server.commands.fleetBodies().find((b) => b.target === 'profile:family');
  t.same(
    family?.commands.map((c) => c.action),
    ['flat', 'resume'],
    "the target's own unexpired commands",
  );
});

t.test('acknowledgements fold forward per device; offline devices show as such', async (t) => {
  const { bus, call, clock } = await clockedSetup(t);
  await withDevices(t, call);
  await reportTelemetry(bus, 'dev-a', 'family', clock.now);
  await reportTelemetry(bus, 'dev-b', 'family', clock.now);
  const { id } = (await call('POST', '/api/commands', { action: 'flat', target: 'all', reason: 'unwind' }))
    .body;
  await call('POST', `/api/commands/${String(id)}/confirm`, {});
  const commandId = String(id);
  const status = async () =>
    Object.fromEntries(
      ((await call('GET', `/api/commands/${commandId}`)).body.devices as Json[]).map((d) => [
        d.deviceId,
        d.status,
      ]),
    );
  t.same(await status(), { 'dev-a': 'pending', 'dev-b': 'pending', 'dev-c': 'offline' });

  const ack = (status: 'received' | 'done' | 'failed', extra = {}) => ({
    commandId,
    action: 'flat' as const,
    status,
    ts: clock.now,
    ...extra,
  });
  await reportAck(bus, 'dev-a', 'family', 1, ack('received'));
  await waitFor(async () => (await status())['dev-a'] === 'received', 'received');
  const sold = [{ symbol: 'BTC/USDT', amount: 0.01, orderId: 'o-1' }];
  const unsold = [{ symbol: 'DOGE/USDT', amount: 3, reason: 'below the exchange minimum (1 USDT)' }];
  await reportAck(bus, 'dev-a', 'family', 2, ack('done', { sold, unsold }));
  await reportAck(bus, 'dev-a', 'family', 1, ack('received')); // redelivered: never goes back
  await reportAck(bus, 'dev-a', 'family', 2, ack('done', { sold, unsold })); // duplicate: harmless
  await reportAck(bus, 'dev-b', 'family', 7, ack('failed', { reason: 'exchange unreachable' }));
  await reportAck(bus, 'dev-b', 'family', 8, ack('done')); // a final status is final
  await waitFor(async () => (await status())['dev-b'] === 'failed', 'failed');
  const view = (await call('GET', `/api/commands/${commandId}`)).body.devices as Json[];
  t.match(view, [
    { deviceId: 'dev-a', status: 'done', sold, unsold },
    { deviceId: 'dev-b', status: 'failed', reason: 'exchange unreachable' },
    { deviceId: 'dev-c', status: 'offline', ts: null },
  ]);
  t.match((await call('GET', '/api/commands')).body.commands, [
    { id: commandId, counts: { done: 1, failed: 1, offline: 1, pending: 0, received: 0, expired: 0 } },
  ]);
});

t.test('an ack for another device, an unknown or unconfirmed command changes nothing', async (t) => {
  const { bus, call, server, clock } = await clockedSetup(t);
  await withDevices(t, call);
  const { id } = (
    await call('POST', '/api/commands', { action: 'halt', target: 'device:dev-a', reason: 'x' })
  ).body;
  const ack = { commandId: String(id), action: 'halt' as const, status: 'done' as const, ts: clock.now };
  await reportAck(bus, 'dev-a', 'family', 1, ack); // not confirmed yet
  await call('POST', `/api/commands/${String(id)}/confirm`, {});
  await reportAck(bus, 'dev-b', 'family', 1, ack); // not covered
  await reportAck(bus, 'dev-a', 'family', 2, { ...ack, commandId: 'cmd-ffffffffffff' });
  await waitFor(
    () => server.commands.ackDrops().notCovered === 1 && server.commands.ackDrops().unknownCommand === 2,
    'the drops',
  );
  t.match((await call('GET', `/api/commands/${String(id)}`)).body.devices, [
    { deviceId: 'dev-a', status: 'pending' }, // online: it sent acks
  ]);
});

t.test('an expired command leaves the message but the halt holds until resumed', async (t) => {
  const { call, server, clock } = await clockedSetup(t);
  await withDevices(t, call);
  const { id } = (
    await call('POST', '/api/commands', { action: 'halt', target: 'all', reason: 'r', expiresInMs: 60_000 })
  ).body;
  await call('POST', `/api/commands/${String(id)}/confirm`, {});
  clock.now += 60_000;
  t.same(server.commands.fleetBodies(), [{ target: 'all', halted: true, reason: 'r', commands: [] }]);
  t.match((await call('GET', `/api/commands/${String(id)}`)).body, {
    command: { state: 'expired' },
    devices: [{ status: 'expired' }, { status: 'expired' }, { status: 'expired' }],
  });
});

t.test('a restart on the same data folder keeps commands, acks and what is published', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'commands-'));
  const first = await setup(t, { dataDir, heartbeatIntervalMs: 3_600_000 });
  await withDevices(t, first.call);
  const { id } = (
    await first.call('POST', '/api/commands', { action: 'flat', target: 'profile:family', reason: 'unwind' })
  ).body;
  await first.call('POST', `/api/commands/${String(id)}/confirm`, {});
  const pending = (
    await first.call('POST', '/api/commands', { action: 'resume', target: 'all', reason: 'later' })
  ).body;
  await reportAck(first.bus, 'dev-a', 'family', 1, {
    commandId: String(id),
    action: 'flat',
    status: 'done',
    ts: 5,
  });
  await waitFor(
    async () =>
      ((await first.call('GET', `/api/commands/${String(id)}`)).body.devices as Json[])[0]?.status === 'done',
    'the ack',
  );
  const before = (await first.call('GET', '/api/commands')).body;
  await first.server.close();

  const second = await setup(t, { dataDir, heartbeatIntervalMs: 3_600_000 });
  t.same((await second.call('GET', '/api/commands')).body, before, 'the same commands and statuses');
  const seen = await controlMessages(second.bus, second.signer, Date.now);
  t.match(
    fleetMessages(seen),
    [{ target: 'profile:family', halted: true, commands: [{ id }] }],
    'published again at start',
  );
  t.equal(
    (await second.call('POST', `/api/commands/${String(id)}/confirm`, {})).status,
    409,
    'still confirmed',
  );
  t.equal(
    (await second.call('POST', `/api/commands/${String(pending.id)}/confirm`, {})).status,
    200,
    'the unconfirmed one still waits',
  );
});
