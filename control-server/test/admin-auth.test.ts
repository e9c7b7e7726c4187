// Finding 1 of issue 8: the admin API was open to anyone who percent-encoded the path
// (`GET /%61pi/fleet`), because the auth hook read the raw URL and the router the decoded one.
// Access is now decided on the route the router matched, and every route needs the token
// unless it is marked public.
import t from 'tap';
import { EmbeddedBus, KeyRing, generateSigner } from '@appliance/protocol';
import { AdminToken } from '../src/admin-auth.js';
import { HostAllowList } from '@appliance/runtime';
import { buildApp, routeTable } from '../src/app.js';
import { BreakerService } from '../src/breaker-service.js';
import { CommandService } from '../src/command-service.js';
import { EligibilityService } from '../src/eligibility.js';
import { PolicyService } from '../src/policy-service.js';
import { ControlPublisher, DeviceRegistry, FleetView } from '../src/index.js';
import { Store } from '../src/store/database.js';
import { ADMIN, logger, rawRequest, setup } from './helpers.js';

/** Every /api route, as an attacker would call it, with a body where it takes one. */
const API_CALLS: { method: string; path: string; body?: unknown }[] = [
  { method: 'GET', path: '/api/fleet' },
  { method: 'GET', path: '/api/devices' },
  { method: 'POST', path: '/api/devices', body: { id: 'evil-device' } },
  { method: 'POST', path: '/api/devices/revoke', body: { ids: ['demo-device'] } },
  { method: 'POST', path: '/api/devices/demo-device/token' },
  { method: 'POST', path: '/api/devices/demo-device/paper-account' },
  { method: 'POST', path: '/api/devices/demo-device/revoke' },
  { method: 'GET', path: '/api/admin-token' },
  { method: 'POST', path: '/api/admin-token/rotate' },
  { method: 'GET', path: '/api/eligibility' },
  { method: 'GET', path: '/api/breaker' },
  { method: 'GET', path: '/api/breaker/history' },
  {
    method: 'POST',
    path: '/api/breaker/overrides',
    body: { scope: 'market', level: 'normal', reason: 'attacker lifts a halt' },
  },
  { method: 'POST', path: '/api/breaker/overrides/clear', body: { scope: 'market' } },
  { method: 'GET', path: '/api/eligibility/history' },
  {
    method: 'POST',
    path: '/api/eligibility/overrides',
    body: { stream: 'ema.1h', symbol: 'BTC/USDT', mode: 'pin', reason: 'x' },
  },
  { method: 'POST', path: '/api/eligibility/pending/run-1~ema.1h/approve' },
  { method: 'POST', path: '/api/eligibility/pending/run-1~ema.1h/reject', body: { reason: 'x' } },
  { method: 'GET', path: '/api/policies' },
  { method: 'GET', path: '/api/policies/family' },
  { method: 'GET', path: '/api/policies/family/1' },
  { method: 'GET', path: '/api/policies/family/diff?from=1&to=1' },
  { method: 'POST', path: '/api/policies/family', body: { policy: { schema: 1 } } },
  { method: 'POST', path: '/api/policies/family/rollback', body: { to: 1 } },
  { method: 'GET', path: '/api/commands' },
  { method: 'GET', path: '/api/commands/cmd-0123456789' },
  {
    method: 'POST',
    path: '/api/commands',
    body: { action: 'flat', target: 'all', reason: 'attacker sells everything' },
  },
  { method: 'POST', path: '/api/commands/cmd-0123456789/confirm' },
];

