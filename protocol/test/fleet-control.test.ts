// Issue #14: the `fleet` control kind, the policy version, command acknowledgements and the
// `beta` profile. Each shape round-trips, refuses what it must and is bounded.
import t from 'tap';
import { errorOf } from '@appliance/test-kit';
import {
  CommandAck,
  CommandAckBatch,
  CommandAckBusRecord,
  DeviceFrame,
  DeviceTokenClaims,
  MAX_COMMAND_ACK_BATCH,
  MAX_COMMAND_ACK_SYMBOLS,
  MAX_FLEET_COMMANDS,
  PROFILE_PATTERN,
  Telemetry,
  controlScope,
  coveringTargets,
  createControl,
  issueDeviceToken,
  targetCovers,
  verifyControl,
  verifyDeviceToken,
} from '../src/index.js';
import { NOW, keys, signer } from './fixtures.js';

const common = { version: 3, ts: NOW, ttlMs: 60_000, origin: 'control' };
const command = {
  id: 'cmd-0123abcd',
  action: 'flat' as const,
  reason: 'exchange outage',
  by: 'ops',
  issuedAt: NOW - 1_000,
  expiresAt: NOW + 86_400_000,
};
const fleetBody = { target: 'profile:beta', halted: true, reason: 'exchange outage', commands: [command] };

t.test('a fleet message round-trips signed, keyed by its target', async (t) => {
  const msg = createControl({ kind: 'fleet', ...common, body: fleetBody }, signer);
  const verified = verifyControl(JSON.parse(JSON.stringify(msg)), keys, { now: NOW });
  t.same(verified.body, fleetBody);
  t.equal(controlScope(verified), 'fleet:profile:beta');
  for (const target of ['all', 'profile:family', 'profile:mandate:acme-1', 'device:dev-0001']) {
    const m = createControl({ kind: 'fleet', ...common, body: { ...fleetBody, target } }, signer);
    t.equal(controlScope(verifyControl(m, keys, { now: NOW })), `fleet:${target}`);
  }
});

t.test('a fleet message refuses what the spec does not allow', async (t) => {
  const refused = (body: object) =>
    errorOf(() =>
      verifyControl(createControl({ kind: 'fleet', ...common, body: body as never }, signer), keys, {
        now: NOW,
      }),
    );
  for (const target of ['everyone', 'profile:gold', 'profile:', 'device:X', 'device:ab', 'mandate:x'])
    t.match(refused({ ...fleetBody, target }), /^E_MALFORMED: .*body\.target/, target);
  t.match(refused({ ...fleetBody, reason: 'x'.repeat(301) }), /^E_MALFORMED: .*body\.reason/);
  t.match(refused({ ...fleetBody, commands: [{ ...command, id: 'cmd-short' }] }), /body\.commands\.0\.id/);
  t.match(refused({ ...fleetBody, commands: [{ ...command, id: 'CMD-01234567' }] }), /body\.commands\.0\.id/);
  t.match(refused({ ...fleetBody, commands: [{ ...command, action: 'sell' }] }), /body\.commands\.0\.action/);
  t.match(refused({ ...fleetBody, commands: [{ ...command, reason: '' }] }), /body\.commands\.0\.reason/);
  t.match(refused({ ...fleetBody, commands: [{ ...command, by: '' }] }), /body\.commands\.0\.by/);
  t.match(
    refused({ ...fleetBody, commands: [{ ...command, expiresAt: command.issuedAt }] }),
    /expiresAt is not after issuedAt/,
  );
  t.match(refused({ ...fleetBody, commands: [command, command] }), /a command id appears twice/);
  t.match(refused({ ...fleetBody, commands: [{ ...command, extra: 1 }] }), /^E_MALFORMED: /);
  t.match(refused({ ...fleetBody, halted: 'yes' }), /body\.halted/);
  const { commands: _c, ...noCommands } = fleetBody;
  t.match(refused(noCommands), /body\.commands/);
  const many = Array.from({ length: MAX_FLEET_COMMANDS + 1 }, (_, i) => ({
    ...command,
    id: `cmd-${String(i).padStart(8, '0')}`,
  }));
  t.match(refused({ ...fleetBody, commands: many }), /body\.commands/);
  t.equal(refused({ ...fleetBody, commands: many.slice(0, MAX_FLEET_COMMANDS) }), 'accepted', '100 are fine');
  // The largest fleet message fits the gateway's record limit (256 KiB by default).
  const largest = createControl(
    {
      kind: 'fleet',
      ...common,
      body: {
        ...fleetBody,
        reason: 'r'.repeat(300),
        commands: many.slice(0, MAX_FLEET_COMMANDS).map((c, i) => ({
          ...c,
          id: `cmd-${String(i).padStart(40, '0')}`,
          reason: 'r'.repeat(300),
          by: 'b'.repeat(64),
        })),
      },
    },
    signer,
  );
  const size = JSON.stringify(largest).length;
  t.ok(size < 256 * 1024, `${size} bytes`);

  const genuine = createControl({ kind: 'fleet', ...common, body: fleetBody }, signer);
  const altered = { ...genuine, body: { ...genuine.body, halted: false } };
  t.equal(
    errorOf(() => verifyControl(altered, keys, { now: NOW })),
    'E_BAD_SIGNATURE: control signature does not verify',
  );
});

