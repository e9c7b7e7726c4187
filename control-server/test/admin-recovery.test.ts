// After a bypass (issue 8): the operator can see every device, token and paper account with
// when and from where it was made, revoke what the intruder made in bulk, and rotate the admin
// token without a restart.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { KeyRing, TOPICS, exportPublicKey, verifyControl } from '@appliance/protocol';
import { waitFor } from '@appliance/test-kit';
import { AdminTokenError, DeviceRegistry, startControlServer } from '../src/index.js';
import { DATABASE_FILE, Store } from '../src/store/database.js';
import { importDataFiles } from '../src/store/import-files.js';
import { ADMIN, logger, rawRequest, setup } from './helpers.js';

const UA = { 'user-agent': 'incident-test/1.0' };
const fingerprint = (token: string) => createHash('sha256').update(token).digest('hex').slice(0, 16);

t.test('the registry shows when and from where each device, token and paper account was made', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cs-audit-'));
  let clock = Date.now();
  const { call, server, url } = await setup(t, { dataDir: dir, now: () => clock });
  const created = await call('POST', '/api/devices', { id: 'dev-1' }, ADMIN, UA);
  t.equal(created.status, 201);
  const createdAt = clock;
  clock += 1000;
  // An 8-bit CSI (0x9b) would recolour the operator's terminal if printed as it came.
  const again = await rawRequest(url, 'POST', '/api/devices/dev-1/token', {
    authorization: `Bearer ${ADMIN}`,
    'user-agent': 'curl/8.0 \u009b31m',
  });
  t.equal(again.status, 200);
  clock += 1000;
  const paper = await call('POST', '/api/devices/dev-1/paper-account', undefined, ADMIN, UA);
  t.equal(paper.status, 201);

  const { body } = await call('GET', '/api/devices');
  t.same(body, {
    devices: [
      {
        id: 'dev-1',
        scope: 'family',
        label: '',
        createdAt,
        createdFrom: { remote: '127.0.0.1', userAgent: 'incident-test/1.0' },
        tokens: [
          {
            issuedAt: createdAt,
            expiresAt: createdAt + 30 * 24 * 3600 * 1000,
            fingerprint: fingerprint(created.body.token as string),
            from: { remote: '127.0.0.1', userAgent: 'incident-test/1.0' },
          },
          {
            issuedAt: createdAt + 1000,
            expiresAt: createdAt + 1000 + 30 * 24 * 3600 * 1000,
            fingerprint: fingerprint(again.json?.token as string),
            from: { remote: '127.0.0.1', userAgent: 'curl/8.0 ?31m' },
          },
        ],
        paperAccounts: [
          {
            createdAt: createdAt + 2000,
            apiKeyPrefix: (paper.body.apiKey as string).slice(0, 4),
            from: { remote: '127.0.0.1', userAgent: 'incident-test/1.0' },
          },
        ],
      },
    ],
  });
  await server.close();
  t.notMatch(
    readFileSync(join(dir, DATABASE_FILE), 'latin1'),
    created.body.token as string,
    'no token on disk',
  );
  const store = Store.open(join(dir, DATABASE_FILE));
  t.teardown(() => store.close());
  const reopened = await DeviceRegistry.open(store);
  t.same(reopened.list(), body.devices, 'kept across a restart');
});

t.test('a registry file written before the audit fields is still imported', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cs-audit-'));
  writeFileSync(
    join(dir, 'devices.json'),
    JSON.stringify({ v: 1, devices: [{ id: 'old-1', scope: 'family', label: 'x', createdAt: 5 }] }),
  );
  const store = Store.open(join(dir, DATABASE_FILE));
  t.teardown(() => store.close());
  await importDataFiles(store, dir, () => undefined);
  const reg = await DeviceRegistry.open(store);
  t.same(reg.list(), [
    { id: 'old-1', scope: 'family', label: 'x', createdAt: 5, tokens: [], paperAccounts: [] },
  ]);
});

