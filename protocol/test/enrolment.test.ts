import { randomBytes } from 'node:crypto';
import t from 'tap';
import {
  decodeEnrolmentTicket,
  encodeEnrolmentTicket,
  enrolmentSecretHash,
  generateSigner,
  issueDeviceProof,
  keyIdOf,
  parseDeviceRequest,
  publicKeyOf,
  signDeviceRequest,
  verifyDeviceProof,
  verifyDeviceRequestSignature,
  isProtocolError,
  type EnrolRequest,
  type EnrolmentTicket,
  type RenewRequest,
  type RotateRequest,
} from '../src/index.js';

const wgKey = () => randomBytes(32).toString('base64');
const ticket: EnrolmentTicket = {
  v: 1,
  url: 'https://enrol.example:8443',
  pin: 'ab'.repeat(32),
  id: 'et-0123456789abcdef',
  secret: randomBytes(32).toString('base64url'),
  exp: 1_800_000_000_000,
  device: 'kitchen-t520',
  profile: 'family',
};

t.test('an enrolment token is one string that decodes to what was encoded', async (t) => {
  const text = encodeEnrolmentTicket(ticket);
  t.match(text, /^sa-enrol-1\.[A-Za-z0-9_-]+$/);
  t.same(decodeEnrolmentTicket(`  ${text}\n`), ticket, 'whitespace around it (a file) is ignored');
});

t.test('a damaged enrolment token is refused with E_BAD_ENROLMENT_TOKEN', async (t) => {
  const text = encodeEnrolmentTicket(ticket);
  const reencode = (o: object) => `sa-enrol-1.${Buffer.from(JSON.stringify(o)).toString('base64url')}`;
  for (const [what, bad] of [
    ['no prefix', text.slice(11)],
    ['truncated', text.slice(0, 40)],
    ['not JSON', 'sa-enrol-1.bm90IGpzb24'],
    ['http url', reencode({ ...ticket, url: 'http://enrol.example' })],
    ['short pin', reencode({ ...ticket, pin: 'abcd' })],
    ['extra field', reencode({ ...ticket, admin: true })],
  ] as const) {
    t.throws(() => decodeEnrolmentTicket(bad), { code: 'E_BAD_ENROLMENT_TOKEN' }, what);
  }
});

t.test('the stored hash of a secret is not the secret and is stable', async (t) => {
  t.equal(enrolmentSecretHash(ticket.secret), enrolmentSecretHash(ticket.secret));
  t.not(enrolmentSecretHash(ticket.secret), enrolmentSecretHash(`${ticket.secret.slice(1)}A`));
  t.notMatch(enrolmentSecretHash(ticket.secret), ticket.secret);
});

t.test('device requests verify with the key that signed them and no other', async (t) => {
  const key = generateSigner();
  const now = 1_700_000_000_000;
  const enrol = signDeviceRequest<EnrolRequest>(
    {
      typ: 'enrol',
      tokenId: ticket.id,
      secret: ticket.secret,
      wgPublicKey: wgKey(),
      devicePublicKey: publicKeyOf(key),
    },
    key,
    now,
  );
  const parsed = parseDeviceRequest(JSON.parse(JSON.stringify(enrol)), now + 1000);
  t.doesNotThrow(() => verifyDeviceRequestSignature(parsed, publicKeyOf(key)));
  t.throws(() => verifyDeviceRequestSignature(parsed, publicKeyOf(generateSigner())), {
    code: 'E_UNKNOWN_KEY',
  });
  const tampered = { ...parsed, wgPublicKey: wgKey() };
  t.throws(() => verifyDeviceRequestSignature(tampered, publicKeyOf(key)), { code: 'E_BAD_SIGNATURE' });
  t.throws(() => parseDeviceRequest(enrol, now + 10 * 60_000), { code: 'E_STALE_REQUEST' }, 'old');
  t.throws(() => parseDeviceRequest({ ...enrol, secret: 'x' }, now), { code: 'E_MALFORMED' });

  const renew = signDeviceRequest<RenewRequest>({ typ: 'renew', deviceId: 'kitchen-t520' }, key, now);
  t.doesNotThrow(() => verifyDeviceRequestSignature(parseDeviceRequest(renew, now), publicKeyOf(key)));
});

t.test('a rotation needs both the old key and the new one', async (t) => {
  const oldKey = generateSigner();
  const newKey = generateSigner();
  const now = 1_700_000_000_000;
  const body = {
    typ: 'rotate' as const,
    deviceId: 'kitchen-t520',
    wgPublicKey: wgKey(),
    devicePublicKey: publicKeyOf(newKey),
  };
  const good = signDeviceRequest<RotateRequest>(body, oldKey, now, newKey);
  t.equal(good.kid, oldKey.kid, 'named by the old key');
  t.doesNotThrow(() => verifyDeviceRequestSignature(good, publicKeyOf(oldKey)));

  const thief = generateSigner();
  const newOnly = signDeviceRequest<RotateRequest>(body, thief, now, newKey);
  t.throws(() => verifyDeviceRequestSignature(newOnly, publicKeyOf(oldKey)), { code: 'E_UNKNOWN_KEY' });
  const oldOnly = { ...good, newSig: signDeviceRequest<RotateRequest>(body, oldKey, now, thief).newSig };
  t.throws(() => verifyDeviceRequestSignature(oldOnly, publicKeyOf(oldKey)), { code: 'E_BAD_SIGNATURE' });
  const same = signDeviceRequest<RotateRequest>(
    { ...body, devicePublicKey: publicKeyOf(oldKey) },
    oldKey,
    now,
    oldKey,
  );
  t.throws(() => verifyDeviceRequestSignature(same, publicKeyOf(oldKey)), { code: 'E_SAME_KEY' });
  t.throws(() => signDeviceRequest<RotateRequest>(body, oldKey, now), TypeError, 'the new key must sign');
  t.equal(keyIdOf(publicKeyOf(newKey)), newKey.kid);
});

t.test('a device proof is bound to its credential, device and short life', async (t) => {
  const key = generateSigner();
  const now = 1_700_000_000_000;
  const credential = { token: 'a.credential', sub: 'kitchen-t520', cnf: publicKeyOf(key) };
  const proof = issueDeviceProof({ credential: credential.token, sub: credential.sub, now }, key);
  t.equal(verifyDeviceProof(proof, credential, now + 1000).sub, 'kitchen-t520');
  const refused = (p: string | undefined, c = credential, at = now) => {
    try {
      verifyDeviceProof(p, c, at);
      return 'accepted';
    } catch (err) {
      return isProtocolError(err) ? err.code : String(err);
    }
  };
  t.equal(refused(undefined), 'E_PROOF_REQUIRED');
  t.equal(refused(proof, { ...credential, sub: 'other-device' }), 'E_BAD_PROOF');
  t.equal(refused(proof, { ...credential, token: 'b.credential' }), 'E_BAD_PROOF');
  t.equal(refused(proof, { ...credential, cnf: publicKeyOf(generateSigner()) }), 'E_BAD_PROOF');
  t.equal(refused(proof, credential, now + 10 * 60_000), 'E_PROOF_EXPIRED');
  t.equal(refused(proof, credential, now - 10 * 60_000), 'E_BAD_PROOF', 'issued in the future');
  const long = issueDeviceProof(
    { credential: credential.token, sub: credential.sub, now, ttlMs: 3_600_000 },
    key,
  );
  t.equal(refused(long, credential, now + 5 * 60_000), 'E_PROOF_EXPIRED', 'a life is capped at 2 minutes');
});
