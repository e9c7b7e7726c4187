// `device bundle` (the offline path): keys made on the admin's machine, the public ones registered,
// and only then a private folder written, whose private keys are those of the registered public keys.
import { mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { EnrolmentGrant, exportPublicKey, signerFromPem } from '@appliance/protocol';
import { hasStackTrace } from '@appliance/test-kit';
import { wgPublicKeyOf } from '@appliance/wireguard';
import { fakeControlServer, provision } from './enrolment-fake.js';

const fake = await fakeControlServer();
t.teardown(() => fake.close());
const PIN = 'cd'.repeat(32);
const bundle = (out: string, ...extra: string[]) =>
  provision([
    'device',
    'bundle',
    '--name',
    'shop-07',
    '--profile',
    'beta',
    '--label',
    'shop window',
    '--out',
    out,
    '--url',
    fake.url,
    '--enrol-url',
    'https://enrol.example.net',
    '--enrol-pin',
    PIN,
    ...extra,
  ]);
const freshDir = () => mkdtempSync(join(tmpdir(), 'provision-bundle-'));

t.beforeEach(() => fake.reset());

t.test('a bundle: a 0700 folder of 0600 files whose private keys are the registered ones', async (t) => {
  const out = freshDir();
  const r = await bundle(out);
  t.equal(r.status, 0, r.stderr);
  t.same(
    fake.requests.map((q) => `${q.method} ${q.path}`),
    ['GET /api/devices/shop-07', 'POST /api/devices/shop-07/keys'],
    'a new device: created with its keys',
  );
  const req = fake.requests[1]!;
  t.equal(`${req.method} ${req.path}`, 'POST /api/devices/shop-07/keys');
  const sent = req.body as { scope: string; label: string; wgPublicKey: string; devicePublicKey: string };
  t.same(Object.keys(sent).sort(), ['devicePublicKey', 'label', 'scope', 'wgPublicKey']);
  t.equal(sent.scope, 'beta');
  t.equal(sent.label, 'shop window');

  const folder = join(out, 'shop-07');
  t.same(readdirSync(out), ['shop-07'], 'no temporary folder is left');
  t.equal(statSync(folder).mode & 0o777, 0o700);
  const files = readdirSync(folder).sort();
  t.same(files, ['README.txt', 'device-key.pem', 'enrolment.json', 'wg-private.key', 'wg0.conf']);
  for (const f of files) t.equal(statSync(join(folder, f)).mode & 0o777, 0o600, `${f} is 0600`);

  const read = (f: string) => readFileSync(join(folder, f), 'utf8');
  const signer = signerFromPem(read('device-key.pem'));
  t.equal(exportPublicKey(signer.publicKey), sent.devicePublicKey, 'the device key is the one registered');
  const wgPrivate = read('wg-private.key').trim();
  t.equal(wgPublicKeyOf(wgPrivate), sent.wgPublicKey, 'the WireGuard key is the one registered');
  t.match(read('wg0.conf'), `PrivateKey = ${wgPrivate}\nAddress = 10.77.0.9/32\n`);
  t.match(read('wg0.conf'), /AllowedIPs = 10\.77\.0\.0\/16\nPersistentKeepalive = 25\n/);

  const record = JSON.parse(read('enrolment.json')) as Record<string, unknown>;
  t.equal(record.v, 1);
  t.equal(record.enrolUrl, 'https://enrol.example.net');
  t.equal(record.pin, PIN);
  t.type(record.enrolledAt, 'number');
  const grant = EnrolmentGrant.parse(record.grant);
  t.equal(grant.deviceId, 'shop-07');
  t.equal(grant.tunnel.address, '10.77.0.9');
  const cnf = JSON.parse(Buffer.from(grant.credential.split('.')[0]!, 'base64url').toString()) as {
    cnf: string;
  };
  t.equal(cnf.cnf, sent.devicePublicKey, 'the credential is bound to the bundled device key');

  const readme = read('README.txt');
  t.match(readme, /state folder/);
  t.match(readme, /PRIVACY: these private keys were generated on the admin's machine/);
  for (const f of files.filter((x) => x !== 'README.txt')) t.match(readme, f);

  t.match(r.stdout, `wrote ${folder}/ (mode 0700, files 0600)`);
  t.match(r.stdout, /^tunnel address +10\.77\.0\.9$/m);
  t.notMatch(r.stdout + r.stderr, /PRIVATE KEY|PrivateKey/, 'no private key is printed');
  t.notMatch(r.stdout, wgPrivate);

  const again = await bundle(out);
  t.equal(again.status, 2, 'an existing DIR/<name> is refused');
  t.match(again.stderr, /shop-07 exists; a bundle is never written over another/);
  t.equal(fake.requests.length, 2, 'and nothing is sent');
  t.equal(read('wg-private.key').trim(), wgPrivate, 'the first bundle is kept');
});

t.test('--json', async (t) => {
  const out = freshDir();
  const r = await bundle(out, '--json');
  t.equal(r.status, 0, r.stderr);
  const a = JSON.parse(r.stdout) as Record<string, unknown>;
  const sent = fake.requests[1]!.body as { wgPublicKey: string; devicePublicKey: string };
  t.match(a, {
    device: 'shop-07',
    profile: 'beta',
    folder: join(out, 'shop-07'),
    tunnelAddress: '10.77.0.9',
    wgPublicKey: sent.wgPublicKey,
    devicePublicKey: sent.devicePublicKey,
  });
  t.same(a.files, ['device-key.pem', 'wg-private.key', 'enrolment.json', 'wg0.conf', 'README.txt']);
});

t.test('nothing is written when the server refuses, does not answer, or answers no grant', async (t) => {
  const out = freshDir();
  fake.on('POST', /\/keys$/, () => ({
    status: 409,
    body: { error: 'E_DEVICE_REVOKED', message: 'device shop-07 is revoked' },
  }));
  const refused = await bundle(out);
  t.equal(refused.status, 5);
  t.equal(
    refused.stderr,
    'provision: E_DEVICE_REVOKED: device shop-07 is revoked (409, POST /api/devices/shop-07/keys)\n',
  );
  t.same(readdirSync(out), [], 'nothing written');

  fake.reset();
  fake.on('POST', /\/keys$/, () => ({ status: 200, body: { ok: true } }));
  const notAGrant = await bundle(out);
  t.equal(notAGrant.status, 5);
  t.match(
    notAGrant.stderr,
    /E_BAD_ANSWER: .* did not answer an enrolment grant for shop-07; nothing written/,
  );
  t.same(readdirSync(out), []);

  const closed = await fakeControlServer();
  await closed.close();
  const down = await provision([
    'device',
    'bundle',
    '--name',
    'shop-07',
    '--profile',
    'beta',
    '--out',
    out,
    '--url',
    closed.url,
    '--enrol-url',
    'https://enrol.example.net',
    '--enrol-pin',
    PIN,
  ]);
  t.equal(down.status, 6);
  t.match(down.stderr, /cannot reach the control server/);
  t.same(readdirSync(out), []);
});

t.test('bad usage exits 2 before anything is sent', async (t) => {
  const out = freshDir();
  const base = ['device', 'bundle', '--url', fake.url];
  const good = ['--enrol-url', 'https://enrol.example.net', '--enrol-pin', PIN];
  const cases: [string, string[], RegExp][] = [
    [
      'a bad name',
      [...base, '--name', 'Shop', '--profile', 'beta', '--out', out, ...good],
      /--name Shop: 3 to 64/,
    ],
    [
      'a bad profile',
      [...base, '--name', 'shop-07', '--profile', 'all', '--out', out, ...good],
      /--profile all/,
    ],
    [
      'no such --out',
      [...base, '--name', 'shop-07', '--profile', 'beta', '--out', join(out, 'nope'), ...good],
      /--out .*nope: no such folder/,
    ],
    [
      'no --enrol-url',
      [...base, '--name', 'shop-07', '--profile', 'beta', '--out', out, '--enrol-pin', PIN],
      /--enrol-url: the enrolment endpoint, https:\/\/host\[:port\]/,
    ],
    [
      'an http --enrol-url',
      [
        ...base,
        '--name',
        'shop-07',
        '--profile',
        'beta',
        '--out',
        out,
        '--enrol-pin',
        PIN,
        '--enrol-url',
        'http://x.example',
      ],
      /--enrol-url http:\/\/x\.example: /,
    ],
    [
      'a bad --enrol-pin',
      [
        ...base,
        '--name',
        'shop-07',
        '--profile',
        'beta',
        '--out',
        out,
        '--enrol-url',
        'https://e.example',
        '--enrol-pin',
        'AB',
      ],
      /--enrol-pin: the SHA-256/,
    ],
    [
      'no --out',
      [...base, '--name', 'shop-07', '--profile', 'beta', ...good],
      /required option '--out <dir>'/,
    ],
  ];
  const results = await Promise.all(cases.map(([, args]) => provision(args)));
  cases.forEach(([name, , message], i) => {
    const r = results[i]!;
    t.equal(r.status, 2, `${name}: exit 2 (${r.stderr})`);
    t.match(r.stderr, message, name);
    t.notOk(hasStackTrace(r.stderr), `${name}: no stack`);
  });
  const viaEnv = await provision([...base, '--name', 'shop-08', '--profile', 'beta', '--out', out], {
    CONTROL_ENROL_URL: 'https://enrol.example.net',
    CONTROL_ENROL_PIN: PIN,
  });
  t.equal(viaEnv.status, 0, `CONTROL_ENROL_URL and CONTROL_ENROL_PIN stand for the flags (${viaEnv.stderr})`);
  t.same(
    fake.requests.map((q) => q.path),
    ['/api/devices/shop-08', '/api/devices/shop-08/keys'],
    'only the good one was sent',
  );
});

t.test('an existing device: only its public keys are sent, and its profile must match', async (t) => {
  const out = freshDir();
  const args = (profile: string) => [
    'device',
    'bundle',
    '--name',
    'kitchen-01',
    '--profile',
    profile,
    '--label',
    'ignored',
    '--out',
    out,
    '--url',
    fake.url,
    '--enrol-url',
    'https://enrol.example.net',
    '--enrol-pin',
    PIN,
  ];
  const mismatch = await provision(args('beta'));
  t.equal(mismatch.status, 5);
  t.match(
    mismatch.stderr,
    /E_PROFILE_MISMATCH: device kitchen-01 exists with profile family, not beta; nothing sent/,
  );
  t.same(
    fake.requests.map((q) => q.method),
    ['GET'],
  );
  t.same(readdirSync(out), []);

  fake.reset();
  const r = await provision(args('family'));
  t.equal(r.status, 0, r.stderr);
  t.same(Object.keys(fake.requests[1]!.body as object).sort(), ['devicePublicKey', 'wgPublicKey']);
  t.same(readdirSync(out), ['kitchen-01']);

  fake.reset();
  fake.on('POST', /\/keys$/, () => ({
    status: 404,
    body: { error: 'E_DEVICE_UNKNOWN', message: 'no device shop-09' },
  }));
  const unknown = await provision([...args('family').map((a) => (a === 'kitchen-01' ? 'shop-09' : a))]);
  t.equal(unknown.status, 5);
  t.match(
    unknown.stderr,
    /E_DEVICE_UNKNOWN: no device shop-09 .*`device add --name shop-09 --profile family` first/,
  );
  t.same(readdirSync(out), ['kitchen-01']);
});
