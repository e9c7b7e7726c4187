import t from 'tap';
import WebSocket from 'ws';
import {
  DEVICE_PROOF_HEADER,
  EmbeddedBus,
  TOPICS,
  createControl,
  generateSigner,
  issueDeviceProof,
  issueDeviceToken,
  publicKeyOf,
  type Signer,
} from '@appliance/protocol';
import { control, startGateway } from './fixtures.js';

/** The upgrade's answer: 101 when it opened, else the HTTP status. */
function upgrade(url: string, headers: Record<string, string>): Promise<number> {
  const ws = new WebSocket(url, { headers });
  return new Promise<number>((resolve) => {
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.on('open', () => {
      ws.close();
      resolve(101);
    });
    ws.on('error', () => resolve(0));
  });
}

const bound = (sub: string, key: Signer, ttlMs = 60_000) =>
  issueDeviceToken({ sub, scope: 'family', iat: Date.now(), ttlMs, cnf: publicKeyOf(key) }, control);

const headers = (credential: string, proof?: string): Record<string, string> => ({
  authorization: `Bearer ${credential}`,
  ...(proof !== undefined && { [DEVICE_PROOF_HEADER]: proof }),
});

t.test('a credential bound to a device key connects only with a proof signed by that key', async (t) => {
  const { url } = await startGateway(t, new EmbeddedBus());
  const key = generateSigner();
  const credential = bound('dev-1', key);
  const proof = issueDeviceProof({ credential, sub: 'dev-1', now: Date.now() }, key);
  t.equal(await upgrade(url, headers(credential, proof)), 101, 'credential + its proof');

  t.equal(await upgrade(url, headers(credential)), 401, 'a copied credential alone');
  const thief = generateSigner();
  t.equal(
    await upgrade(
      url,
      headers(credential, issueDeviceProof({ credential, sub: 'dev-1', now: Date.now() }, thief)),
    ),
    401,
    'a proof signed by another key',
  );
  const other = bound('dev-1', key);
  t.equal(
    await upgrade(
      url,
      headers(credential, issueDeviceProof({ credential: other, sub: 'dev-1', now: Date.now() }, key)),
    ),
    401,
    'a proof made for another credential',
  );
  t.equal(
    await upgrade(
      url,
      headers(credential, issueDeviceProof({ credential, sub: 'dev-1', now: Date.now() - 10 * 60_000 }, key)),
    ),
    401,
    'an old proof (replayed later)',
  );
  t.equal(await upgrade(url, headers(credential, `${proof}x`)), 401, 'a tampered proof');
});

t.test('--require-bound-credentials refuses credentials without a device key', async (t) => {
  const unbound = issueDeviceToken(
    { sub: 'dev-2', scope: 'family', iat: Date.now(), ttlMs: 60_000 },
    control,
  );
  const open = await startGateway(t, new EmbeddedBus());
  t.equal(await upgrade(open.url, headers(unbound)), 101, 'accepted by default (older devices)');
  const strict = await startGateway(t, new EmbeddedBus(), { requireBoundCredentials: true });
  t.equal(await upgrade(strict.url, headers(unbound)), 401, 'refused when bound credentials are required');
  const key = generateSigner();
  const credential = bound('dev-2', key);
  t.equal(
    await upgrade(
      strict.url,
      headers(credential, issueDeviceProof({ credential, sub: 'dev-2', now: Date.now() }, key)),
    ),
    101,
    'a bound credential with its proof still connects',
  );
});

t.test('a key retired by a rotation is refused at the upgrade and its session is closed', async (t) => {
  const bus = new EmbeddedBus();
  const { url } = await startGateway(t, bus);
  const oldKey = generateSigner();
  const newKey = generateSigner();
  const oldCredential = bound('dev-3', oldKey);
  const newCredential = bound('dev-3', newKey);
  const proofFor = (credential: string, key: Signer) =>
    issueDeviceProof({ credential, sub: 'dev-3', now: Date.now() }, key);

  const live = new WebSocket(url, { headers: headers(oldCredential, proofFor(oldCredential, oldKey)) });
  await new Promise((resolve, reject) => live.once('open', resolve).once('error', reject));
  const closed = new Promise<number>((resolve) => live.on('close', (code) => resolve(code)));

  const revocation = createControl(
    {
      kind: 'revocation',
      version: 1,
      ts: Date.now(),
      ttlMs: 60_000,
      origin: 'control',
      body: { devices: [], keys: [oldKey.kid] },
    },
    control,
  );
  await bus.publish(TOPICS.control, [{ key: 'revocation', value: JSON.stringify(revocation) }]);
  t.equal(await closed, 1008, 'the session on the retired key is closed');
  t.equal(
    await upgrade(url, headers(oldCredential, proofFor(oldCredential, oldKey))),
    401,
    'the retired key is refused at the upgrade',
  );
  t.equal(
    await upgrade(url, headers(newCredential, proofFor(newCredential, newKey))),
    101,
    'the same device on its new key connects',
  );
});
