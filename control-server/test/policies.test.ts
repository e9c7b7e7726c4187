// Spending policies (issue 14): versions per profile, validated with the devices' schema,
// published signed with their version; rollback as a newer version; diff; a restart keeps them.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { waitFor } from '@appliance/test-kit';
import { DEFAULT_FAMILY_POLICY } from '@appliance/trading-core';
import { setup } from './helpers.js';
import { clockedSetup, controlMessages, reportTelemetry } from './commands-helpers.js';

const policyMessages = (seen: { kind: string; body: unknown }[], profile: string) =>
  seen.flatMap((c) =>
    c.kind === 'policy' && (c.body as { profile: string }).profile === profile
      ? [c.body as { profile: string; version?: number; policy: Record<string, unknown> }]
      : [],
  );

t.test('the first start seeds family version 1; a valid policy is published as version 2', async (t) => {
  const { call, seen } = await clockedSetup(t);
  t.match(policyMessages(seen, 'family'), [{ version: 1, policy: DEFAULT_FAMILY_POLICY }], 'seeded');
  t.match((await call('GET', '/api/policies')).body, {
    profiles: [{ profile: 'family', version: 1, by: 'control-server (first start)' }],
  });
  const next = { ...DEFAULT_FAMILY_POLICY, maxSpendPerDay: 500 };
  const created = await call('POST', '/api/policies/family', {
    policy: next,
    note: 'tighter',
    operator: 'ana',
  });
  t.equal(created.status, 201);
  t.match(created.body, { profile: 'family', version: 2, by: 'ana', note: 'tighter', rolledBackFrom: null });
  await waitFor(() => policyMessages(seen, 'family').length === 2, 'the new version');
  t.same(
    policyMessages(seen, 'family')[1],
    { profile: 'family', policy: next, version: 2 },
    'signed, with version',
  );
  t.match((await call('GET', '/api/policies/family/2')).body, {
    version: 2,
    policy: { maxSpendPerDay: 500 },
  });
  t.same(
    ((await call('GET', '/api/policies/family')).body.versions as { version: number }[]).map(
      (v) => v.version,
    ),
    [2, 1],
    'history, newest first',
  );
  // A mandate's profile is one path segment, `:` as it is.
  const mandate = await call('POST', '/api/policies/mandate:acme', { policy: DEFAULT_FAMILY_POLICY });
  t.match([mandate.status, mandate.body], [201, { profile: 'mandate:acme', version: 1 }]);
});

t.test('an invalid policy is refused naming the field, and nothing is stored or published', async (t) => {
  const { call, seen } = await clockedSetup(t);
  const cases: [string, unknown, number, string, string][] = [
    [
      'family',
      { policy: { ...DEFAULT_FAMILY_POLICY, maxOrderQuote: -1 } },
      400,
      'E_POLICY_INVALID',
      'policy.maxOrderQuote: Too small: expected number to be >0',
    ],
    [
      'family',
      {
        policy: {
          ...DEFAULT_FAMILY_POLICY,
          schedule: { mon: [{ start: '25:00', end: '26:00', maxSpend: null, buying: true }] },
        },
      },
      400,
      'E_POLICY_INVALID',
      'policy.schedule.mon.0.start: start: HH:MM, 00:00..23:59',
    ],
    [
      'family',
      { policy: { ...DEFAULT_FAMILY_POLICY, schema: 2 } },
      400,
      'E_POLICY_INVALID',
      'policy.schema: Invalid input: expected 1',
    ],
    ['family', { policy: 'strict' }, 400, 'E_INVALID', 'policy: an object is required'],
    [
      'family',
      { policy: DEFAULT_FAMILY_POLICY, extra: 1 },
      400,
      'E_INVALID',
      'body: Unrecognized key: "extra"',
    ],
    [
      'Family',
      { policy: DEFAULT_FAMILY_POLICY },
      400,
      'E_INVALID',
      'profile: "Family" is not family, beta, mandate:<id> or house',
    ],
  ];
  for (const [profile, body, status, error, message] of cases) {
    const r = await call('POST', `/api/policies/${profile}`, body);
    t.same([r.status, r.body], [status, { error, message }], message);
  }
  t.same(
    ((await call('GET', '/api/policies/family')).body.versions as unknown[]).length,
    1,
    'nothing stored',
  );
  t.equal(policyMessages(seen, 'family').length, 1, 'nothing published');
  t.same((await call('GET', '/api/policies/beta')).body, {
    error: 'E_POLICY_UNKNOWN',
    message: 'beta: no policy',
  });
  t.same((await call('GET', '/api/policies/family/9')).body, {
    error: 'E_POLICY_UNKNOWN',
    message: 'family: no version 9',
  });
  t.same((await call('GET', '/api/policies/family/x')).body, {
    error: 'E_INVALID',
    message: 'version: a version number, 1 or more',
  });
});

