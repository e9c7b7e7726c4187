import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import pino from 'pino';
import {
  EmbeddedBus,
  KeyRing,
  TOPICS,
  exportPublicKey,
  generateSigner,
  verifyControl,
  verifyDeviceToken,
  type Control,
} from '@appliance/protocol';
import { waitFor } from '@appliance/test-kit';
import { CentralPolicy } from '@appliance/trading-core';
import { startControlServer } from '../src/index.js';
import { NO_ELIGIBILITY_WARNING } from '../src/control-publisher.js';
import { DATABASE_FILE } from '../src/store/database.js';

const logger = pino({ level: 'silent' });
const ADMIN = 'admin-token-0123456789';

async function setup(t: Test, dataDir?: string) {
  const bus = new EmbeddedBus();
  const signer = generateSigner();
  const server = await startControlServer({
    bus,
    signer,
    adminToken: ADMIN,
    logger,
    dataDir,
    eligibility: { 'ema.1h': ['BTC/USDT'] },
    onlineWindowMs: 60_000,
  });
  const url = await server.listen(0);
  t.teardown(() => server.close());
  const call = async (method: string, path: string, body?: unknown, token = ADMIN) => {
    const res = await fetch(url + path, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json().catch(() => null)) as Record<string, unknown> };
  };
  return { bus, signer, server, url, call };
}

t.test('every API route needs the admin token; health and the dashboard do not', async (t) => {
  const { call, url } = await setup(t);
  t.same(await call('GET', '/api/fleet', undefined, 'wrong'), {
    status: 401,
    body: { error: 'E_UNAUTHORIZED', message: 'admin token required (Authorization: Bearer ...)' },
  });
  t.equal((await call('POST', '/api/devices', { id: 'dev-1' }, '')).status, 401);
  t.equal((await fetch(url + '/healthz')).status, 200);
  const page = await fetch(url + '/');
  t.equal(page.status, 200);
  t.match(await page.text(), /<title>Signal appliance — fleet<\/title>/);
});

t.test('a device is registered once and gets a token that verifies with the published key', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cs-'));
  const { call, signer, server } = await setup(t, dir);
  const created = await call('POST', '/api/devices', { id: 'dev-1', label: 'Grandma' });
  t.equal(created.status, 201);
  t.match(created.body, {
    device: { id: 'dev-1', scope: 'family', label: 'Grandma' },
    tokenKey: exportPublicKey(signer.publicKey),
  });
  const claims = verifyDeviceToken(
    created.body.token as string,
    KeyRing.of(created.body.tokenKey as string),
    Date.now(),
  );
  t.match(claims, { sub: 'dev-1', scope: 'family' });
  t.same(await call('POST', '/api/devices', { id: 'dev-1' }), {
    status: 409,
    body: { error: 'E_DEVICE_EXISTS', message: 'device dev-1 already exists' },
  });
  t.same(
    server.store.db.prepare('SELECT id, label FROM devices').all(),
    [{ id: 'dev-1', label: 'Grandma' }],
    'written to the database',
  );
  t.ok(existsSync(join(dir, DATABASE_FILE)), `in ${DATABASE_FILE} in the data folder`);
  const again = await call('POST', '/api/devices/dev-1/token');
  t.equal(again.status, 200);
  t.equal(
    verifyDeviceToken(again.body.token as string, KeyRing.of(exportPublicKey(signer.publicKey)), Date.now())
      .sub,
    'dev-1',
  );
  t.same(await call('POST', '/api/devices/nope/token'), {
    status: 404,
    body: { error: 'E_DEVICE_UNKNOWN', message: 'no device nope' },
  });
});

t.test('bad device registrations get a clear 400 and change nothing', async (t) => {
  const { call } = await setup(t);
  t.same(await call('POST', '/api/devices', {}), {
    status: 400,
    body: { error: 'E_INVALID', message: 'id: a string is required' },
  });
  t.same(await call('POST', '/api/devices', { id: 'Bad Id!' }), {
    status: 400,
    body: { error: 'E_INVALID', message: 'id: device id: 3-64 lowercase letters, digits and -' },
  });
  t.same(await call('POST', '/api/devices', { id: 'dev-2', scope: 'everyone' }), {
    status: 400,
    body: { error: 'E_INVALID', message: 'scope: scope: family, beta or mandate:<name>' },
  });
  t.same((await call('GET', '/api/devices')).body, { devices: [] });
});

t.test('the fleet view shows devices online from telemetry, with their fills', async (t) => {
  const { call, bus } = await setup(t);
  await call('POST', '/api/devices', { id: 'dev-1' });
  await call('POST', '/api/devices', { id: 'dev-2' });
  const telemetry = {
    type: 'telemetry',
    deviceId: 'dev-1',
    ts: Date.now(),
    quote: 'USDT',
    equity: 1000,
    cash: 900,
    positions: { BTC: 0.01 },
    spendToday: 100,
    fills: 3,
    lastDecisions: [],
    errors: [],
    scope: 'family',
    gateway: 'gw-1',
    remote: '127.0.0.1',
    receivedAt: Date.now(),
  };
  await bus.publish(TOPICS.telemetry, [{ key: 'dev-1', value: JSON.stringify(telemetry) }]);
  await waitFor(
    async () => ((await call('GET', '/api/fleet')).body.devices as { online: boolean }[])[0]!.online,
    'dev-1 online',
  );
  const fleet = (await call('GET', '/api/fleet')).body;
  t.match(fleet, {
    breaker: { level: 'normal' },
    devices: [
      { id: 'dev-1', online: true, fills: 3, equity: 1000, gateway: 'gw-1', lastSeen: Number },
      { id: 'dev-2', online: false, fills: 0, lastSeen: null },
    ],
  });
});

