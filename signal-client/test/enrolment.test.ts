/**
 * The device side of enrolment (docs/enrolment.md): `signal-client enrol` against a fake
 * enrolment endpoint (HTTPS, a throwaway certificate pinned by the ticket) that checks every
 * signature it receives; the credential's renewal, the proof at each WebSocket upgrade, and key
 * rotation, with the crash cases. No test here measures time.
 */
import { spawn } from 'node:child_process';
import { X509Certificate, randomBytes } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import t, { type Test } from 'tap';
import { WebSocketServer } from 'ws';
import {
  DEVICE_PROOF_HEADER,
  encodeEnrolmentTicket,
  exportPrivateKeyPem,
  exportPublicKey,
  generateSigner,
  issueDeviceToken,
  parseDeviceRequest,
  publicKeyOf,
  readDeviceToken,
  KeyRing,
  verifyDeviceProof,
  verifyDeviceRequestSignature,
  type DeviceRequest,
  type EnrolmentTicket,
  type Signer,
} from '@appliance/protocol';
import type { ConfigError } from '@appliance/runtime';
import { EXIT } from '@appliance/runtime';
import { REPO_ROOT, hasStackTrace, makeSignedTestCert, makeTestCa, waitFor } from '@appliance/test-kit';
import { parseClientConfig } from '../src/cli/config-file.js';
import {
  EnrolledDevice,
  EnrolmentRecord,
  enrol,
  generateWgKeyPair,
  resolveEnrolment,
  wgPublicKey,
} from '../src/enrolment/index.js';
import { GatewayConnection } from '../src/gateway-connection.js';

const dir = mkdtempSync(join(tmpdir(), 'enrolment-'));
const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const DEVICE = 'dev-enrol';
const HOUR = 3_600_000;

// ---- a fake enrolment endpoint ---------------------------------------------------------------

interface Received {
  path: string;
  body: Record<string, unknown>;
  request?: DeviceRequest;
  /** The signature checks passed (sig, and for a rotation newSig). */
  verified: boolean;
}

interface FakeOptions {
  /** The credential's life, and how long ago it was issued (to make it due or expired). */
  ttlMs?: number;
  ageMs?: number;
  gatewayUrl?: string;
}

async function fakeEnrolment(t: Test, o: FakeOptions = {}) {
  const certDir = mkdtempSync(join(dir, 'cert-'));
  const ca = makeTestCa(certDir, 'enrol-ca');
  const cert = makeSignedTestCert(certDir, ca, 'DNS:localhost,IP:127.0.0.1', 'enrol');
  const pin = new X509Certificate(cert.certPem).fingerprint256.replace(/:/g, '').toLowerCase();
  const control = generateSigner();
  const feed = generateSigner();
  const concentrator = generateWgKeyPair();
  const received: Received[] = [];
  let handshakes = 0;
  const state = {
    deviceKey: undefined as string | undefined,
    wgKey: undefined as string | undefined,
    rotateKeys: false,
    ttlMs: o.ttlMs ?? 30 * 24 * HOUR,
    ageMs: o.ageMs ?? 0,
    /** Answer the next request to this path with this error. */
    fail: new Map<string, { status: number; error: string; message: string }>(),
    credentials: [] as string[],
  };
  const secret = randomBytes(32).toString('base64url');
  const tokenId = 'et-0123456789abcdef';

  const credential = (cnf: string) => {
    const iat = Date.now() - state.ageMs;
    const c = issueDeviceToken({ sub: DEVICE, scope: 'family', iat, ttlMs: state.ttlMs, cnf }, control);
    state.credentials.push(c);
    return { credential: c, credentialExpiresAt: iat + state.ttlMs };
  };
  const grant = (cnf: string) => ({
    deviceId: DEVICE,
    profile: 'family',
    tunnel: {
      address: '10.77.0.5',
      allowedIps: ['10.77.0.0/16'],
      concentratorPublicKey: concentrator.publicKey,
      endpoint: 'hub.example:51820',
      persistentKeepaliveS: 25,
    },
    gatewayUrl: o.gatewayUrl ?? 'ws://127.0.0.1:9',
    signalKeys: [exportPublicKey(feed.publicKey)],
    controlKeys: [exportPublicKey(control.publicKey)],
    ...credential(cnf),
    rotateKeys: false,
  });

  const answer = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };

  const server = createHttpsServer({ key: cert.keyPem, cert: cert.certPem }, (req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      const r: Received = { path: req.url ?? '', body, verified: false };
      received.push(r);
      const failure = state.fail.get(r.path);
      if (failure) {
        state.fail.delete(r.path);
        return answer(res, failure.status, { error: failure.error, message: failure.message });
      }
      try {
        r.request = parseDeviceRequest(body, Date.now());
        if (r.path === '/enrol' && r.request.typ === 'enrol') {
          if (r.request.tokenId !== tokenId || r.request.secret !== secret)
            return answer(res, 401, { error: 'E_TOKEN_UNKNOWN', message: 'no such token' });
          verifyDeviceRequestSignature(r.request, r.request.devicePublicKey);
          r.verified = true;
          state.deviceKey = r.request.devicePublicKey;
          state.wgKey = r.request.wgPublicKey;
          return answer(res, 200, grant(state.deviceKey));
        }
        if (r.path === '/renew' && r.request.typ === 'renew') {
          verifyDeviceRequestSignature(r.request, state.deviceKey!);
          r.verified = true;
          return answer(res, 200, {
            deviceId: DEVICE,
            ...credential(state.deviceKey!),
            rotateKeys: state.rotateKeys,
          });
        }
        if (r.path === '/rotate' && r.request.typ === 'rotate') {
          verifyDeviceRequestSignature(r.request, state.deviceKey!); // sig by the old key, newSig by the new
          r.verified = true;
          state.deviceKey = r.request.devicePublicKey;
          state.wgKey = r.request.wgPublicKey;
          state.rotateKeys = false;
          return answer(res, 200, grant(state.deviceKey));
        }
        return answer(res, 404, { error: 'E_NOT_FOUND', message: r.path });
      } catch (err) {
        return answer(res, 401, {
          error: (err as { code?: string }).code ?? 'E_MALFORMED',
          message: (err as Error).message,
        });
      }
    });
  });
  server.on('connection', () => handshakes++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const ticket = (over: Partial<EnrolmentTicket> = {}) =>
    encodeEnrolmentTicket({
      v: 1,
      url,
      pin,
      id: tokenId,
      secret,
      exp: Date.now() + HOUR,
      device: DEVICE,
      profile: 'family',
      ...over,
    });
  return {
    url,
    pin,
    secret,
    control,
    state,
    received,
    ticket,
    handshakes: () => handshakes,
  };
}