t.test('a policy message may carry its version, from 1', async (t) => {
  const body = { profile: 'beta', policy: { maxOrderQuote: 20 } };
  const old = createControl({ kind: 'policy', ...common, body }, signer);
  t.same(verifyControl(old, keys, { now: NOW }).body, body, 'without a version, as older servers send it');
  const v2 = createControl({ kind: 'policy', ...common, body: { ...body, version: 2 } }, signer);
  t.same(verifyControl(v2, keys, { now: NOW }).body, { ...body, version: 2 });
  for (const version of [0, 1.5, -1]) {
    const bad = createControl({ kind: 'policy', ...common, body: { ...body, version } }, signer);
    t.match(
      errorOf(() => verifyControl(bad, keys, { now: NOW })),
      /^E_MALFORMED: .*body\.version/,
    );
  }
});

t.test('profiles: family, beta and mandates, in tokens too', async (t) => {
  for (const p of ['family', 'beta', 'mandate:acme', 'mandate:a-1']) t.ok(PROFILE_PATTERN.test(p), p);
  for (const p of ['Beta', 'betas', 'mandate:', 'mandate:UP', `mandate:${'x'.repeat(33)}`, 'house'])
    t.notOk(PROFILE_PATTERN.test(p), p);
  const token = issueDeviceToken({ sub: 'dev-beta-1', scope: 'beta', iat: NOW, ttlMs: 60_000 }, signer);
  t.equal(verifyDeviceToken(token, keys, NOW).scope, 'beta');
  t.throws(() =>
    DeviceTokenClaims.parse({ v: 1, sub: 'dev-1xx', scope: 'gold', iat: NOW, exp: NOW + 1, kid: signer.kid }),
  );
});

t.test('a target covers its devices and no others', async (t) => {
  const beta = { deviceId: 'dev-beta-1', profile: 'beta' };
  t.same(coveringTargets(beta.deviceId, beta.profile), ['all', 'profile:beta', 'device:dev-beta-1']);
  t.ok(targetCovers('all', beta));
  t.ok(targetCovers('profile:beta', beta));
  t.ok(targetCovers('device:dev-beta-1', beta));
  t.notOk(targetCovers('profile:family', beta));
  t.notOk(targetCovers('device:dev-beta-2', beta));
  t.notOk(targetCovers('device:dev-beta-10', { deviceId: 'dev-beta-1', profile: 'beta' }));
  t.notOk(targetCovers('profile:mandate:x', { deviceId: 'd-1', profile: 'mandate:xy' }));
});

const ack: CommandAck = {
  commandId: 'cmd-0123abcd',
  action: 'flat',
  status: 'done',
  ts: NOW,
  sold: [{ symbol: 'BTC/USDT', amount: 0.0123, orderId: '42' }],
  unsold: [{ symbol: 'ETH/USDT', amount: 0.00001, reason: 'below the exchange minimum (0.0001)' }],
};

