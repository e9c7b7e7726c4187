// Enrolment, renewal, rotation and revocation over real HTTP (docs/enrolment.md): the device side
// is built with the protocol's helpers, the server runs on loopback with a temporary data folder.
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import {
  EnrolmentGrant,
  KeyRing,
  RenewalGrant,
  TOPICS,
  decodeEnrolmentTicket,
  exportPublicKey,
  generateSigner,
  publicKeyOf,
  readDeviceToken,
  signDeviceRequest,
  verifyControl,
  type EnrolRequest,
  type RenewRequest,
  type RotateRequest,
  type Signer,
} from '@appliance/protocol';
import { waitFor } from '@appliance/test-kit';
import { RecordingConcentrator } from '../src/concentrator.js';
import type { EnrolmentConfig } from '../src/enrolment-model.js';
import type { ControlServerOptions } from '../src/index.js';
import { rawRequest, setup } from './helpers.js';

const DAY = 86_400_000;
const wgKey = () => randomBytes(32).toString('base64');
const FEED_KEY = exportPublicKey(generateSigner().publicKey);
const TUNNEL_KEY = wgKey();

function config(over: Partial<EnrolmentConfig> = {}): EnrolmentConfig {
  return {
    url: 'https://enrol.example.net:8443',
    certSha256: 'ab'.repeat(32),
    tunnelPool: '10.77.0.0/16',
    tunnelEndpoint: 'vpn.example.net:51820',
    tunnelPublicKey: TUNNEL_KEY,
    tunnelGatewayUrl: 'ws://10.77.0.1:8080/',
    signalKeys: [FEED_KEY],
    ...over,
  };
}

interface Res {
  status: number;
  body: Record<string, unknown>;
}

