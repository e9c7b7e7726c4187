// The eligibility message gained `reasons` and `run` (the simulator's why, and which run):
// devices keep taking the format without them, the new fields are bounded, and a simulator's
// signed result verifies only as what it is.
import t from 'tap';
import { errorOf } from '@appliance/test-kit';
import {
  MAX_ELIGIBILITY_REASONS,
  controlScope,
  createControl,
  createSimulatorResult,
  generateSigner,
  verifyControl,
  verifySimulatorResult,
  KeyRing,
  signPayload,
} from '../src/index.js';
import { NOW, keys, signer } from './fixtures.js';

const common = { version: 1, ts: NOW, ttlMs: 60_000, origin: 'control' };

t.test('an eligibility message verifies with or without reasons and run', async (t) => {
  const old = createControl(
    { kind: 'eligibility', ...common, body: { stream: 'ema.1h', symbols: ['BTC/USDT'] } },
    signer,
  );
  t.same(verifyControl(JSON.parse(JSON.stringify(old)), keys, { now: NOW }).body, {
    stream: 'ema.1h',
    symbols: ['BTC/USDT'],
  });
  const body = {
    stream: 'ema.1h',
    symbols: ['ETH/USDT'],
    reasons: { 'BTC/USDT': 'max drawdown 31% (limit 20%)', 'ETH/USDT': 'positive on every horizon' },
    run: { id: 'run-2026-12-03T23:00Z', at: NOW - 1_000 },
  };
  const fresh = createControl({ kind: 'eligibility', ...common, body }, signer);
  const verified = verifyControl(JSON.parse(JSON.stringify(fresh)), keys, { now: NOW });
  t.same(verified.body, body);
  t.equal(controlScope(verified), 'eligibility:ema.1h', 'same scope as before: the newest version wins');
});

t.test('reasons and run are bounded and signed', async (t) => {
  const make = (body: object) =>
    createControl(
      { kind: 'eligibility', ...common, body: { stream: 'ema.1h', symbols: [], ...body } } as never,
      signer,
    );
  const refused = (body: object) => errorOf(() => verifyControl(make(body), keys, { now: NOW }));
  t.match(
    refused({ reasons: { 'ETH/USDT': 'x'.repeat(301) } }),
    /^E_MALFORMED: malformed control: body\.reasons\.ETH\/USDT/,
  );
  t.match(refused({ reasons: { 'eth-usdt': 'x' } }), /^E_MALFORMED: /, 'keys are symbols');
  t.match(refused({ reasons: { 'ETH/USDT': '' } }), /^E_MALFORMED: /, 'a reason says something');
  const many = Object.fromEntries(
    Array.from({ length: MAX_ELIGIBILITY_REASONS + 1 }, (_, i) => [`C${i}/USDT`, 'r']),
  );
  t.match(refused({ reasons: many }), /at most 2000 reasons/);
  t.match(refused({ run: { id: 'has space', at: 1 } }), /^E_MALFORMED: .*body\.run\.id/);
  t.match(refused({ run: { id: 'r1' } }), /^E_MALFORMED: .*body\.run\.at/);
  t.match(refused({ why: 'x' }), /^E_MALFORMED: /, 'no other field');

  const genuine = make({ reasons: { 'ETH/USDT': 'blocked by the operator: delisting' } });
  const altered = {
    ...genuine,
    body: { ...genuine.body, reasons: { 'ETH/USDT': 'pinned by the operator: buy it' } },
  };
  t.equal(
    errorOf(() => verifyControl(altered, keys, { now: NOW })),
    'E_BAD_SIGNATURE: control signature does not verify',
  );
});

t.test('a simulator result verifies with the node key, in its own domain, within its age', async (t) => {
  const node = generateSigner();
  const ring = KeyRing.of(node.publicKey);
  const result = createSimulatorResult(
    {
      runId: 'run-1',
      at: NOW - 1_000,
      end: NOW - 3_600_000,
      node: 'sim-a',
      decisions: [
        { stream: 'ema.1h', symbol: 'ETH/USDT', eligible: true, reason: 'ok', metrics: { trades: 12 } },
      ],
    },
    node,
  );
  t.same(verifySimulatorResult(JSON.parse(JSON.stringify(result)), ring, { now: NOW }), result);
  t.equal(
    errorOf(() => verifySimulatorResult(result, ring, { now: NOW + 3_600_000, maxAgeMs: 3_600_000 })),
    'E_EXPIRED: simulator result expired 1000 ms ago',
  );
  t.equal(
    errorOf(() => verifySimulatorResult(result, keys, { now: NOW })),
    `E_UNKNOWN_KEY: simulator-result signed with unknown key ${node.kid}`,
  );
  // The same key signing a control message: not a simulator result, and the other way round.
  const control = createControl({ kind: 'heartbeat', ...common, body: {} }, node);
  t.match(
    errorOf(() => verifySimulatorResult(control, ring, { now: NOW })),
    /^E_MALFORMED: /,
  );
  // The very bytes of the result, signed in the control domain: refused.
  const { sig: _sig, ...unsigned } = result;
  const asControl = { ...result, sig: signPayload('control', unsigned, node) };
  t.equal(
    errorOf(() => verifySimulatorResult(asControl, ring, { now: NOW })),
    'E_BAD_SIGNATURE: simulator-result signature does not verify',
  );
  t.match(
    errorOf(() => verifyControl(result, ring, { now: NOW })),
    /^E_MALFORMED: /,
  );
});
