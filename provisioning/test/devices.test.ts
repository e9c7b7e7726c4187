// `npm run provision -- device …|token …` against a fake control server that records what it is
// sent: arguments are checked before anything is sent, answers become tables or JSON, a token
// written with --out is private and never overwrites, refusals exit with the server's code.
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { decodeEnrolmentTicket } from '@appliance/protocol';
import { hasStackTrace } from '@appliance/test-kit';
import { ADMIN_TOKEN, NOW, fakeControlServer, provision } from './enrolment-fake.js';

const fake = await fakeControlServer();
t.teardown(() => fake.close());
const dir = mkdtempSync(join(tmpdir(), 'provision-devices-'));
const run = (...args: string[]) => provision([...args, '--url', fake.url]);
const HOUR = 3_600_000;

t.beforeEach(() => fake.reset());

t.test('bad arguments exit 2 with one line naming the flag, and nothing is sent', async (t) => {
  const existing = join(dir, 'existing.token');
  writeFileSync(existing, 'keep me\n');
  const cases: [string, string[], RegExp][] = [
    [
      'a bad name',
      ['device', 'add', '--name', 'Kitchen_1', '--profile', 'family'],
      /--name Kitchen_1: 3 to 64/,
    ],
    ['a short name', ['device', 'add', '--name', 'ab', '--profile', 'family'], /--name ab: 3 to 64/],
    [
      'a bad profile',
      ['device', 'add', '--name', 'kitchen-01', '--profile', 'house'],
      /--profile house: family, beta or mandate:<id>/,
    ],
    [
      'a bad mandate',
      ['device', 'add', '--name', 'kitchen-01', '--profile', 'mandate:'],
      /--profile mandate:: /,
    ],
    [
      'a ttl over 90d',
      ['device', 'add', '--name', 'kitchen-01', '--profile', 'beta', '--token-ttl', '91d'],
      /--token-ttl 91d: at most 90d/,
    ],
    [
      'a ttl in weeks',
      ['device', 'add', '--name', 'kitchen-01', '--profile', 'beta', '--token-ttl', '2w'],
      /--token-ttl 2w: give a duration such as 30d/,
    ],
    [
      'a ttl under a minute',
      ['device', 'add', '--name', 'kitchen-01', '--profile', 'beta', '--token-ttl', '5000'],
      /at least 1 minute/,
    ],
    [
      'no uses',
      ['device', 'add', '--name', 'kitchen-01', '--profile', 'beta', '--token-uses', '0'],
      /--token-uses 0: a whole number from 1 to 100/,
    ],
    ['too many uses', ['device', 'token', 'kitchen-01', '--token-uses', '101'], /--token-uses 101/],
    ['a missing profile', ['device', 'add', '--name', 'kitchen-01'], /required option '--profile <profile>'/],
    [
      'an existing --out',
      ['device', 'add', '--name', 'kitchen-01', '--profile', 'family', '--out', existing],
      /existing\.token: exists; an enrolment token is never written over a file/,
    ],
    [
      'an --out in no folder',
      ['device', 'token', 'kitchen-01', '--out', join(dir, 'nope/x.token')],
      /does not exist/,
    ],
    ['revoke without --yes', ['device', 'revoke', 'kitchen-01'], /revoking is permanent .*: add --yes/],
    [
      'a bad token id',
      ['token', 'revoke', 'et-123'],
      /et-123: an enrolment token id is et- and 16 hex digits/,
    ],
    ['a bad device id', ['device', 'show', 'NO'], /device NO: 3 to 64/],
  ];
  const results = await Promise.all(cases.map(([, args]) => run(...args)));
  cases.forEach(([name, , message], i) => {
    const r = results[i]!;
    t.equal(r.status, 2, `${name}: exit 2 (${r.stderr})`);
    t.match(r.stderr, message, name);
    t.notOk(hasStackTrace(r.stderr), `${name}: no stack`);
  });
  t.equal(readFileSync(existing, 'utf8'), 'keep me\n', 'the existing file is untouched');
  const badUrl = await provision(['device', 'list', '--url', 'not a url']);
  t.equal(badUrl.status, 2);
  t.match(badUrl.stderr, /--url not a url: not a URL/);
  const noToken = await provision(['device', 'list', '--url', fake.url], { CONTROL_ADMIN_TOKEN: undefined });
  t.equal(noToken.status, 2);
  t.match(noToken.stderr, /give --token-file FILE or set CONTROL_ADMIN_TOKEN/);
  t.same(fake.requests, [], 'nothing was sent');
});