async function start(t: Test, options: Partial<ControlServerOptions> = {}) {
  const clock = { now: 1_800_000_000_000 };
  const concentrator = new RecordingConcentrator();
  const denied: string[] = [];
  const dataDir = mkdtempSync(join(tmpdir(), 'cs-enrol-'));
  const s = await setup(t, {
    dataDir,
    paper: false,
    now: () => clock.now,
    enrolment: config(),
    concentrator,
    denyTunnelAddress: async (a) => void denied.push(a),
    ...options,
  });
  /** A device's request: no admin token. */
  const device = async (path: string, body: unknown): Promise<Res> => {
    const res = await fetch(s.url + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  /** `device add`: the device and its enrolment token. */
  const add = async (id: string, extra: Record<string, unknown> = {}) => {
    const res = await s.call('POST', '/api/enrolments', { id, ...extra });
    t.equal(res.status, 201, `device add ${id}${res.status === 201 ? '' : `: ${JSON.stringify(res.body)}`}`);
    return res.body.token as string;
  };
  const enrolRequest = (ticket: string, key: Signer = generateSigner(), wg = wgKey()) => {
    const tk = decodeEnrolmentTicket(ticket);
    return signDeviceRequest<EnrolRequest>(
      { typ: 'enrol', tokenId: tk.id, secret: tk.secret, wgPublicKey: wg, devicePublicKey: publicKeyOf(key) },
      key,
      clock.now,
    );
  };
  /** Enrols with a new key pair; the answer parsed as an EnrolmentGrant. */
  const enrol = async (ticket: string, key: Signer = generateSigner(), wg = wgKey()) => {
    const res = await device('/enrol', enrolRequest(ticket, key, wg));
    t.equal(res.status, 200, `enrol${res.status === 200 ? '' : `: ${JSON.stringify(res.body)}`}`);
    return { grant: EnrolmentGrant.parse(res.body), key, wg };
  };
  const renew = (deviceId: string, key: Signer) =>
    device('/renew', signDeviceRequest<RenewRequest>({ typ: 'renew', deviceId }, key, clock.now));
  const rows = (sql: string) => s.server.store.db.prepare(sql).all();
  const tokenKeys = KeyRing.of(exportPublicKey(s.signer.publicKey));
  return { ...s, clock, concentrator, denied, device, add, enrolRequest, enrol, renew, rows, tokenKeys };
}

t.test('device add, then enrolment: a grant that parses, a credential bound to the device key', async (t) => {
  const s = await start(t);
  const ticket = await s.add('dev-a', { scope: 'mandate:x', label: 'Aunt' });
  const tk = decodeEnrolmentTicket(ticket);
  t.match(tk, {
    url: 'https://enrol.example.net:8443',
    pin: 'ab'.repeat(32),
    device: 'dev-a',
    profile: 'mandate:x',
    exp: s.clock.now + 7 * DAY,
  });
  const stored = s.rows('SELECT * FROM enrolment_tokens') as { secret_hash: string; max_uses: number }[];
  t.equal(stored.length, 1);
  t.not(stored[0]!.secret_hash, tk.secret, 'only the hash is stored');
  t.notOk(JSON.stringify(s.rows('SELECT * FROM enrolment_tokens')).includes(tk.secret));

  const key = generateSigner();
  const wg = wgKey();
  const { grant } = await s.enrol(ticket, key, wg);
  t.match(grant, {
    deviceId: 'dev-a',
    profile: 'mandate:x',
    tunnel: {
      address: '10.77.0.2',
      allowedIps: ['10.77.0.0/16'],
      concentratorPublicKey: TUNNEL_KEY,
      endpoint: 'vpn.example.net:51820',
    },
    gatewayUrl: 'ws://10.77.0.1:8080/',
    signalKeys: [FEED_KEY],
    controlKeys: [exportPublicKey(s.signer.publicKey)],
    credentialExpiresAt: s.clock.now + 30 * DAY,
    rotateKeys: false,
  });
  const claims = readDeviceToken(grant.credential, s.tokenKeys);
  t.match(claims, { sub: 'dev-a', scope: 'mandate:x', cnf: publicKeyOf(key), exp: s.clock.now + 30 * DAY });
  t.same(s.concentrator.calls, [{ op: 'addPeer', wgPublicKey: wg, address: '10.77.0.2' }]);

  const again = await s.device('/enrol', s.enrolRequest(ticket));
  t.same(again, {
    status: 409,
    body: { error: 'E_TOKEN_USED', message: `enrolment token ${tk.id} has been used` },
  });

  const one = await s.call('GET', '/api/devices/dev-a');
  t.equal(one.status, 200);
  t.match(one.body, {
    device: {
      id: 'dev-a',
      scope: 'mandate:x',
      enrolment: {
        enrolled: true,
        tunnelAddress: '10.77.0.2',
        wgPublicKey: wg,
        deviceKid: key.kid,
        enrolledAt: s.clock.now,
        credentialExpiresAt: s.clock.now + 30 * DAY,
        lastRenewedAt: null,
        renewal: 'ok',
        rotation: { state: 'none' },
      },
    },
  });
  const tokens = await s.call('GET', '/api/enrolment-tokens');
  t.match(tokens.body, { tokens: [{ id: tk.id, deviceId: 'dev-a', uses: 1, maxUses: 1, state: 'used' }] });
  t.notOk(JSON.stringify(tokens.body).includes(tk.secret), 'the list never shows a secret');
  t.same((await s.call('GET', '/api/devices/nope')).body, {
    error: 'E_DEVICE_UNKNOWN',
    message: 'no device nope',
  });
});

t.test('refused tokens: wrong secret same as unknown, expired, withdrawn, revoked device', async (t) => {
  const s = await start(t);
  const ticket = await s.add('dev-b', { tokenTtlMs: 60_000 });
  const good = s.enrolRequest(ticket);
  const unknownToken = { ...decodeEnrolmentTicket(ticket), id: 'et-0000000000000000' };
  const wrongSecret = { ...decodeEnrolmentTicket(ticket), secret: randomBytes(32).toString('base64url') };
  const asTicket = (x: object) => `sa-enrol-1.${Buffer.from(JSON.stringify(x)).toString('base64url')}`;
  const a = await s.device('/enrol', s.enrolRequest(asTicket(unknownToken)));
  const b = await s.device('/enrol', s.enrolRequest(asTicket(wrongSecret)));
  t.same(a, {
    status: 401,
    body: { error: 'E_TOKEN_UNKNOWN', message: 'unknown enrolment token or wrong secret' },
  });
  t.same(b, a, 'the wrong secret gets the same answer as no such token');

  t.same((await s.device('/enrol', { ...good, ts: good.ts + 1 })).body.error, 'E_BAD_SIGNATURE');
  t.same((await s.device('/enrol', { ...good, wgPublicKey: 'nope' })).status, 400);
  t.match(await s.device('/enrol', 'not json'), { status: 400, body: { error: 'E_MALFORMED' } });
  t.match(await s.device('/renew', good), {
    status: 400,
    body: { error: 'E_MALFORMED', message: /renew expected/ },
  });

  s.clock.now += 6 * 60_000;
  const stale = await s.device('/enrol', good);
  t.equal(stale.body.error, 'E_STALE_REQUEST', 'an old request is refused first');
  const expired = await s.device('/enrol', s.enrolRequest(ticket));
  t.same(expired.status, 410);
  t.equal(expired.body.error, 'E_TOKEN_EXPIRED');

  // A withdrawn token.
  const second = await s.call('POST', '/api/devices/dev-b/enrolment-tokens', { tokenUses: 2 });
  t.equal(second.status, 201);
  const tk2 = second.body.enrolmentToken as { id: string; maxUses: number };
  t.equal(tk2.maxUses, 2);
  t.match(await s.call('POST', `/api/enrolment-tokens/${tk2.id}/revoke`), {
    status: 200,
    body: { token: { id: tk2.id, state: 'revoked' } },
  });
  t.match(await s.device('/enrol', s.enrolRequest(second.body.token as string)), {
    status: 410,
    body: { error: 'E_TOKEN_REVOKED' },
  });
  t.match(await s.call('POST', '/api/enrolment-tokens/et-0123456789abcdef/revoke'), {
    status: 404,
    body: { error: 'E_ENROLMENT_TOKEN_UNKNOWN' },
  });

  // Revoking the device withdraws its unused tokens and refuses new ones.
  const third = await s.call('POST', '/api/devices/dev-b/enrolment-tokens', {});
  t.equal((await s.call('POST', '/api/devices/dev-b/revoke')).status, 200);
  t.match(await s.device('/enrol', s.enrolRequest(third.body.token as string)), {
    status: 410,
    body: { error: 'E_TOKEN_REVOKED' },
  });
  t.match(await s.call('POST', '/api/devices/dev-b/enrolment-tokens', {}), {
    status: 409,
    body: { error: 'E_DEVICE_REVOKED' },
  });
  t.same(s.rows('SELECT * FROM device_keys'), [], 'no refusal wrote keys');
  t.same(s.rows('SELECT * FROM tunnel_addresses'), [], 'nor allocated an address');
  t.same(s.rows('SELECT sum(uses) AS n FROM enrolment_tokens'), [{ n: 0 }], 'nor used a token');
  t.same(s.concentrator.calls, []);
});

t.test('two concurrent enrolments with a one-use token: exactly one wins', async (t) => {
  const s = await start(t);
  const ticket = await s.add('dev-c');
  const results = await Promise.all(
    Array.from({ length: 4 }, () => s.device('/enrol', s.enrolRequest(ticket))),
  );
  t.same(results.map((r) => r.status).sort(), [200, 409, 409, 409], 'one 200, the others E_TOKEN_USED');
  t.equal(s.rows('SELECT * FROM device_keys').length, 1);
  t.equal(s.rows('SELECT * FROM tunnel_addresses').length, 1);
  t.equal(s.concentrator.calls.length, 1);
});

t.test('tunnel addresses are unique and never given twice, revoked devices included', async (t) => {
  const s = await start(t);
  const one = await s.enrol(await s.add('dev-1'));
  const two = await s.enrol(await s.add('dev-2'));
  t.equal(one.grant.tunnel.address, '10.77.0.2');
  t.equal(two.grant.tunnel.address, '10.77.0.3');

  const revoked = await s.call('POST', '/api/devices/dev-2/revoke');
  t.equal(revoked.status, 200);
  t.same(s.concentrator.calls.at(-1), { op: 'removePeer', wgPublicKey: two.wg }, 'its peer is removed');
  t.same(s.denied, ['10.77.0.3'], 'its tunnel address goes to the deny hook');
  t.match(await s.renew('dev-2', two.key), { status: 403, body: { error: 'E_DEVICE_REVOKED' } });

  // A WireGuard key another device holds (a revoked one included) is refused, nothing written.
  const ticket = await s.add('dev-3');
  t.match(await s.device('/enrol', s.enrolRequest(ticket, generateSigner(), two.wg)), {
    status: 409,
    body: { error: 'E_KEY_IN_USE' },
  });
  t.equal(s.rows('SELECT * FROM tunnel_addresses').length, 2, 'no address allocated by the refusal');
  const three = await s.enrol(ticket);
  t.equal(three.grant.tunnel.address, '10.77.0.4', 'a new address, not the revoked device’s');

  const bulk = await s.call('POST', '/api/devices/revoke', { ids: ['dev-1', 'dev-3'] });
  t.same(bulk.body.revoked, ['dev-1', 'dev-3']);
  t.same(s.denied, ['10.77.0.3', '10.77.0.2', '10.77.0.4']);
  t.match(s.concentrator.calls.slice(-2), [
    { op: 'removePeer', wgPublicKey: one.wg },
    { op: 'removePeer', wgPublicKey: three.wg },
  ]);
  const four = await s.enrol(await s.add('dev-4'));
  t.equal(four.grant.tunnel.address, '10.77.0.5');
  const all = s.rows('SELECT address FROM tunnel_addresses ORDER BY address') as { address: string }[];
  t.same(
    all.map((r) => r.address),
    ['10.77.0.2', '10.77.0.3', '10.77.0.4', '10.77.0.5'],
  );
});

t.test('an exhausted pool refuses the enrolment and writes nothing', async (t) => {
  const s = await start(t, {
    enrolment: config({ tunnelPool: '10.9.0.0/29', tunnelGatewayUrl: 'ws://10.9.0.1:8080/' }),
  });
  const got: string[] = [];
  for (let i = 0; i < 5; i++) got.push((await s.enrol(await s.add(`pool-${i}`))).grant.tunnel.address);
  t.same(got, ['10.9.0.2', '10.9.0.3', '10.9.0.4', '10.9.0.5', '10.9.0.6'], 'the hub is .1, broadcast .7');
  const ticket = await s.add('pool-5');
  t.same(await s.device('/enrol', s.enrolRequest(ticket)), {
    status: 503,
    body: {
      error: 'E_POOL_EXHAUSTED',
      message: 'the tunnel pool 10.9.0.0/29 has no address left that was never given',
    },
  });
  t.equal(s.rows('SELECT * FROM tunnel_addresses').length, 5);
  t.same(s.rows("SELECT uses FROM enrolment_tokens WHERE device_id = 'pool-5'"), [{ uses: 0 }]);
  t.same(s.rows("SELECT * FROM device_keys WHERE device_id = 'pool-5'"), []);
  t.equal(s.concentrator.calls.length, 5);
});

t.test('bad admin input: clear errors, nothing half-written', async (t) => {
  const s = await start(t);
  await s.add('dev-d');
  t.same(await s.call('POST', '/api/enrolments', { id: 'dev-d' }), {
    status: 409,
    body: { error: 'E_DEVICE_EXISTS', message: 'device dev-d already exists' },
  });
  t.same(await s.call('POST', '/api/enrolments', { id: 'dev-e', scope: 'everyone' }), {
    status: 400,
    body: { error: 'E_INVALID', message: 'scope: scope: family, beta or mandate:<name>' },
  });
  t.same(await s.call('POST', '/api/enrolments', { id: 'dev-f', tokenUses: 101 }), {
    status: 400,
    body: { error: 'E_INVALID', message: 'tokenUses: Too big: expected number to be <=100' },
  });
  t.match(await s.call('POST', '/api/enrolments', { id: 'dev-f', tokenTtlMs: 91 * DAY }), {
    status: 400,
    body: { error: 'E_INVALID', message: /^tokenTtlMs: / },
  });
  t.same(
    (s.rows('SELECT id FROM devices ORDER BY id') as { id: string }[]).map((r) => r.id),
    ['dev-d'],
    'no device from a refused request',
  );
  t.equal(s.rows('SELECT * FROM enrolment_tokens').length, 1, 'and no token');
  t.same(
    ((await s.call('GET', '/api/devices')).body.devices as { id: string }[]).map((d) => d.id),
    ['dev-d'],
  );

  // The offline path: the admin registers the public keys.
  t.equal((await s.call('POST', '/api/devices', { id: 'dev-g', scope: 'beta' })).status, 201);
  t.match(await s.call('POST', '/api/devices/dev-g/keys', { wgPublicKey: 'short', devicePublicKey: 'x' }), {
    status: 400,
    body: { error: 'E_INVALID', message: /^wgPublicKey: a WireGuard public key/ },
  });
  const key = generateSigner();
  const wg = wgKey();
  const reg = await s.call('POST', '/api/devices/dev-g/keys', {
    wgPublicKey: wg,
    devicePublicKey: publicKeyOf(key),
  });
  t.equal(reg.status, 200);
  const grant = EnrolmentGrant.parse(reg.body);
  t.match(grant, { deviceId: 'dev-g', profile: 'beta', tunnel: { address: '10.77.0.2' } });
  t.equal(readDeviceToken(grant.credential, s.tokenKeys).cnf, publicKeyOf(key));
  t.match(
    await s.call('POST', '/api/devices/dev-d/keys', {
      wgPublicKey: wg,
      devicePublicKey: publicKeyOf(generateSigner()),
    }),
    {
      status: 409,
      body: { error: 'E_KEY_IN_USE' },
    },
  );
  t.match(
    await s.call('POST', '/api/devices/nope/keys', {
      wgPublicKey: wgKey(),
      devicePublicKey: publicKeyOf(key),
    }),
    {
      status: 404,
      body: { error: 'E_DEVICE_UNKNOWN' },
    },
  );
  t.equal((await s.renew('dev-g', key)).status, 200, 'the registered key renews');
  t.equal(s.rows('SELECT * FROM tunnel_addresses').length, 1);

  // A device the admin has not registered yet is registered with the scope given, in one call;
  // keys that would be refused leave no device behind.
  t.match(
    await s.call('POST', '/api/devices/dev-h/keys', {
      wgPublicKey: wg,
      devicePublicKey: publicKeyOf(generateSigner()),
      scope: 'family',
    }),
    { status: 409, body: { error: 'E_KEY_IN_USE' } },
  );
  t.notOk(
    ((await s.call('GET', '/api/devices')).body.devices as { id: string }[]).some((d) => d.id === 'dev-h'),
    'no device was registered for refused keys',
  );
  const fresh = generateSigner();
  const created = await s.call('POST', '/api/devices/dev-h/keys', {
    wgPublicKey: wgKey(),
    devicePublicKey: publicKeyOf(fresh),
    scope: 'mandate:acme',
    label: 'flashed in batch 3',
  });
  t.equal(created.status, 200);
  t.match(EnrolmentGrant.parse(created.body), { deviceId: 'dev-h', profile: 'mandate:acme' });
  t.match(
    await s.call('POST', '/api/devices/dev-h/keys', {
      wgPublicKey: wgKey(),
      devicePublicKey: publicKeyOf(generateSigner()),
      scope: 'family',
    }),
    { status: 400, body: { error: 'E_INVALID', message: /registered as mandate:acme/ } },
    'another scope for an existing device is refused',
  );
});

t.test('without the enrolment settings, enrolment is disabled', async (t) => {
  const s = await start(t, { enrolment: undefined });
  t.same(await s.call('POST', '/api/enrolments', { id: 'dev-h' }), {
    status: 409,
    body: {
      error: 'E_ENROLMENT_DISABLED',
      message:
        'enrolment is not configured on this control server: give --enrol-url, --enrol-cert, --tunnel-pool, --tunnel-endpoint, --tunnel-public-key and --tunnel-gateway-url',
    },
  });
  t.match(await s.device('/enrol', {}), { status: 503, body: { error: 'E_ENROLMENT_DISABLED' } });
  t.match(await s.device('/renew', {}), { status: 503, body: { error: 'E_ENROLMENT_DISABLED' } });
  t.same(s.rows('SELECT * FROM devices'), []);
});

t.test('a bad enrolment configuration is refused at start, each issue naming its flag', async (t) => {
  await t.rejects(
    start(t, {
      enrolment: config({
        url: 'http://enrol.example.net',
        tunnelPool: '10.77.0.1/16',
        tunnelGatewayUrl: 'ws://10.77.0.9:8080/',
        signalKeys: [],
      }),
    }),
    {
      name: 'EnrolmentConfigError',
      issues: [
        '--enrol-url http://enrol.example.net: https://host[:port], without a path',
        /^--tunnel-pool 10\.77\.0\.1\/16: .*host bits set/,
        "--feed-key: required with enrolment (the datafeeds' keys are the signal keys devices pin)",
      ],
    },
  );
});

t.test('renewal: the key is the identity, an expired credential renews', async (t) => {
  const s = await start(t, { deviceTokenTtlMs: DAY });
  const { key } = await s.enrol(await s.add('dev-r'));
  const status = async () =>
    ((await s.call('GET', '/api/devices/dev-r')).body.device as { enrolment: { renewal: string } }).enrolment
      .renewal;
  t.equal(await status(), 'ok');
  s.clock.now += 0.7 * DAY;
  t.equal(await status(), 'due');
  s.clock.now += 0.1 * DAY;
  t.equal(await status(), 'overdue');
  const fleet = await s.call('GET', '/api/fleet');
  t.match(fleet.body.devices, [{ id: 'dev-r', renewal: 'overdue', credentialExpiresAt: Number }]);
  s.clock.now += 2 * DAY;
  t.equal(await status(), 'expired');
  t.match((await s.call('GET', '/api/devices')).body.devices, [
    { id: 'dev-r', enrolment: { renewal: 'expired' } },
  ]);

  const res = await s.renew('dev-r', key);
  t.equal(res.status, 200, res.status === 200 ? 'answered' : JSON.stringify(res.body));
  const grant = RenewalGrant.parse(res.body);
  t.same(
    { ...grant, credential: '' },
    { deviceId: 'dev-r', credential: '', credentialExpiresAt: s.clock.now + DAY, rotateKeys: false },
  );
  t.match(readDeviceToken(grant.credential, s.tokenKeys), {
    sub: 'dev-r',
    cnf: publicKeyOf(key),
    iat: s.clock.now,
  });
  t.match((await s.call('GET', '/api/devices/dev-r')).body.device, {
    enrolment: { renewal: 'ok', lastRenewedAt: s.clock.now, renewals: 1 },
  });

  const stranger = generateSigner();
  t.same(await s.renew('dev-r', stranger), {
    status: 401,
    body: {
      error: 'E_UNKNOWN_KEY',
      message: `device request signed with key ${stranger.kid}, not one registered for the device`,
    },
  });
  t.match(await s.renew('dev-nobody', key), { status: 401, body: { error: 'E_UNKNOWN_KEY' } });
  const forged = signDeviceRequest<RenewRequest>({ typ: 'renew', deviceId: 'dev-r' }, stranger, s.clock.now);
  t.match(await s.device('/renew', { ...forged, kid: key.kid }), {
    status: 401,
    body: { error: 'E_BAD_SIGNATURE' },
  });

  t.equal((await s.call('POST', '/api/devices/dev-r/revoke')).status, 200);
  t.same(await s.renew('dev-r', key), {
    status: 403,
    body: { error: 'E_DEVICE_REVOKED', message: 'device dev-r is revoked' },
  });
  t.equal(s.rows("SELECT renewals FROM device_keys WHERE device_id = 'dev-r'").length, 1);
  t.same(s.rows("SELECT renewals FROM device_keys WHERE device_id = 'dev-r'"), [{ renewals: 1 }]);
});

t.test('rotation: both signatures, the peer swapped, the old key good for the overlap only', async (t) => {
  const s = await start(t, { keyOverlapMs: 10 * 60_000 });
  const old = await s.enrol(await s.add('dev-k'));
  const enrolledAt = s.clock.now;
  s.clock.now += 1_000;
  t.match(await s.call('POST', '/api/devices/nope/rotate-keys'), { status: 404 });
  const ordered = await s.call('POST', '/api/devices/dev-k/rotate-keys');
  t.match(ordered, { status: 200, body: { enrolment: { rotation: { state: 'requested' } } } });
  const renewed = await s.renew('dev-k', old.key);
  t.equal(RenewalGrant.parse(renewed.body).rotateKeys, true, 'the device learns it at renewal');

  const next = generateSigner();
  const nextWg = wgKey();
  const rotation = (signer: Signer, newKey: Signer) =>
    signDeviceRequest<RotateRequest>(
      { typ: 'rotate', deviceId: 'dev-k', wgPublicKey: nextWg, devicePublicKey: publicKeyOf(next) },
      signer,
      s.clock.now,
      newKey,
    );
  // The new key's signature must be the new key's; the old one's, the registered key's.
  t.match(await s.device('/rotate', rotation(old.key, generateSigner())), {
    status: 401,
    body: { error: 'E_BAD_SIGNATURE' },
  });
  t.match(await s.device('/rotate', rotation(generateSigner(), next)), {
    status: 401,
    body: { error: 'E_UNKNOWN_KEY' },
  });
  t.equal(s.concentrator.calls.length, 1, 'refused rotations change no peer');

  const res = await s.device('/rotate', rotation(old.key, next));
  t.equal(res.status, 200, res.status === 200 ? 'answered' : JSON.stringify(res.body));
  const grant = EnrolmentGrant.parse(res.body);
  t.equal(grant.tunnel.address, old.grant.tunnel.address, 'the device keeps its address');
  t.equal(readDeviceToken(grant.credential, s.tokenKeys).cnf, publicKeyOf(next), 'bound to the new key');
  t.same(s.concentrator.calls, [
    { op: 'addPeer', wgPublicKey: old.wg, address: '10.77.0.2' },
    { op: 'swapPeer', oldKey: old.wg, newKey: nextWg, address: '10.77.0.2' },
  ]);
  t.match((await s.call('GET', '/api/devices/dev-k')).body.device, {
    enrolment: {
      wgPublicKey: nextWg,
      deviceKid: next.kid,
      enrolledAt,
      rotation: {
        state: 'completed',
        retiredKeys: [{ kid: old.key.kid, validUntil: s.clock.now + 600_000 }],
      },
    },
  });
  t.equal(RenewalGrant.parse((await s.renew('dev-k', next)).body).rotateKeys, false);

  const revocations: { devices: string[]; keys?: string[] }[] = [];
  await s.bus.subscribe({
    topic: TOPICS.control,
    from: 'latest',
    onMessage: (m) => {
      const c = verifyControl(JSON.parse(m.value.toString()), s.tokenKeys, { now: s.clock.now });
      if (c.kind === 'revocation') revocations.push(c.body);
    },
  });

  s.clock.now += 5 * 60_000;
  t.equal((await s.renew('dev-k', old.key)).status, 200, 'the old key renews within the overlap');
  await s.server.control.refresh();
  await waitFor(() => revocations.length > 0, 'a revocation message');
  t.same(revocations.at(-1), { devices: [] }, 'not published while the overlap lasts');

  s.clock.now += 5 * 60_000;
  t.match(await s.renew('dev-k', old.key), { status: 401, body: { error: 'E_UNKNOWN_KEY' } });
  t.equal((await s.renew('dev-k', next)).status, 200);
  await s.server.control.refresh();
  await waitFor(() => revocations.at(-1)?.keys !== undefined, 'the retired key in the revocation message');
  t.same(revocations.at(-1), { devices: [], keys: [old.key.kid] });

  // The old key cannot rotate again; a revoked device cannot rotate.
  const again = signDeviceRequest<RotateRequest>(
    {
      typ: 'rotate',
      deviceId: 'dev-k',
      wgPublicKey: wgKey(),
      devicePublicKey: publicKeyOf(generateSigner()),
    },
    old.key,
    s.clock.now,
    generateSigner(),
  );
  t.match(await s.device('/rotate', again), { status: 401, body: { error: 'E_UNKNOWN_KEY' } });
  t.equal((await s.call('POST', '/api/devices/dev-k/revoke')).status, 200);
  t.same(s.concentrator.calls.at(-1), { op: 'removePeer', wgPublicKey: nextWg });
  const newer = generateSigner();
  const late = signDeviceRequest<RotateRequest>(
    { typ: 'rotate', deviceId: 'dev-k', wgPublicKey: wgKey(), devicePublicKey: publicKeyOf(newer) },
    next,
    s.clock.now,
    newer,
  );
  t.match(await s.device('/rotate', late), { status: 403, body: { error: 'E_DEVICE_REVOKED' } });
  t.match(await s.call('POST', '/api/devices/dev-k/rotate-keys'), {
    status: 409,
    body: { error: 'E_DEVICE_REVOKED' },
  });
});

t.test('a re-flashed device enrols again with a new token: same address, new keys', async (t) => {
  const s = await start(t);
  const first = await s.enrol(await s.add('dev-z'));
  const more = await s.call('POST', '/api/devices/dev-z/enrolment-tokens', {});
  t.equal(more.status, 201);
  // Through HAProxy, under the enrolment URL's name: that Host is allowed.
  const res = await rawRequest(
    s.url,
    'POST',
    '/enrol',
    { host: 'enrol.example.net:8443' },
    s.enrolRequest(more.body.token as string),
  );
  t.equal(res.status, 200, res.status === 200 ? 'answered' : res.text);
  const grant = EnrolmentGrant.parse(res.json);
  t.equal(grant.tunnel.address, first.grant.tunnel.address, 'it keeps its own address');
  const wg = (
    s.rows("SELECT wg_public_key FROM device_keys WHERE device_id = 'dev-z'") as { wg_public_key: string }[]
  )[0]!.wg_public_key;
  t.same(s.concentrator.calls.at(-1), { op: 'swapPeer', oldKey: first.wg, newKey: wg, address: '10.77.0.2' });
  t.match(
    await s.renew('dev-z', first.key),
    { status: 401, body: { error: 'E_UNKNOWN_KEY' } },
    'the old key is gone',
  );
  t.same(s.server.enrolment.revokedKeyIds(), [first.key.kid], 'and published as revoked at once');
  t.equal(s.rows('SELECT * FROM tunnel_addresses').length, 1);
});

t.test('at start, a configured concentrator gets every active peer back', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'cs-enrol-'));
  const first = await start(t, { dataDir });
  const a = await first.enrol(await first.add('dev-x'));
  const b = await first.enrol(await first.add('dev-y'));
  await first.call('POST', '/api/devices/dev-y/revoke');
  const concentrator = new RecordingConcentrator();
  await start(t, { dataDir, concentrator });
  t.same(concentrator.calls, [
    { op: 'setPeers', add: [{ wgPublicKey: a.wg, address: '10.77.0.2' }], remove: [b.wg] },
  ]);
});