/** Spellings of `/api/<rest>` that a router or a proxy might treat as the same path. */
const SPELLINGS: [string, (rest: string) => string][] = [
  ['encoded a', (r) => `/%61pi/${r}`],
  ['encoded i', (r) => `/ap%69/${r}`],
  ['encoded A, upper case', (r) => `/%41PI/${r}`],
  ['double-encoded a', (r) => `/%2561pi/${r}`],
  ['upper case', (r) => `/API/${r}`],
  ['mixed case', (r) => `/Api/${r}`],
  ['double leading slash', (r) => `//api/${r}`],
  ['dot-dot segment', (r) => `/api/../api/${r}`],
  ['encoded dot-dot', (r) => `/api/%2e%2e/api/${r}`],
  ['dot segment', (r) => `/./api/${r}`],
  ['trailing slash', (r) => `/api/${r}/`],
  ['double inner slash', (r) => `/api//${r}`],
  ['semicolon after api', (r) => `/api;/${r}`],
  ['semicolon parameter', (r) => `/api;x=1/${r}`],
  ['encoded slash after api', (r) => `/api%2f${r}`],
  ['encoded slash inside', (r) => `/api/${r.replace(/\//g, '%2F')}`],
  ['encoded leading slash', (r) => `/%2fapi/${r}`],
  ['backslash', (r) => `/api\\${r}`],
  ['NUL byte', (r) => `/api/${r}%00`],
  ['malformed encoding', (r) => `/api/%zz/${r}`],
  ['absolute form', (r) => `http://127.0.0.1/api/${r}`],
];

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'];

t.test('no spelling of an /api path and no method reaches a route without the admin token', async (t) => {
  const { server, url, call } = await setup(t);
  t.equal((await call('POST', '/api/devices', { id: 'demo-device' })).status, 201);
  const before = JSON.stringify(server.registry.list());

  // The attack as reported, first: each of these answered 200 with data before the fix.
  for (const path of ['/%61pi/fleet', '/ap%69/devices']) {
    const res = await rawRequest(url, 'GET', path);
    t.equal(res.status, 401, `GET ${path}`);
    t.same(res.json, {
      error: 'E_UNAUTHORIZED',
      message: 'admin token required (Authorization: Bearer ...)',
    });
  }
  const register = await rawRequest(url, 'POST', '/%61pi/devices', {}, { id: 'evil-device' });
  t.equal(register.status, 401, 'POST /%61pi/devices registers nothing');
  t.notMatch(register.text, /"token"/);

  let tried = 0;
  const refused = new Set([400, 401, 404]);
  for (const call of API_CALLS) {
    const rest = call.path.slice('/api/'.length);
    const paths: [string, string][] = [
      ['as is', call.path],
      ...SPELLINGS.map(([n, f]) => [n, f(rest)] as [string, string]),
    ];
    for (const [name, path] of paths) {
      for (const method of METHODS) {
        const body =
          method === 'POST' || method === 'PUT' || method === 'PATCH' ? (call.body ?? {}) : undefined;
        const res = await rawRequest(url, method, path, {}, body);
        tried++;
        if (!refused.has(res.status) || /"(devices|token|apiKey|secret)"/.test(res.text))
          t.fail(`${method} ${path} (${name}): ${res.status} ${res.text.slice(0, 120)}`);
        // With a wrong token too.
        const wrong = await rawRequest(url, method, path, { authorization: 'Bearer not-the-token' }, body);
        if (!refused.has(wrong.status)) t.fail(`${method} ${path} (${name}, wrong token): ${wrong.status}`);
      }
    }
  }
  t.ok(tried > 1000, `${tried} requests, each refused (400, 401 or 404)`);
  t.equal(JSON.stringify(server.registry.list()), before, 'nothing registered, issued, revoked or created');
  t.equal(server.policies.versions('family').versions.length, 1, 'no policy version created');
  t.same(server.commands.list().commands, [], 'no fleet command issued');
  t.equal((await call('GET', '/api/fleet')).status, 200, 'the admin token still works: it was not rotated');
});

t.test('the router matches one spelling of each path: options chosen, not defaults', async (t) => {
  const { url, call } = await setup(t);
  t.equal((await call('GET', '/api/fleet')).status, 200);
  for (const path of ['/API/fleet', '/api/fleet/', '//api/fleet', '/api;/fleet', '/api/fleet;x']) {
    const res = await rawRequest(url, 'GET', path, { authorization: `Bearer ${ADMIN}` });
    t.same(
      [res.status, res.json],
      [404, { error: 'E_NOT_FOUND', message: 'no such route' }],
      `${path} is another path, even with the token`,
    );
  }
  const head = await rawRequest(url, 'HEAD', '/api/fleet');
  t.equal(head.status, 401, 'HEAD of an API route needs the token like GET');
});