t.test('command acks round-trip as a device frame and a bus record', async (t) => {
  const frame = { type: 'command-acks', deviceId: 'dev-beta-1', seq: 7, acks: [ack] };
  t.same(DeviceFrame.parse(JSON.parse(JSON.stringify(frame))), frame);
  t.same(CommandAckBatch.parse(frame), frame);
  const record = { type: 'command-ack', deviceId: 'dev-beta-1', seq: 7, ack };
  t.same(CommandAckBusRecord.parse(record), record);
  for (const status of ['received', 'failed', 'expired'] as const)
    t.ok(
      CommandAck.safeParse({ commandId: ack.commandId, action: 'halt', status, ts: NOW, reason: 'r' })
        .success,
    );
});

t.test('command acks refuse what they must and are bounded', async (t) => {
  const bad = (a: object) => CommandAck.safeParse(a).success;
  t.notOk(bad({ ...ack, status: 'pending' }), 'the device never says pending');
  t.notOk(bad({ ...ack, commandId: 'x' }));
  t.notOk(bad({ ...ack, reason: 'x'.repeat(301) }));
  t.notOk(bad({ ...ack, sold: [{ symbol: 'btc', amount: 1 }] }));
  t.notOk(bad({ ...ack, sold: [{ symbol: 'BTC/USDT', amount: -1 }] }));
  t.notOk(bad({ ...ack, unsold: [{ symbol: 'BTC/USDT', amount: 1 }] }), 'unsold says why');
  t.notOk(bad({ ...ack, keys: 'secret' }));
  const frame = (acks: unknown[]) =>
    CommandAckBatch.safeParse({ type: 'command-acks', deviceId: 'dev-beta-1', seq: 0, acks }).success;
  t.notOk(frame([]), 'at least one');
  t.ok(frame(Array(MAX_COMMAND_ACK_BATCH).fill(ack)));
  t.notOk(frame(Array(MAX_COMMAND_ACK_BATCH + 1).fill(ack)), 'at most 50');
  t.notOk(
    CommandAckBatch.safeParse({ type: 'command-acks', deviceId: 'dev-beta-1', seq: -1, acks: [ack] }).success,
  );
  // The largest single ack fits the gateway's frame limit (64 KiB by default): the device splits
  // frames by size, never an ack.
  const symbols = Array.from({ length: MAX_COMMAND_ACK_SYMBOLS }, (_, i) => `C${'X'.repeat(15)}${i}/USDT`);
  const largest = {
    ...ack,
    sold: symbols.map((symbol) => ({ symbol, amount: 1 / 3e7, orderId: 'o'.repeat(128) })),
    unsold: symbols.map((symbol) => ({ symbol, amount: 1 / 3e7, reason: 'r'.repeat(300) })),
    reason: 'r'.repeat(300),
  };
  t.ok(CommandAck.safeParse(largest).success);
  const one = JSON.stringify({
    type: 'command-acks',
    deviceId: 'd'.repeat(64),
    seq: Number.MAX_SAFE_INTEGER,
    acks: [largest],
  });
  t.ok(one.length < 64 * 1024, `${one.length} bytes`);
  t.notOk(CommandAck.safeParse({ ...largest, sold: [...largest.sold, largest.sold[0]] }).success);
  // A full frame of ordinary acks stays well under it too.
  const bytes = JSON.stringify({
    type: 'command-acks',
    deviceId: 'dev-beta-1',
    seq: 1,
    acks: Array(50).fill(ack),
  });
  t.ok(bytes.length < 64 * 1024, `${bytes.length} bytes`);
});

t.test('telemetry may carry the policy in force', async (t) => {
  const base = {
    type: 'telemetry',
    deviceId: 'dev-beta-1',
    ts: NOW,
    quote: 'USDT',
    equity: 1,
    cash: 1,
    positions: {},
    spendToday: 0,
    fills: 0,
    lastDecisions: [],
    errors: [],
  };
  t.ok(Telemetry.safeParse(base).success, 'absent from older devices');
  t.ok(Telemetry.safeParse({ ...base, policy: null }).success);
  t.ok(Telemetry.safeParse({ ...base, policy: { profile: 'beta', version: 4 } }).success);
  t.notOk(Telemetry.safeParse({ ...base, policy: { profile: 'beta', version: 0 } }).success);
  t.notOk(Telemetry.safeParse({ ...base, policy: { profile: 'beta' } }).success);
});