t.test('device add: the request, the token printed once, and its facts', async (t) => {
  const r = await run(
    'device',
    'add',
    '--name',
    'kitchen-01',
    '--profile',
    'mandate:acme',
    '--label',
    'kitchen shelf',
    '--token-ttl',
    '12h',
    '--token-uses',
    '3',
  );
  t.equal(r.status, 0, r.stderr);
  t.equal(fake.requests.length, 1);
  const req = fake.requests[0]!;
  t.equal(`${req.method} ${req.path}`, 'POST /api/enrolments');
  t.equal(req.authorization, `Bearer ${ADMIN_TOKEN}`);
  t.same(req.body, {
    id: 'kitchen-01',
    scope: 'mandate:acme',
    label: 'kitchen shelf',
    tokenTtlMs: 12 * HOUR,
    tokenUses: 3,
  });
  t.match(r.stdout, /^registered kitchen-01 \(profile mandate:acme\)$/m);
  t.match(r.stdout, /^enrolment token et-[0-9a-f]{16} for kitchen-01: 3 uses, expires 2026-12-04T18:00Z$/m);
  const token = /^(sa-enrol-1\.\S+)$/m.exec(r.stdout)?.[1];
  t.ok(token, 'the token on a line of its own');
  const ticket = decodeEnrolmentTicket(token!);
  t.equal(ticket.device, 'kitchen-01');
  t.match(r.stdout, /signal-client enrol --token/);

  // durations: d, m, plain milliseconds; defaults are left to the server
  fake.reset();
  await run('device', 'add', '--name', 'kitchen-02', '--profile', 'family', '--token-ttl', '90d');
  await run('device', 'add', '--name', 'kitchen-03', '--profile', 'beta', '--token-ttl', '90m');
  await run('device', 'add', '--name', 'kitchen-04', '--profile', 'beta', '--token-ttl', '600000');
  await run('device', 'add', '--name', 'kitchen-05', '--profile', 'beta');
  t.same(
    fake.requests.map((q) => q.body),
    [
      { id: 'kitchen-02', scope: 'family', tokenTtlMs: 90 * 24 * HOUR },
      { id: 'kitchen-03', scope: 'beta', tokenTtlMs: 90 * 60_000 },
      { id: 'kitchen-04', scope: 'beta', tokenTtlMs: 600_000 },
      { id: 'kitchen-05', scope: 'beta' },
    ],
  );
});

t.test(
  'device add --json, and --out: a 0600 file, never the secret on stdout, never overwritten',
  async (t) => {
    const j = await run('device', 'add', '--name', 'kitchen-01', '--profile', 'family', '--json');
    t.equal(j.status, 0, j.stderr);
    const answer = JSON.parse(j.stdout) as {
      device: { id: string };
      token: string;
      enrolmentToken: { id: string; maxUses: number; expiresAt: number };
    };
    t.equal(answer.device.id, 'kitchen-01');
    t.equal(decodeEnrolmentTicket(answer.token).id, answer.enrolmentToken.id);
    t.equal(answer.enrolmentToken.expiresAt, NOW + 7 * 24 * HOUR);

    const file = join(dir, 'kitchen-01.token');
    const r = await run('device', 'add', '--name', 'kitchen-01', '--profile', 'family', '--out', file);
    t.equal(r.status, 0, r.stderr);
    t.equal(statSync(file).mode & 0o777, 0o600);
    const written = readFileSync(file, 'utf8');
    t.match(written, /^sa-enrol-1\.\S+\n$/);
    t.doesNotThrow(() => decodeEnrolmentTicket(written));
    t.notMatch(r.stdout, /sa-enrol-1/, 'the secret is not printed');
    t.match(r.stdout, `wrote the token to ${file} (mode 0600)`);

    const jsonOut = join(dir, 'json.token');
    const rj = await run('device', 'token', 'kitchen-01', '--out', jsonOut, '--json');
    t.equal(rj.status, 0, rj.stderr);
    const a = JSON.parse(rj.stdout) as Record<string, unknown>;
    t.equal(a.tokenFile, jsonOut);
    t.notOk('token' in a);
    t.notMatch(rj.stdout, /sa-enrol-1/);

    fake.reset();
    const again = await run('device', 'token', 'kitchen-01', '--out', file);
    t.equal(again.status, 2);
    t.match(again.stderr, /exists; an enrolment token is never written over a file/);
    t.equal(readFileSync(file, 'utf8'), written, 'the first token is kept');
    t.same(fake.requests, [], 'no token was made');
  },
);

