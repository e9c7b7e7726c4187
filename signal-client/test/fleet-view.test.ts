/**
 * Issue #14: what the device reads from fleet and policy messages. Halted is the OR over the
 * targets that cover it, and only those; commands come from those targets, each once, oldest
 * first; the policy version in force is its profile's.
 */
import t from 'tap';
import { createControl, generateSigner, type Control, type ControlDraft } from '@appliance/protocol';
import { DEFAULT_FAMILY_POLICY } from '@appliance/trading-core';
import { controlView } from '../src/control-view.js';

const signer = generateSigner();
const NOW = 1_800_000_000_000;
const make = (draft: Omit<ControlDraft, 'ts' | 'ttlMs' | 'origin' | 'version'>): Control =>
  createControl({ ts: NOW, ttlMs: 60_000, origin: 'control', version: 1, ...draft } as ControlDraft, signer);
const cmd = (id: string, issuedAt: number) => ({
  id,
  action: 'halt' as const,
  reason: 'r',
  by: 'ops',
  issuedAt,
  expiresAt: NOW + 60_000,
});
const fleet = (
  target: string,
  halted: boolean,
  reason: string,
  commands = [cmd(`cmd-${target.replace(/[^a-z0-9]/g, '')}01`, NOW)],
) => make({ kind: 'fleet', body: { target, halted, reason, commands } });
const view = (controls: Control[], device = { deviceId: 'beta-1', profile: 'beta' }) =>
  controlView(new Map(controls.map((c, i) => [String(i), c])), device);

t.test('halted: the OR over the covering targets, with their reasons', async (t) => {
  t.equal(view([]).fleetHalt, null, 'no fleet message: no halt');
  t.equal(view([fleet('all', false, '')]).fleetHalt, null);
  t.same(view([fleet('all', false, ''), fleet('profile:beta', true, 'beta test over')]).fleetHalt, {
    reason: 'beta test over',
  });
  t.same(view([fleet('all', true, 'outage'), fleet('device:beta-1', true, 'this one')]).fleetHalt, {
    reason: 'outage; this one',
  });
  t.equal(
    view([
      fleet('profile:family', true, 'family'),
      fleet('device:beta-2', true, 'other'),
      fleet('profile:mandate:x', true, 'm'),
    ]).fleetHalt,
    null,
    'targets that do not cover the device are ignored',
  );
});

t.test('commands: from the covering targets only, each once, oldest first', async (t) => {
  const v = view([
    fleet('device:beta-1', false, '', [cmd('cmd-late0001', NOW + 5), cmd('cmd-both0001', NOW + 1)]),
    fleet('all', false, '', [cmd('cmd-both0001', NOW + 1), cmd('cmd-first001', NOW)]),
    fleet('profile:family', true, 'x', [cmd('cmd-notme001', NOW)]),
  ]);
  t.same(
    v.commands.map((c) => [c.id, c.target]),
    [
      ['cmd-first001', 'all'],
      ['cmd-both0001', 'device:beta-1'],
      ['cmd-late0001', 'device:beta-1'],
    ],
  );
});

t.test('the policy version in force is that of the device’s profile', async (t) => {
  const policy = (profile: string, version?: number) =>
    make({
      kind: 'policy',
      body: { profile, policy: { ...DEFAULT_FAMILY_POLICY }, ...(version && { version }) },
    });
  t.same(view([policy('family', 3), policy('beta', 7)]).policyVersion, { profile: 'beta', version: 7 });
  t.equal(view([policy('beta')]).policyVersion, null, 'a policy sent without a version');
  t.equal(view([policy('family', 3)]).policyVersion, null, 'no policy for the profile');
  const bad = make({
    kind: 'policy',
    body: { profile: 'beta', policy: { schema: 1, nonsense: true }, version: 2 },
  });
  t.equal(view([bad]).policyVersion, null, 'a policy that does not parse is not in force');
});