/** Runs the CLI without blocking this process (the fake endpoint must answer meanwhile). */
function cli(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'fatal' };
    delete env.SIGNAL_CLIENT_CONFIG;
    const p = spawn(process.execPath, ['--import', 'tsx', 'signal-client/src/main.ts', ...args], {
      cwd: REPO_ROOT,
      env,
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    p.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

const mode = (path: string) => statSync(path).mode & 0o777;
const stateDir = () => join(mkdtempSync(join(dir, 'device-')), 'state');

// ---- enrol -------------------------------------------------------------------------------------

t.test('enrol: keys made on the device, only public keys sent, files 0600', async (t) => {
  const fake = await fakeEnrolment(t);
  const sd = stateDir();
  const r = await cli(['enrol', '--token', fake.ticket(), '--state-dir', sd]);
  t.equal(r.status, EXIT.ok, r.stderr);
  t.same(readdirSync(sd).sort(), ['device-key.pem', 'enrolment.json', 'wg-private.key', 'wg0.conf']);
  for (const f of readdirSync(sd)) t.equal(mode(join(sd, f)), 0o600, `${f} is 0600`);
  t.equal(mode(sd), 0o700, 'the folder is 0700');

  const devicePem = readFileSync(join(sd, 'device-key.pem'), 'utf8');
  const wgPrivate = readFileSync(join(sd, 'wg-private.key'), 'utf8').trim();
  const record = EnrolmentRecord.parse(JSON.parse(readFileSync(join(sd, 'enrolment.json'), 'utf8')));
  const recordText = readFileSync(join(sd, 'enrolment.json'), 'utf8');
  t.notMatch(recordText, /PRIVATE KEY/, 'no device key in enrolment.json');
  t.notOk(recordText.includes(wgPrivate), 'no WireGuard private key in enrolment.json');
  t.equal(record.enrolUrl, fake.url, 'where to renew is kept');
  t.equal(record.pin, fake.pin);

  t.equal(fake.received.length, 1);
  const sent = fake.received[0]!;
  t.equal(sent.path, '/enrol');
  t.ok(sent.verified, 'the request is signed by the new device key');
  t.same(Object.keys(sent.body).sort(), [
    'devicePublicKey',
    'kid',
    'secret',
    'sig',
    'tokenId',
    'ts',
    'typ',
    'v',
    'wgPublicKey',
  ]);
  const wire = JSON.stringify(sent.body);
  t.notOk(wire.includes(wgPrivate), 'the WireGuard private key is not sent');
  t.notMatch(wire, /PRIVATE/);
  const { signerFromPem } = await import('@appliance/protocol');
  t.equal(
    sent.body.devicePublicKey,
    publicKeyOf(signerFromPem(devicePem)),
    'the public half of device-key.pem',
  );
  t.equal(sent.body.wgPublicKey, wgPublicKey(wgPrivate), 'the public half of wg-private.key');

  const conf = readFileSync(join(sd, 'wg0.conf'), 'utf8');
  t.match(conf, `PrivateKey = ${wgPrivate}`);
  t.match(conf, 'Address = 10.77.0.5/32');
  t.match(conf, 'AllowedIPs = 10.77.0.0/16');
  t.match(conf, 'Endpoint = hub.example:51820');
  t.match(conf, 'PersistentKeepalive = 25');

  t.match(r.stdout, /enrolled dev-enrol \(profile family\)/);
  t.match(r.stdout, /10\.77\.0\.5\/32/);
  t.notOk(r.stdout.includes(wgPrivate) || r.stdout.includes(record.grant.credential), 'no secret printed');

  const again = await cli(['enrol', '--token', fake.ticket(), '--state-dir', sd]);
  t.equal(again.status, EXIT.config, 'a second enrolment is refused');
  t.match(again.stderr, /^E_ALREADY_ENROLLED: .*move the folder/);
  t.equal(fake.received.length, 1, 'and sends nothing');
});

t.test('a wrong pin sends nothing: the endpoint sees a connection and no request', async (t) => {
  const fake = await fakeEnrolment(t);
  const sd = stateDir();
  const r = await cli(['enrol', '--token', fake.ticket({ pin: 'ab'.repeat(32) }), '--state-dir', sd]);
  t.equal(r.status, EXIT.failure);
  t.match(r.stderr, /^E_ENROL_PIN: .*not the pinned abab/);
  t.ok(fake.handshakes() >= 1, 'the device reached the endpoint');
  t.equal(fake.received.length, 0, 'no request reached the endpoint');
  t.notOk(existsSync(join(sd, 'enrolment.json')));
  t.notOk(hasStackTrace(r.stderr));
});

t.test('a damaged or expired token is refused before any file is written', async (t) => {
  const fake = await fakeEnrolment(t);
  const good = fake.ticket();
  const cases: [string, string, RegExp][] = [
    ['not a token', 'hello', /^E_BAD_ENROLMENT_TOKEN: an enrolment token starts with sa-enrol-1\./],
    [
      'damaged',
      `${good.slice(0, 40)}x${good.slice(41)}`,
      /^E_BAD_ENROLMENT_TOKEN: the enrolment token is damaged/,
    ],
    ['truncated', good.slice(0, -10), /^E_BAD_ENROLMENT_TOKEN: /],
    [
      'expired',
      fake.ticket({ exp: Date.UTC(2025, 0, 2, 3, 4, 5) }),
      /^E_ENROLMENT_TOKEN_EXPIRED: .*expired at 2025-01-02T03:04:05\.000Z/,
    ],
  ];
  for (const [name, token, message] of cases) {
    const sd = stateDir();
    const r = await cli(['enrol', '--token', token, '--state-dir', sd]);
    t.equal(r.status, EXIT.config, name);
    t.match(r.stderr, message, name);
    t.notOk(existsSync(sd), `${name}: no folder, no file`);
  }
  const file = join(dir, 'token.txt');
  writeFileSync(file, `${fake.ticket({ exp: Date.now() - 1 })}\n`);
  const fromFile = await cli(['enrol', '--token', `@${file}`, '--state-dir', stateDir()]);
  t.match(fromFile.stderr, /^E_ENROLMENT_TOKEN_EXPIRED: /, '@FILE is read');
  t.equal(fake.received.length, 0, 'nothing was sent');
  const usage = await cli(['enrol', '--token', good]);
  t.equal(usage.status, EXIT.config, 'no state folder named: exit 2');

  // One image config for every device: no deviceId; a profile, when it says one, must be the token's.
  const configFor = (extra: Record<string, unknown>) => {
    const sd = stateDir();
    const file = join(dir, `config-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(
      file,
      JSON.stringify({
        enrolment: { stateDir: sd },
        stateFile: join(sd, 'state.json'),
        settings: { timeZone: 'UTC', streams: ['ema-cross.1h'] },
        ...extra,
      }),
    );
    return { sd, file };
  };
  const beta = configFor({ profile: 'beta' });
  const wrongProfile = await cli(['enrol', '--token', good, '--config', beta.file]);
  t.equal(wrongProfile.status, EXIT.config, 'a token for another profile: exit 2');
  t.match(
    wrongProfile.stderr,
    /E_BAD_ENROLMENT_TOKEN: the token enrols a family device but .* is for profile beta/,
  );
  t.notOk(existsSync(beta.sd), 'nothing written');
  const other = configFor({ deviceId: 'someone-else' });
  const wrongDevice = await cli(['enrol', '--token', good, '--config', other.file]);
  t.match(wrongDevice.stderr, /E_BAD_ENROLMENT_TOKEN: the token enrols dev-enrol but .* is for someone-else/);
  t.notOk(existsSync(other.sd), 'nothing written');
  t.equal(fake.received.length, 0, 'nothing was sent');
  const image = configFor({});
  const fine = await cli(['enrol', '--token', good, '--config', image.file]);
  t.equal(fine.status, 0, `the image's config (no deviceId) enrols: ${fine.stderr}`);
});

t.test("the server's refusal prints its code, exits 1, and a retry reuses the keys", async (t) => {
  const fake = await fakeEnrolment(t);
  const sd = stateDir();
  fake.state.fail.set('/enrol', {
    status: 503,
    error: 'E_POOL_EXHAUSTED',
    message: 'no tunnel address left',
  });
  const refused = await cli(['enrol', '--token', fake.ticket(), '--state-dir', sd]);
  t.equal(refused.status, EXIT.failure);
  t.match(refused.stderr, /^E_POOL_EXHAUSTED: enrol: E_POOL_EXHAUSTED: no tunnel address left/);
  t.notOk(existsSync(join(sd, 'enrolment.json')));
  t.ok(existsSync(join(sd, 'device-key.pem')), 'the keys were written before the request');
  const ok = await cli(['enrol', '--token', fake.ticket(), '--state-dir', sd]);
  t.equal(ok.status, EXIT.ok, ok.stderr);
  t.equal(fake.received[1]!.body.devicePublicKey, fake.received[0]!.body.devicePublicKey, 'same device key');
  t.equal(fake.received[1]!.body.wgPublicKey, fake.received[0]!.body.wgPublicKey, 'same WireGuard key');
});

t.test('two devices from byte-identical folders get different keys', async (t) => {
  const fake = await fakeEnrolment(t);
  const pristine = join(mkdtempSync(join(dir, 'pristine-')), 'state');
  mkdirSync(pristine, { mode: 0o700 });
  writeFileSync(join(pristine, 'README'), 'flashed image\n');
  const a = join(dir, `copy-a-${Date.now()}`);
  const b = join(dir, `copy-b-${Date.now()}`);
  cpSync(pristine, a, { recursive: true });
  cpSync(pristine, b, { recursive: true });
  await enrol({ token: fake.ticket(), stateDir: a });
  await enrol({ token: fake.ticket(), stateDir: b });
  for (const f of ['device-key.pem', 'wg-private.key'])
    t.not(readFileSync(join(a, f), 'utf8'), readFileSync(join(b, f), 'utf8'), `${f} differs`);
  t.not(fake.received[0]!.body.devicePublicKey, fake.received[1]!.body.devicePublicKey);
});

// ---- configuration -------------------------------------------------------------------------------

t.test('config: enrolment replaces the inline connection; problems name the field', async (t) => {
  const base = { deviceId: DEVICE, stateFile: '/tmp/x.json' };
  const enrolled = parseClientConfig({ ...base, enrolment: { stateDir: '/var/lib/signal-client' } });
  t.same(enrolled.enrolment, { stateDir: '/var/lib/signal-client', renewCheckMs: HOUR, wgInterface: 'wg0' });
  const issues = (json: object) => {
    try {
      parseClientConfig(json);
      return [];
    } catch (err) {
      return (err as ConfigError).issues;
    }
  };
  t.match(issues({ deviceId: DEVICE }), [
    /^gatewayUrl: required/,
    /^token: required/,
    /^signalKeys: /,
    /^controlKeys: /,
    /^stateFile: /,
  ]);
  t.match(issues({ ...base, token: 'x'.repeat(20), enrolment: { stateDir: '/s' } }), [
    /^token: not with enrolment/,
  ]);
  t.match(issues({ ...base, enrolment: { stateDir: 'relative' } }), [
    /^enrolment\.stateDir: an absolute path/,
  ]);
  t.match(issues({ ...base, enrolment: { stateDir: '/s', wgInterface: 'a b' } }), [
    /^enrolment\.wgInterface: /,
  ]);

  const sd = stateDir();
  await t.rejects(
    resolveEnrolment(parseClientConfig({ ...base, enrolment: { stateDir: sd } }), { logger }),
    { message: /not enrolled; run `signal-client enrol --token <token> --state-dir / },
    'not enrolled: says to run enrol',
  );
  const fake = await fakeEnrolment(t, { gatewayUrl: 'wss://10.77.0.1:8443' });
  await enrol({ token: fake.ticket(), stateDir: sd });
  const other = parseClientConfig({ ...base, deviceId: 'dev-other', enrolment: { stateDir: sd } });
  await t.rejects(resolveEnrolment(other, { logger }), {
    message: /deviceId: the config says dev-other but .* was enrolled as dev-enrol/,
  });
  const {
    config,
    tls,
    enrolled: device,
  } = await resolveEnrolment(parseClientConfig({ ...base, enrolment: { stateDir: sd } }), { logger });
  t.equal(config.gatewayUrl, 'wss://10.77.0.1:8443');
  t.equal(config.token, device!.current().credential);
  t.same(config.controlKeys, [exportPublicKey(fake.control.publicKey)]);
  t.equal(
    readDeviceToken(config.token, KeyRing.of(...config.controlKeys)).cnf,
    publicKeyOf(device!.current().deviceKey),
  );
  t.same(tls, {}, 'no pin in this grant: no TLS options');
});

// ---- proof, renewal, rotation ------------------------------------------------------------------

/** A WebSocket endpoint that records each upgrade's headers; those `refuse` says yes to get 401. */
async function upgradeRecorder(
  t: Test,
  refuse: (h: Record<string, string | undefined>) => boolean = () => false,
) {
  const upgrades: Record<string, string | undefined>[] = [];
  const wss = new WebSocketServer({
    port: 0,
    host: '127.0.0.1',
    verifyClient: (info, done) => {
      const h = {
        authorization: info.req.headers.authorization,
        proof: info.req.headers[DEVICE_PROOF_HEADER] as string | undefined,
      };
      upgrades.push(h);
      if (refuse(h)) done(false, 401);
      else done(true);
    },
  });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  t.teardown(() => new Promise<void>((resolve) => wss.close(() => resolve())));
  return { url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, upgrades };
}

function connect(t: Test, url: string, device: EnrolledDevice) {
  const conn = new GatewayConnection({
    url,
    token: () => device.current(),
    onRefused: (status) => device.refused(status),
    logger,
    hello: () => ({ type: 'hello', deviceId: DEVICE, version: 't', resume: {} }),
    onFrame: () => undefined,
    backoffBaseMs: 20,
    backoffMaxMs: 50,
  });
  t.teardown(() => conn.stop());
  conn.start();
  return conn;
}

const bearer = (h: Record<string, string | undefined>) => h.authorization!.replace(/^Bearer /, '');

function checkProof(t: Test, h: Record<string, string | undefined>, device: EnrolledDevice) {
  const token = bearer(h);
  const cnf = publicKeyOf(device.current().deviceKey);
  t.doesNotThrow(
    () => verifyDeviceProof(h.proof, { token, sub: DEVICE, cnf }, Date.now()),
    'the proof verifies',
  );
  t.throws(
    () => verifyDeviceProof(h.proof, { token: `${token}x`, sub: DEVICE, cnf }, Date.now()),
    'for this credential only',
  );
}

t.test('each connection attempt carries the current credential and a proof that verifies', async (t) => {
  const fake = await fakeEnrolment(t);
  const sd = stateDir();
  await enrol({ token: fake.ticket(), stateDir: sd });
  const device = await EnrolledDevice.open({ stateDir: sd, logger, renewCheckMs: 50, wgInterface: false });
  // The gateway refuses the enrolment's credential (as it would an expired one): 401.
  const gw = await upgradeRecorder(t, (h) => bearer(h) === fake.state.credentials[0]);
  device.start();
  t.teardown(() => device.stop());
  const conn = connect(t, gw.url, device);
  await waitFor(() => conn.connected, 'connected after a refusal');
  const first = gw.upgrades[0];
  const second = gw.upgrades.at(-1);
  t.equal(bearer(first!), fake.state.credentials[0], 'first attempt: the enrolment credential');
  checkProof(t, first!, device);
  t.equal(fake.received.filter((r) => r.path === '/renew').length, 1, 'the 401 made the device renew');
  t.equal(
    bearer(second!),
    fake.state.credentials[1],
    'the renewed credential is used from the next attempt on',
  );
  checkProof(t, second!, device);
});

t.test('a credential past two thirds of its life is renewed, and written durably', async (t) => {
  const fake = await fakeEnrolment(t, { ttlMs: 3 * HOUR, ageMs: 2.5 * HOUR });
  const sd = stateDir();
  await enrol({ token: fake.ticket(), stateDir: sd });
  const before = EnrolmentRecord.parse(JSON.parse(readFileSync(join(sd, 'enrolment.json'), 'utf8')));
  fake.state.ageMs = 0;
  const device = await EnrolledDevice.open({ stateDir: sd, logger, renewCheckMs: 50, wgInterface: false });
  device.start();
  t.teardown(() => device.stop());
  await waitFor(() => fake.received.some((r) => r.path === '/renew'), 'a renewal');
  await waitFor(() => device.current().credential !== before.grant.credential, 'the new credential');
  const renew = fake.received.find((r) => r.path === '/renew')!;
  t.ok(renew.verified, 'signed by the device key');
  t.same(Object.keys(renew.body).sort(), ['deviceId', 'kid', 'sig', 'ts', 'typ', 'v']);
  const after = EnrolmentRecord.parse(JSON.parse(readFileSync(join(sd, 'enrolment.json'), 'utf8')));
  t.equal(after.grant.credential, fake.state.credentials[1], 'enrolment.json holds the new credential');
  t.equal(mode(join(sd, 'enrolment.json')), 0o600);
  t.same(after.grant.tunnel, before.grant.tunnel, 'the rest of the grant is kept');
  t.equal(device.status().lastError, null);
  device.stop();
  const renewals = fake.received.filter((r) => r.path === '/renew').length;
  t.equal(renewals, 1, 'a fresh credential is not renewed again');
});

t.test('an expired credential is renewed before the first connection; failures are retried', async (t) => {
  const fake = await fakeEnrolment(t, { ttlMs: HOUR, ageMs: 2 * HOUR });
  const sd = stateDir();
  await enrol({ token: fake.ticket(), stateDir: sd });
  fake.state.ageMs = 0;
  fake.state.fail.set('/renew', { status: 503, error: 'E_ENROLMENT_DISABLED', message: 'maintenance' });
  const device = await EnrolledDevice.open({ stateDir: sd, logger, renewCheckMs: 50, wgInterface: false });
  const problems: string[] = [];
  device.onProblem = (p) => problems.push(p);
  await device.prepare();
  t.match(device.status().lastError, /credential renewal failed: .*E_ENROLMENT_DISABLED: maintenance/);
  t.equal(problems.length, 1, 'reported');
  t.notOk(problems[0]!.includes(device.current().credential), 'no credential in the report');
  device.start();
  t.teardown(() => device.stop());
  await waitFor(() => device.status().lastError === null, 'the retry succeeds');
  t.equal(device.current().credential, fake.state.credentials[1]);

  // A second device, expired, with the endpoint up: renewed before it ever connects.
  const fake2 = await fakeEnrolment(t, { ttlMs: HOUR, ageMs: 2 * HOUR });
  const sd2 = stateDir();
  await enrol({ token: fake2.ticket(), stateDir: sd2 });
  fake2.state.ageMs = 0;
  const device2 = await EnrolledDevice.open({
    stateDir: sd2,
    logger,
    renewCheckMs: HOUR,
    wgInterface: false,
  });
  await device2.prepare();
  const gw = await upgradeRecorder(t);
  const conn = connect(t, gw.url, device2);
  await waitFor(() => conn.connected, 'connected');
  t.equal(
    bearer(gw.upgrades[0]!),
    fake2.state.credentials[1],
    'the very first attempt carries the renewed credential',
  );
  checkProof(t, gw.upgrades[0]!, device2);
});

t.test('rotation: new keys, both signatures, files replaced, the new key applied', async (t) => {
  const fake = await fakeEnrolment(t, { ttlMs: 3 * HOUR, ageMs: 2.5 * HOUR });
  const sd = stateDir();
  await enrol({ token: fake.ticket(), stateDir: sd });
  const oldPem = readFileSync(join(sd, 'device-key.pem'), 'utf8');
  const oldWg = readFileSync(join(sd, 'wg-private.key'), 'utf8');
  const oldDeviceKey = fake.state.deviceKey!;
  fake.state.ageMs = 0;
  fake.state.rotateKeys = true;
  const wgCalls: string[][] = [];
  const device = await EnrolledDevice.open({
    stateDir: sd,
    logger,
    renewCheckMs: 50,
    wgInterface: 'wg7',
    runWg: async (args) => {
      wgCalls.push(args);
    },
  });
  device.start();
  t.teardown(() => device.stop());
  await waitFor(() => wgCalls.length > 0, 'the new key applied');
  const rotate = fake.received.find((r) => r.path === '/rotate')!;
  t.ok(rotate.verified, 'sig (old key) and newSig (new key) verify');
  const request = rotate.request as Extract<DeviceRequest, { typ: 'rotate' }>;
  t.equal(request.kid, fake.received[0]!.request!.kid, 'signed by the old key');
  t.not(request.devicePublicKey, oldDeviceKey);
  t.throws(
    () => verifyDeviceRequestSignature({ ...request, newSig: request.sig }, oldDeviceKey),
    'newSig is checked',
  );

  const newPem = readFileSync(join(sd, 'device-key.pem'), 'utf8');
  const newWg = readFileSync(join(sd, 'wg-private.key'), 'utf8').trim();
  t.not(newPem, oldPem, 'device-key.pem replaced');
  t.not(newWg, oldWg.trim(), 'wg-private.key replaced');
  const { signerFromPem } = await import('@appliance/protocol');
  t.equal(publicKeyOf(signerFromPem(newPem)), fake.state.deviceKey, 'the key the server registered');
  t.equal(wgPublicKey(newWg), fake.state.wgKey);
  t.match(readFileSync(join(sd, 'wg0.conf'), 'utf8'), `PrivateKey = ${newWg}`);
  t.same(
    readdirSync(sd).filter((f) => f.includes('.next')),
    [],
    'no .next file left',
  );
  for (const f of readdirSync(sd)) t.equal(mode(join(sd, f)), 0o600, `${f} is 0600`);
  t.same(wgCalls[0], ['set', 'wg7', 'private-key', join(sd, 'wg-private.key')]);
  const record = EnrolmentRecord.parse(JSON.parse(readFileSync(join(sd, 'enrolment.json'), 'utf8')));
  t.equal(record.grant.credential, device.current().credential);
  t.equal(
    readDeviceToken(record.grant.credential, KeyRing.of(exportPublicKey(fake.control.publicKey))).cnf,
    fake.state.deviceKey,
  );
  t.equal(
    publicKeyOf(device.current().deviceKey),
    fake.state.deviceKey,
    'proofs are signed with the new key',
  );
});

/** A state folder as a crash in a rotation leaves it: the new keys written as .next files. */
function nextKeys(sd: string): { next: Signer; wg: { privateKey: string; publicKey: string } } {
  const next = generateSigner();
  const wg = generateWgKeyPair();
  writeFileSync(join(sd, 'wg-private.next.key'), `${wg.privateKey}\n`, { mode: 0o600 });
  writeFileSync(join(sd, 'device-key.next.pem'), exportPrivateKeyPem(next), { mode: 0o600 });
  return { next, wg };
}

t.test('a crash before the rotation was answered: the restart sends the same new keys again', async (t) => {
  const fake = await fakeEnrolment(t);
  const sd = stateDir();
  await enrol({ token: fake.ticket(), stateDir: sd });
  const { next, wg } = nextKeys(sd);
  const device = await EnrolledDevice.open({ stateDir: sd, logger, wgInterface: false });
  await device.prepare();
  const rotate = fake.received.find((r) => r.path === '/rotate');
  t.ok(rotate?.verified, 'the rotation was sent');
  t.equal(rotate!.body.devicePublicKey, publicKeyOf(next), 'with the new device key from the .next file');
  t.equal(rotate!.body.wgPublicKey, wg.publicKey);
  t.equal(readFileSync(join(sd, 'device-key.pem'), 'utf8'), exportPrivateKeyPem(next));
  t.notOk(existsSync(join(sd, 'device-key.next.pem')));
});

t.test('a crash after the rotation was answered: the restart finishes it without the server', async (t) => {
  const fake = await fakeEnrolment(t);
  const sd = stateDir();
  await enrol({ token: fake.ticket(), stateDir: sd });
  const { next, wg } = nextKeys(sd);
  // enrolment.json already holds the grant for the new key (the first step after the answer).
  const record = EnrolmentRecord.parse(JSON.parse(readFileSync(join(sd, 'enrolment.json'), 'utf8')));
  const credential = issueDeviceToken(
    { sub: DEVICE, scope: 'family', iat: Date.now(), ttlMs: HOUR, cnf: publicKeyOf(next) },
    fake.control,
  );
  writeFileSync(
    join(sd, 'enrolment.json'),
    JSON.stringify({ ...record, grant: { ...record.grant, credential } }),
  );
  const device = await EnrolledDevice.open({ stateDir: sd, logger, wgInterface: false });
  await device.prepare();
  t.equal(fake.received.length, 1, 'only the enrolment: nothing sent at restart');
  t.equal(readFileSync(join(sd, 'device-key.pem'), 'utf8'), exportPrivateKeyPem(next));
  t.equal(readFileSync(join(sd, 'wg-private.key'), 'utf8').trim(), wg.privateKey);
  t.match(readFileSync(join(sd, 'wg0.conf'), 'utf8'), `PrivateKey = ${wg.privateKey}`);
  t.same(
    readdirSync(sd).filter((f) => f.includes('.next')),
    [],
  );
  t.equal(publicKeyOf(device.current().deviceKey), publicKeyOf(next));
});

t.test(
  "the gateway's certificate pinned by the grant: the only trust anchor, checked before the upgrade is sent",
  async (t) => {
    const certDir = mkdtempSync(join(dir, 'gw-cert-'));
    const ca = makeTestCa(certDir, 'gw-ca');
    const cert = makeSignedTestCert(certDir, ca, 'DNS:haproxy.example', 'gw');
    const pin = new X509Certificate(cert.certPem).fingerprint256.replace(/:/g, '').toLowerCase();
    const server = createHttpsServer({ key: cert.keyPem, cert: cert.certPem });
    const upgrades: (string | undefined)[] = [];
    const wss = new WebSocketServer({ server });
    server.on('upgrade', (req: IncomingMessage) =>
      upgrades.push(req.headers[DEVICE_PROOF_HEADER] as string | undefined),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.teardown(() => {
      wss.close();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    });
    const url = `wss://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const key = generateSigner();
    const credential = { deviceId: DEVICE, credential: 'a-credential-for-tests', deviceKey: key };
    const open = (pinned: string) => {
      const conn = new GatewayConnection({
        url,
        token: () => credential,
        tls: { pinnedLeafSha256: pinned },
        logger,
        hello: () => ({ type: 'hello', deviceId: DEVICE, version: 't', resume: {} }),
        onFrame: () => undefined,
        backoffBaseMs: 20,
        backoffMaxMs: 50,
      });
      t.teardown(() => conn.stop());
      conn.start();
      return conn;
    };
    const wrong = open('cd'.repeat(32));
    await waitFor(() => wrong.lastFailure !== undefined, 'a failure');
    t.match(wrong.lastFailure, /not the one this device's enrolment pinned/);
    t.equal(upgrades.length, 0, 'a wrong certificate never sees the upgrade request (nor the credential)');
    await wrong.stop();
    // Self-signed by a CA the device never heard of, for another name: the pin alone decides.
    const right = open(pin);
    await waitFor(() => right.connected, 'connected');
    t.equal(upgrades.length, 1);
    t.doesNotThrow(() =>
      verifyDeviceProof(
        upgrades[0],
        { token: credential.credential, sub: DEVICE, cnf: publicKeyOf(key) },
        Date.now(),
      ),
    );
  },
);

t.test(
  'a crash after the server switched keys, before anything was written: a renewal with the new key completes it',
  async (t) => {
    const fake = await fakeEnrolment(t);
    const sd = stateDir();
    await enrol({ token: fake.ticket(), stateDir: sd });
    const { next, wg } = nextKeys(sd);
    // The server took the rotation (the old key is retired: a repeat signed by it is refused).
    fake.state.deviceKey = publicKeyOf(next);
    fake.state.wgKey = wg.publicKey;
    const device = await EnrolledDevice.open({ stateDir: sd, logger, wgInterface: false });
    await device.prepare();
    const paths = fake.received.map((r) => r.path);
    t.same(
      paths,
      ['/enrol', '/rotate', '/renew'],
      'the repeat was refused, the renewal with the new key taken',
    );
    t.ok(fake.received[2]!.verified, 'the renewal is signed by the new key');
    t.equal(readFileSync(join(sd, 'device-key.pem'), 'utf8'), exportPrivateKeyPem(next));
    t.equal(readFileSync(join(sd, 'wg-private.key'), 'utf8').trim(), wg.privateKey);
    t.same(
      readdirSync(sd).filter((f) => f.includes('.next')),
      [],
    );
    const record = EnrolmentRecord.parse(JSON.parse(readFileSync(join(sd, 'enrolment.json'), 'utf8')));
    t.equal(
      readDeviceToken(record.grant.credential, KeyRing.of(exportPublicKey(fake.control.publicKey))).cnf,
      publicKeyOf(next),
    );
    t.equal(record.grant.tunnel.address, '10.77.0.5', 'the tunnel is kept');
    t.equal(device.status().lastError, null);
  },
);