t.test('device token: a new token for an existing device', async (t) => {
  const r = await run('device', 'token', 'kitchen-01', '--token-ttl', '2d', '--token-uses', '1');
  t.equal(r.status, 0, r.stderr);
  t.equal(fake.requests[0]?.path, '/api/devices/kitchen-01/enrolment-tokens');
  t.same(fake.requests[0]?.body, { tokenTtlMs: 48 * HOUR, tokenUses: 1 });
  t.match(r.stdout, /^enrolment token et-[0-9a-f]{16} for kitchen-01: 1 use, expires /m);
  t.notMatch(r.stdout, /registered/);
  t.match(r.stdout, /^sa-enrol-1\./m);
});

t.test('device list: an aligned table, and --json', async (t) => {
  const r = await run('device', 'list');
  t.equal(r.status, 0, r.stderr);
  t.equal(
    r.stdout,
    [
      'ID          PROFILE       TUNNEL     ENROLLED           CREDENTIAL EXPIRES  RENEWAL         REVOKED',
      'kitchen-01  family        10.77.0.2  2026-12-03T06:00Z  2027-01-02T06:00Z   ok              no',
      'lab-02      mandate:acme  10.77.0.3  2026-12-03T06:00Z  2027-01-02T06:00Z   overdue         2026-12-04T05:00Z',
      'shelf-03    family        —          no                 —                   never-enrolled  no',
      '',
    ].join('\n'),
  );

  const j = await run('device', 'list', '--json');
  t.equal(j.status, 0, j.stderr);
  const { devices } = JSON.parse(j.stdout) as { devices: Record<string, unknown>[] };
  t.same(devices[1], {
    id: 'lab-02',
    profile: 'mandate:acme',
    label: '',
    tunnelAddress: '10.77.0.3',
    enrolled: true,
    enrolledAt: NOW - 24 * HOUR,
    credentialExpiresAt: NOW + 29 * 24 * HOUR,
    renewal: 'overdue',
    revoked: true,
    revokedAt: NOW - HOUR,
  });
  t.equal(devices.length, 3);
});

t.test('device show: everything about one device, its tokens, never a secret', async (t) => {
  const r = await run('device', 'show', 'kitchen-01');
  t.equal(r.status, 0, r.stderr);
  t.same(
    fake.requests.map((q) => `${q.method} ${q.path}`),
    ['GET /api/devices/kitchen-01', 'GET /api/enrolment-tokens'],
  );
  for (const re of [
    /^device +kitchen-01$/m,
    /^label +kitchen shelf$/m,
    /^tunnel address +10\.77\.0\.2$/m,
    /^wireguard public key +[A-Za-z0-9+/]{43}=$/m,
    /^device key id +AbCdEfGhIjKlMnOp$/m,
    /^renewal +ok; 2 renewals, last 2026-12-04T05:00Z$/m,
    /^key rotation +requested 2026-12-04T05:59Z: at its next renewal$/m,
    /^retired device key +OldKeyOldKeyOldK, renews until 2026-12-04T06:10Z$/m,
    /^credentials issued +1 \(last 2026-12-03T06:00Z, fingerprint 0123456789abcdef\)$/m,
    /^enrolment tokens:\nID {19}STATE {3}USES {2}CREATED {12}EXPIRES\net-00000000000000aa {2}used {4}1\/1 {3}2026-12-04T06:00Z {2}2026-12-11T06:00Z$/m,
    /^et-00000000000000cc {2}active {2}0\/1 /m,
  ])
    t.match(r.stdout, re);
  t.notMatch(r.stdout, /et-00000000000000bb/, "another device's token is not shown");

  const j = await run('device', 'show', 'kitchen-01', '--json');
  const a = JSON.parse(j.stdout) as { device: { id: string }; enrolmentTokens: { id: string }[] };
  t.equal(a.device.id, 'kitchen-01');
  t.same(
    a.enrolmentTokens.map((x) => x.id),
    ['et-00000000000000aa', 'et-00000000000000cc'],
  );

  const unknown = await run('device', 'show', 'no-such-device');
  t.equal(unknown.status, 5);
  t.match(
    unknown.stderr,
    /^provision: E_DEVICE_UNKNOWN: no device no-such-device \(404, GET \/api\/devices\/no-such-device\)\n$/,
  );
});

