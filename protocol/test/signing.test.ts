import t from 'tap';
import type { Test } from 'tap';
import { errorOf } from '@appliance/test-kit';
import {
  createControl,
  createSignal,
  exportPrivateKeyPem,
  generateSigner,
  signalId,
  signerFromPem,
  verifyControl,
  verifySignal,
} from '../src/index.js';
import { NOW, draft, keys, signer } from './fixtures.js';

function rejects(t: Test, fn: () => unknown, code: string, message: string | RegExp) {
  const got = errorOf(fn);
  if (typeof message === 'string') t.equal(got, `${code}: ${message}`);
  else {
    t.equal(got.slice(0, code.length + 2), `${code}: `);
    t.match(got.slice(code.length + 2), message);
  }
}

t.test('a signed signal verifies and round-trips through JSON', async (t) => {
  const s = createSignal(draft, signer);
  t.equal(s.id, signalId('ema-cross.1h', 'BTC/USDT', NOW - 3_600_000));
  t.same(verifySignal(JSON.parse(JSON.stringify(s)), keys, { now: NOW + 1000 }), s);
});

t.test('the signal id depends only on stream, symbol and candle time', async (t) => {
  const a = createSignal(draft, signer);
  const b = createSignal({ ...draft, ts: NOW + 5, price: 1 }, signer);
  t.equal(a.id, b.id);
  t.not(a.id, createSignal({ ...draft, candleTime: draft.candleTime + 1 }, signer).id);
});

t.test('any change to a signed field breaks the signature', async (t) => {
  const s = createSignal(draft, signer);
  for (const [k, v] of Object.entries({
    price: 1,
    side: 'sell',
    ttlMs: 86_400_000,
    strength: 1,
    origin: 'x',
  })) {
    rejects(
      t,
      () => verifySignal({ ...s, [k]: v }, keys, { now: NOW }),
      'E_BAD_SIGNATURE',
      'signal signature does not verify',
    );
  }
});

t.test('a signal from an unpinned key is refused even with a valid signature', async (t) => {
  const other = generateSigner();
  const s = createSignal(draft, other);
  rejects(
    t,
    () => verifySignal(s, keys, { now: NOW }),
    'E_UNKNOWN_KEY',
    `signal signed with unknown key ${other.kid}`,
  );
});

t.test('a signature made with another key under the pinned kid is refused', async (t) => {
  const other = generateSigner();
  const forged = { ...createSignal(draft, other), kid: signer.kid };
  rejects(t, () => verifySignal(forged, keys, { now: NOW }), 'E_BAD_SIGNATURE', /does not verify/);
});

t.test('expired and future signals are refused', async (t) => {
  const s = createSignal(draft, signer);
  rejects(t, () => verifySignal(s, keys, { now: NOW + 60_001 }), 'E_EXPIRED', 'signal expired 1 ms ago');
  t.ok(verifySignal(s, keys, { now: NOW + 60_000 }), 'valid at the last millisecond of its window');
  rejects(
    t,
    () => verifySignal(s, keys, { now: NOW - 5_001 }),
    'E_NOT_YET_VALID',
    'signal issued 5001 ms in the future',
  );
});

t.test('malformed input is refused before any key is looked up', async (t) => {
  const s = createSignal(draft, signer);
  rejects(t, () => verifySignal(null, keys, { now: NOW }), 'E_MALFORMED', /^malformed signal: message:/);
  rejects(
    t,
    () => verifySignal({ ...s, side: 'short' }, keys, { now: NOW }),
    'E_MALFORMED',
    /^malformed signal: side:/,
  );
  rejects(t, () => verifySignal({ ...s, extra: 1 }, keys, { now: NOW }), 'E_MALFORMED', /^malformed signal:/);
  rejects(
    t,
    () => verifySignal({ ...s, price: -1 }, keys, { now: NOW }),
    'E_MALFORMED',
    /^malformed signal: price:/,
  );
});

t.test('a signal whose id was not derived from its candle is refused', async (t) => {
  const s = createSignal(draft, signer);
  const { sig: _sig, ...unsigned } = s;
  const { signMessage } = await import('../src/signing.js');
  const relabelled = signMessage('signal', { ...unsigned, id: 'f'.repeat(32) }, signer);
  rejects(
    t,
    () => verifySignal(relabelled, keys, { now: NOW }),
    'E_BAD_ID',
    /is not derived from its candle/,
  );
});

t.test('a signal signature does not verify as a control message (domain separation)', async (t) => {
  const c = createControl(
    { kind: 'heartbeat', version: 1, ts: NOW, ttlMs: 30_000, origin: 'control', body: {} },
    signer,
  );
  t.equal(verifyControl(c, keys, { now: NOW }).kind, 'heartbeat');
  const { signPayload } = await import('../src/signing.js');
  const { sig: _sig, ...unsigned } = c;
  const crossSigned = { ...unsigned, sig: signPayload('signal', unsigned, signer) };
  rejects(t, () => verifyControl(crossSigned, keys, { now: NOW }), 'E_BAD_SIGNATURE', /control signature/);
});

t.test('control messages carry breaker and eligibility bodies', async (t) => {
  const b = createControl(
    {
      kind: 'breaker',
      version: 3,
      ts: NOW,
      ttlMs: 60_000,
      origin: 'control',
      body: { level: 'caution', multiplier: 0.5, reason: 'vol' },
    },
    signer,
  );
  const v = verifyControl(b, keys, { now: NOW });
  t.equal(v.kind === 'breaker' && v.body.multiplier, 0.5);
  const bad = { ...b, body: { ...b.body, level: 'panic' } };
  rejects(t, () => verifyControl(bad, keys, { now: NOW }), 'E_MALFORMED', /body.level/);
});

t.test('a signer survives a PEM round trip with the same key id', async (t) => {
  const again = signerFromPem(exportPrivateKeyPem(signer));
  t.equal(again.kid, signer.kid);
  t.ok(verifySignal(createSignal(draft, again), keys, { now: NOW }));
});
