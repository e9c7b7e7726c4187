import t from 'tap';
import { errorOf } from '@appliance/test-kit';
import {
  KeyRing,
  exportPublicKey,
  generateSigner,
  issueDeviceToken,
  verifyDeviceToken,
} from '../src/index.js';

const NOW = 1_700_000_000_000;
const control = generateSigner();
const keys = KeyRing.of(exportPublicKey(control.publicKey));

t.test('a device token issued by the control server verifies with its public key alone', async (t) => {
  const token = issueDeviceToken({ sub: 'dev-001', scope: 'family', iat: NOW, ttlMs: 86_400_000 }, control);
  const claims = verifyDeviceToken(token, keys, NOW + 1);
  t.match(claims, { sub: 'dev-001', scope: 'family', exp: NOW + 86_400_000, kid: control.kid });
});

t.test('tokens that are expired, forged, tampered or garbage are refused with their codes', async (t) => {
  const token = issueDeviceToken({ sub: 'dev-001', scope: 'family', iat: NOW, ttlMs: 1000 }, control);
  const code = errorOf;
  t.equal(
    code(() => verifyDeviceToken(token, keys, NOW + 1000)),
    `E_TOKEN_EXPIRED: device token expired at ${NOW + 1000}`,
  );
  const forged = issueDeviceToken(
    { sub: 'dev-001', scope: 'family', iat: NOW, ttlMs: 1000 },
    generateSigner(),
  );
  t.match(
    code(() => verifyDeviceToken(forged, keys, NOW)),
    /^E_BAD_TOKEN: device token rejected: device-token signed with unknown key/,
  );
  const [head, sig] = token.split('.') as [string, string];
  const claims = JSON.parse(Buffer.from(head, 'base64url').toString());
  const tampered = `${Buffer.from(JSON.stringify({ ...claims, sub: 'dev-002' })).toString('base64url')}.${sig}`;
  t.equal(
    code(() => verifyDeviceToken(tampered, keys, NOW)),
    'E_BAD_TOKEN: device token rejected: device-token signature does not verify',
  );
  t.equal(
    code(() => verifyDeviceToken('nonsense', keys, NOW)),
    'E_BAD_TOKEN: device token must be <claims>.<signature>',
  );
  t.equal(
    code(() => verifyDeviceToken('e30.AAAA', keys, NOW)),
    'E_BAD_TOKEN: device token claims do not match their schema',
  );
  t.equal(
    code(() => verifyDeviceToken('!!!.AAAA', keys, NOW)),
    'E_BAD_TOKEN: device token claims are not JSON',
  );
});