t.test(
  'signed control state is published: breaker, eligibility, the family policy and heartbeats',
  async (t) => {
    const { bus, signer } = await setup(t);
    const seen: Control[] = [];
    await bus.subscribe({
      topic: TOPICS.control,
      from: 'earliest',
      onMessage: (m) =>
        void seen.push(
          verifyControl(JSON.parse(m.value.toString()), KeyRing.of(exportPublicKey(signer.publicKey)), {
            now: Date.now(),
          }),
        ),
    });
    await waitFor(() => seen.length >= 5, 'the start-up control messages');
    t.same(
      seen.slice(0, 5).map((c) => c.kind),
      ['breaker', 'eligibility', 'revocation', 'policy', 'heartbeat'],
      'the heartbeat comes last',
    );
    const policy = seen.find((c) => c.kind === 'policy');
    t.match(policy, {
      body: { profile: 'family', policy: { schema: 1, maxDrawdownPct: 0.25, maxExposurePct: 0.1 } },
    });
    t.ok(
      CentralPolicy.safeParse(policy?.kind === 'policy' && policy.body.policy).success,
      'devices can read it',
    );
    t.match(
      seen.find((c) => c.kind === 'eligibility'),
      { body: { stream: 'ema.1h', symbols: ['BTC/USDT'] } },
    );
    const versions = seen.map((c) => c.version);
    t.same(
      [...versions].sort((a, b) => a - b),
      versions,
      'versions only grow',
    );
  },
);

t.test('revoking a device publishes the signed revocation list and stops its tokens', async (t) => {
  const { call, bus, signer } = await setup(t);
  await call('POST', '/api/devices', { id: 'dev-1' });
  await call('POST', '/api/devices', { id: 'dev-2' });
  const lists: string[][] = [];
  await bus.subscribe({
    topic: TOPICS.control,
    from: 'latest',
    onMessage: (m) => {
      const c = verifyControl(JSON.parse(m.value.toString()), KeyRing.of(exportPublicKey(signer.publicKey)), {
        now: Date.now(),
      });
      if (c.kind === 'revocation') lists.push(c.body.devices);
    },
  });
  const res = await call('POST', '/api/devices/dev-2/revoke');
  t.equal(res.status, 200);
  t.match(res.body, { device: { id: 'dev-2', revokedAt: Number } });
  await waitFor(() => lists.some((l) => l.includes('dev-2')), 'the revocation list');
  t.same(
    lists.find((l) => l.includes('dev-2')),
    ['dev-2'],
  );
  t.same(await call('POST', '/api/devices/dev-2/token'), {
    status: 409,
    body: { error: 'E_DEVICE_REVOKED', message: 'device dev-2 is revoked' },
  });
  t.equal((await call('POST', '/api/devices/dev-1/token')).status, 200, 'other devices are unaffected');
  t.same(await call('POST', '/api/devices/nope/revoke'), {
    status: 404,
    body: { error: 'E_DEVICE_UNKNOWN', message: 'no device nope' },
  });
});

t.test(
  'without eligibility every buy is refused, and the server says so at start and in the fleet view',
  async (t) => {
    const lines: { level: number; msg: string }[] = [];
    const bus = new EmbeddedBus();
    const server = await startControlServer({
      bus,
      signer: generateSigner(),
      adminToken: ADMIN,
      logger: pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l)) }),
      paper: false,
    });
    const url = await server.listen(0);
    t.teardown(() => server.close());
    const fleet = async () =>
      (await (await fetch(`${url}/api/fleet`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as {
        eligibility: { streams: Record<string, string[]>; warning: string | null };
      };
    const warned = lines.filter((l) => l.level === 40 && l.msg.startsWith('NO ELIGIBILITY: '));
    t.equal(warned.length, 1, 'one warning at start');
    t.equal(warned[0]!.msg, `NO ELIGIBILITY: ${NO_ELIGIBILITY_WARNING}`);
    t.same((await fleet()).eligibility, { streams: {}, warning: NO_ELIGIBILITY_WARNING });

    // A stream published with no symbols is still nothing to buy.
    await server.control.publishEligibility('ema.1h', []);
    t.equal((await fleet()).eligibility.warning, NO_ELIGIBILITY_WARNING);
    await server.control.publishEligibility('ema.1h', ['BTC/USDT']);
    t.same((await fleet()).eligibility, { streams: { 'ema.1h': ['BTC/USDT'] }, warning: null });
  },
);

t.test('with eligibility there is no warning', async (t) => {
  const { call } = await setup(t);
  t.same((await call('GET', '/api/fleet')).body.eligibility, {
    streams: { 'ema.1h': ['BTC/USDT'] },
    warning: null,
  });
});