t.test('a rollback publishes the old content as a newer version; diff names each field', async (t) => {
  const { call, seen } = await clockedSetup(t);
  const v2 = {
    ...DEFAULT_FAMILY_POLICY,
    maxSpendPerDay: 500,
    schedule: { ...DEFAULT_FAMILY_POLICY.schedule, sun: [] },
  };
  await call('POST', '/api/policies/family', { policy: v2 });
  const diff = await call('GET', '/api/policies/family/diff?from=1&to=2');
  t.same(diff.body, {
    profile: 'family',
    from: 1,
    to: 2,
    changes: [
      { path: 'maxSpendPerDay', from: 1000, to: 500 },
      { path: 'schedule.sun.0', from: { start: '00:00', end: '24:00', maxSpend: null, buying: true } },
    ],
  });
  const back = await call('POST', '/api/policies/family/rollback', { to: 1, operator: 'bo' });
  t.match(
    [back.status, back.body],
    [201, { version: 3, rolledBackFrom: 1, by: 'bo', note: 'rollback to version 1' }],
  );
  await waitFor(() => policyMessages(seen, 'family').length === 3, 'the rollback');
  t.same(policyMessages(seen, 'family')[2], { profile: 'family', policy: DEFAULT_FAMILY_POLICY, version: 3 });
  t.same((await call('GET', '/api/policies/family/diff?from=1&to=3')).body.changes, [], 'the same content');
  const bad = await call('POST', '/api/policies/family/rollback', { to: 7 });
  t.same([bad.status, bad.body], [404, { error: 'E_POLICY_UNKNOWN', message: 'family: no version 7' }]);
  t.equal((await call('GET', '/api/policies/family/diff?from=1')).body.error, 'E_INVALID');
});

t.test('the fleet view shows the policy version of each device and who lags', async (t) => {
  const { bus, call, clock } = await clockedSetup(t);
  for (const id of ['dev-a', 'dev-b']) await call('POST', '/api/devices', { id });
  await call('POST', '/api/policies/family', { policy: { ...DEFAULT_FAMILY_POLICY, maxSpendPerDay: 10 } });
  await reportTelemetry(bus, 'dev-a', 'family', clock.now, { policy: { profile: 'family', version: 2 } });
  await reportTelemetry(bus, 'dev-b', 'family', clock.now, { policy: { profile: 'family', version: 1 } });
  await waitFor(async () => {
    const devices = (await call('GET', '/api/fleet')).body.devices as { policyVersion: number | null }[];
    return devices.every((d) => d.policyVersion !== null);
  }, 'the telemetry');
  t.match((await call('GET', '/api/fleet')).body.devices, [
    { id: 'dev-a', policyVersion: 2, policyLatest: 2, policyLagging: false },
    { id: 'dev-b', policyVersion: 1, policyLatest: 2, policyLagging: true },
  ]);
});

t.test('a restart on the same data folder keeps the versions and publishes the latest', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'policies-'));
  const first = await setup(t, { dataDir });
  await first.call('POST', '/api/policies/family', { policy: { ...DEFAULT_FAMILY_POLICY, orderQuote: 50 } });
  await first.server.close();
  const second = await setup(t, { dataDir });
  const seen = await controlMessages(second.bus, second.signer, Date.now);
  t.match(policyMessages(seen, 'family'), [{ version: 2, policy: { orderQuote: 50 } }]);
  t.equal(((await second.call('GET', '/api/policies/family')).body.versions as unknown[]).length, 2);
});