function buildTestApp() {
  const bus = new EmbeddedBus();
  const signer = generateSigner();
  return (async () => {
    const store = Store.open(':memory:');
    const registry = await DeviceRegistry.open(store);
    await registry.create({ id: 'demo-device' }, 1);
    const app = buildApp({
      registry,
      fleet: new FleetView(),
      eligibility: await EligibilityService.open({
        store,
        seed: {},
        approval: {},
        simulatorKeys: new KeyRing(),
        now: Date.now,
        logger,
      }),
      control: new ControlPublisher({
        bus,
        signer,
        logger,
        now: Date.now,
        origin: 'control',
        eligibility: {},
        policies: {},
        heartbeatIntervalMs: 60_000,
        ttlMs: 60_000,
      }),
      breaker: await BreakerService.open({
        store,
        feedKeys: new KeyRing(),
        publish: async () => {},
        logger,
        now: Date.now,
      }),
      policies: new PolicyService({ store, seed: {}, now: Date.now, logger }),
      commands: new CommandService({
        store,
        devices: () => registry.list(),
        isOnline: () => false,
        now: Date.now,
        logger,
      }),
      tokenSigner: signer,
      adminToken: await AdminToken.open(ADMIN, store),
      allowedHosts: new HostAllowList(),
      logger,
      now: Date.now,
      deviceTokenTtlMs: 60_000,
      createPaperAccount: () => ({ apiKey: 'k'.repeat(20), secret: 's'.repeat(20) }),
    });
    return { app, registry };
  })();
}

t.test('every route the app serves needs the admin token unless it is one of the public four', async (t) => {
  const { app } = await buildTestApp();
  await app.ready();
  t.teardown(() => app.close());
  const routes = routeTable(app);
  t.same(
    routes
      .filter((r) => r.public)
      .map((r) => `${r.method} ${r.url}`)
      .sort(),
    [
      'GET /',
      'GET /dashboard.css',
      'GET /dashboard.js',
      'GET /healthz',
      'HEAD /',
      'HEAD /dashboard.css',
      'HEAD /dashboard.js',
      'HEAD /healthz',
    ],
    'the public routes (adding one is a decision: change this list)',
  );
  t.same(
    routes.filter((r) => r.signed).map((r) => `${r.method} ${r.url}`),
    ['POST /enrol', 'POST /renew', 'POST /rotate', 'POST /api/simulator/results'],
    'the routes authenticated by a signature instead of the token (adding one is a decision)',
  );
  const unsigned = await app.inject({
    method: 'POST',
    url: '/api/simulator/results',
    headers: { host: 'localhost', authorization: `Bearer ${ADMIN}` },
    payload: { runId: 'run-1' },
  });
  t.same(
    [unsigned.statusCode, unsigned.json()],
    [
      401,
      {
        error: 'E_UNSIGNED',
        message: "simulator results must be signed by a simulator node's key (kid and sig)",
      },
    ],
    'the admin token does not stand in for a simulator signature',
  );
  const guarded = routes.filter((r) => !r.public && !r.signed);
  t.ok(guarded.length >= 12, `${guarded.length} guarded routes`);
  for (const r of guarded) {
    const path = r.url.replace(/:id/g, 'demo-device');
    const res = await app.inject({
      method: r.method as 'GET',
      url: path,
      headers: { host: 'localhost' },
      ...(r.method === 'POST' ? { payload: { id: 'x-device', ids: ['demo-device'] } } : {}),
    });
    t.equal(res.statusCode, 401, `${r.method} ${r.url} without a token`);
  }
});

t.test('an /api route cannot be marked public, in any spelling', async (t) => {
  for (const url of ['/api/open', '/API/open', '//api/open', '/api']) {
    const { app } = await buildTestApp();
    t.throws(
      () => app.get(url, { config: { public: true } }, async () => ({ open: true })),
      /an \/api route cannot be public/,
      url,
    );
    await app.close();
  }
});