t.test('device revoke --yes, device rotate-keys', async (t) => {
  const r = await run('device', 'revoke', 'kitchen-01', '--yes');
  t.equal(r.status, 0, r.stderr);
  t.equal(`${fake.requests[0]?.method} ${fake.requests[0]?.path}`, 'POST /api/devices/kitchen-01/revoke');
  t.match(r.stdout, /^revoked kitchen-01 at 2026-12-04T06:00Z: its tunnel peer is removed/);
  const rot = await run('device', 'rotate-keys', 'kitchen-01');
  t.equal(rot.status, 0, rot.stderr);
  t.equal(fake.requests[1]?.path, '/api/devices/kitchen-01/rotate-keys');
  t.match(
    rot.stdout,
    /^kitchen-01 will rotate its keys at its next renewal \(its credential expires 2027-01-02T06:00Z; renewal status ok\)/,
  );
  const j = await run('device', 'rotate-keys', 'kitchen-01', '--json');
  t.equal(
    (JSON.parse(j.stdout) as { enrolment: { rotation: { state: string } } }).enrolment.rotation.state,
    'requested',
  );
});

t.test('token list and token revoke', async (t) => {
  const r = await run('token', 'list');
  t.equal(r.status, 0, r.stderr);
  t.equal(
    r.stdout,
    [
      'ID                   DEVICE      STATE    USES  CREATED            EXPIRES',
      'et-00000000000000aa  kitchen-01  used     1/1   2026-12-04T06:00Z  2026-12-11T06:00Z',
      'et-00000000000000bb  lab-02      revoked  2/5   2026-12-04T06:00Z  2026-12-11T06:00Z',
      'et-00000000000000cc  kitchen-01  active   0/1   2026-12-04T06:00Z  2026-12-11T06:00Z',
      '',
    ].join('\n'),
  );
  const mine = await run('token', 'list', '--device', 'lab-02', '--json');
  t.same(
    (JSON.parse(mine.stdout) as { tokens: { id: string }[] }).tokens.map((x) => x.id),
    ['et-00000000000000bb'],
  );
  const rv = await run('token', 'revoke', 'et-00000000000000cc');
  t.equal(rv.status, 0, rv.stderr);
  t.equal(fake.requests.at(-1)?.path, '/api/enrolment-tokens/et-00000000000000cc/revoke');
  t.match(rv.stdout, /^revoked et-00000000000000cc \(device kitchen-01\)/);
});

t.test('refusals exit 5 with CODE: message; no answer exits 6', async (t) => {
  fake.on('POST', /^\/api\/enrolments$/, () => ({
    status: 409,
    body: { error: 'E_DEVICE_EXISTS', message: 'device kitchen-01 already exists' },
  }));
  const r = await run(
    'device',
    'add',
    '--name',
    'kitchen-01',
    '--profile',
    'family',
    '--out',
    join(dir, 'refused.token'),
  );
  t.equal(r.status, 5);
  t.equal(
    r.stderr,
    'provision: E_DEVICE_EXISTS: device kitchen-01 already exists (409, POST /api/enrolments)\n',
  );
  t.equal(r.stdout, '');
  t.throws(() => statSync(join(dir, 'refused.token')), { code: 'ENOENT' }, 'no token file');

  const wrongToken = await provision(['token', 'list', '--url', fake.url], { CONTROL_ADMIN_TOKEN: 'wrong' });
  t.equal(wrongToken.status, 5);
  t.match(wrongToken.stderr, /E_UNAUTHORIZED: admin token required \(401/);

  const closed = await fakeControlServer();
  await closed.close();
  const down = await provision(['device', 'list', '--url', closed.url]);
  t.equal(down.status, 6);
  t.match(
    down.stderr,
    new RegExp(`^provision: cannot reach the control server at ${closed.url} \\(ECONNREFUSED\\)`),
  );
  t.notOk(hasStackTrace(down.stderr));

  const viaEnv = await provision(['device', 'list'], { CONTROL_URL: closed.url });
  t.equal(viaEnv.status, 6, 'CONTROL_URL names the server');
  const viaServer = await provision(['device', 'list', '--server', fake.url]);
  t.equal(viaServer.status, 0, '--server is --url');
});

t.test('--help names every command and flag with examples', async (t) => {
  const top = await provision(['--help']);
  t.equal(top.status, 0);
  for (const c of ['keygen', 'device', 'token']) t.match(top.stdout, c);
  const dev = await provision(['device', '--help']);
  for (const c of ['add', 'token', 'list', 'show', 'revoke', 'rotate-keys', 'bundle'])
    t.match(dev.stdout, new RegExp(`^  ${c}\\b`, 'm'));
  const add = await provision(['device', 'add', '--help']);
  for (const f of [
    '--name',
    '--profile',
    '--label',
    '--token-ttl',
    '--token-uses',
    '--out',
    '--url',
    '--server',
    '--token-file',
    '--json',
  ])
    t.match(add.stdout, f);
  t.match(add.stdout, /npm run provision -- device add --name/);
  t.match(add.stdout, /Exit codes: 0 done; 2 bad usage/);
});