t.test('what an intruder made is revoked in bulk: by id, by creation time, by token time', async (t) => {
  let clock = Date.now();
  const { call, bus, signer } = await setup(t, { now: () => clock });
  await call('POST', '/api/devices', { id: 'home-1' });
  await call('POST', '/api/devices', { id: 'home-2' });
  await call('POST', '/api/devices', { id: 'home-3' });
  clock += 60_000;
  const bypass = clock;
  // The intruder registers a device and takes a fresh token for a genuine one.
  await call('POST', '/api/devices', { id: 'evil-1' });
  await call('POST', '/api/devices/home-2/token');

  const lists: string[][] = [];
  await bus.subscribe({
    topic: TOPICS.control,
    from: 'latest',
    onMessage: (m) => {
      const c = verifyControl(JSON.parse(m.value.toString()), KeyRing.of(exportPublicKey(signer.publicKey)), {
        now: clock,
      });
      if (c.kind === 'revocation') lists.push(c.body.devices);
    },
  });

  const dry = await call('POST', '/api/devices/revoke', {
    createdAfter: bypass,
    tokenIssuedAfter: bypass,
    dryRun: true,
  });
  t.same(dry, {
    status: 200,
    body: { dryRun: true, revoked: ['evil-1', 'home-2'], alreadyRevoked: [], unknown: [] },
  });
  t.same(
    ((await call('GET', '/api/devices')).body.devices as { revokedAt?: number }[]).filter((d) => d.revokedAt),
    [],
    'a dry run changes nothing',
  );

  clock += 1000;
  const res = await call('POST', '/api/devices/revoke', { createdAfter: bypass, tokenIssuedAfter: bypass });
  t.same(res, {
    status: 200,
    body: { dryRun: false, revoked: ['evil-1', 'home-2'], alreadyRevoked: [], unknown: [] },
  });
  await waitFor(() => lists.some((l) => l.includes('evil-1')), 'the signed revocation list');
  t.same(lists.at(-1), ['evil-1', 'home-2']);
  for (const id of ['evil-1', 'home-2'])
    t.equal((await call('POST', `/api/devices/${id}/token`)).status, 409, `${id} gets no new token`);
  t.equal((await call('POST', '/api/devices/home-1/token')).status, 200, 'the others keep theirs');
  const devices = (await call('GET', '/api/devices')).body.devices as { id: string; revokedFrom?: object }[];
  t.match(
    devices.find((d) => d.id === 'evil-1'),
    { revokedAt: clock, revokedFrom: { remote: '127.0.0.1' } },
  );

  t.same(await call('POST', '/api/devices/revoke', { ids: ['home-3', 'evil-1', 'nope'] }), {
    status: 200,
    body: { dryRun: false, revoked: ['home-3'], alreadyRevoked: ['evil-1'], unknown: ['nope'] },
  });
  t.same(await call('POST', '/api/devices/revoke', {}), {
    status: 400,
    body: { error: 'E_INVALID', message: 'body: give ids, createdAfter or tokenIssuedAfter' },
  });
  t.match(await call('POST', '/api/devices/revoke', { ids: 'home-1' }), {
    status: 400,
    body: { error: 'E_INVALID', message: /^ids: / },
  });
  t.match(await call('POST', '/api/devices/revoke', { createdAfter: 'yesterday' }), {
    status: 400,
    body: { error: 'E_INVALID', message: /^createdAfter: / },
  });
});

t.test('a rotated admin token works at once, the old one stops, and a restart keeps it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cs-rotate-'));
  const first = await setup(t, { dataDir: dir });
  t.same((await first.call('GET', '/api/admin-token')).body, { source: 'env' });
  const res = await fetch(`${first.url}/api/admin-token/rotate`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN}`, ...UA },
  });
  t.equal(res.status, 200);
  t.equal(res.headers.get('cache-control'), 'no-store');
  const { token, rotatedAt } = (await res.json()) as { token: string; rotatedAt: number };
  t.match(token, /^[A-Za-z0-9_-]{43}$/);
  t.equal((await first.call('GET', '/api/fleet')).status, 401, 'the old token fails at once');
  t.equal((await first.call('GET', '/api/fleet', undefined, token)).status, 200, 'the new one works');
  t.same((await first.call('GET', '/api/admin-token', undefined, token)).body, {
    source: 'rotated',
    rotatedAt,
    rotatedFrom: { remote: '127.0.0.1', userAgent: 'incident-test/1.0' },
  });
  await first.server.close();
  t.notMatch(readFileSync(join(dir, DATABASE_FILE), 'latin1'), token, 'only a hash is kept');
  const store = Store.open(join(dir, DATABASE_FILE));
  t.match(store.db.prepare('SELECT sha256 FROM admin_token').all(), [
    { sha256: createHash('sha256').update(token).digest('hex') },
  ]);
  store.close();

  const restarted = await setup(t, { dataDir: dir });
  t.equal((await restarted.call('GET', '/api/fleet')).status, 401, 'CONTROL_ADMIN_TOKEN does not come back');
  t.equal((await restarted.call('GET', '/api/fleet', undefined, token)).status, 200, 'the rotated one stays');
  await restarted.server.close();

  const NEW_ENV = 'a-new-admin-token-from-the-operator';
  const replaced = await setup(t, { dataDir: dir }, NEW_ENV);
  t.equal((await replaced.call('GET', '/api/fleet', undefined, NEW_ENV)).status, 200, 'a new env token wins');
  t.equal((await replaced.call('GET', '/api/fleet', undefined, token)).status, 401);
  t.same((await replaced.call('GET', '/api/admin-token', undefined, NEW_ENV)).body, { source: 'env' });
});

t.test('a damaged admin token file stops the start with a clear error', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cs-rotate-'));
  writeFileSync(join(dir, 'admin-token.json'), '{"v":1,"sha256":"nope"}');
  const { EmbeddedBus, generateSigner } = await import('@appliance/protocol');
  const err = await startControlServer({
    bus: new EmbeddedBus(),
    signer: generateSigner(),
    adminToken: ADMIN,
    logger,
    dataDir: dir,
  }).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(err instanceof AdminTokenError);
  t.match(err, {
    code: 'E_ADMIN_TOKEN_CORRUPT',
    message: `admin token file ${join(dir, 'admin-token.json')} is unreadable (remove it to use CONTROL_ADMIN_TOKEN)`,
  });
});
