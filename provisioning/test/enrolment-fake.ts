// A stand-in for the control server's admin enrolment API (docs/enrolment.md), on 127.0.0.1: it
// records every request and answers what the contract says, with real protocol values (a ticket
// that decodes, a grant that parses, a credential bound to the device key).
import { execFile } from 'node:child_process';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import {
  EnrolmentGrant,
  encodeEnrolmentTicket,
  exportPublicKey,
  generateSigner,
  issueDeviceToken,
} from '@appliance/protocol';
import { REPO_ROOT } from '@appliance/test-kit';
import { generateWgKeyPair } from '@appliance/wireguard';

export const ADMIN_TOKEN = 'admin-token-for-tests-0123456789';
export const NOW = Date.UTC(2026, 11, 4, 6, 0);
const DAY = 86_400_000;

export interface Recorded {
  method: string;
  path: string;
  authorization: string | undefined;
  body: unknown;
}

type Handler = (req: Recorded, params: string[]) => { status: number; body: unknown };

const controlKey = generateSigner();
const concentrator = generateWgKeyPair();

const tokenView = (id: string, deviceId: string, over: Record<string, unknown> = {}) => ({
  id,
  deviceId,
  createdAt: NOW,
  expiresAt: NOW + 7 * DAY,
  maxUses: 1,
  uses: 0,
  revokedAt: null,
  state: 'active',
  createdFrom: null,
  ...over,
});

const summary = (over: Record<string, unknown> = {}) => ({
  enrolled: true,
  tunnelAddress: '10.77.0.2',
  wgPublicKey: concentrator.publicKey,
  deviceKid: 'AbCdEfGhIjKlMnOp',
  enrolledAt: NOW - DAY,
  credentialExpiresAt: NOW + 29 * DAY,
  lastRenewedAt: null,
  renewals: 0,
  renewal: 'ok',
  rotation: { state: 'none', requestedAt: null, completedAt: null, retiredKeys: [] },
  ...over,
});

const deviceView = (id: string, over: Record<string, unknown> = {}) => ({
  id,
  scope: 'family',
  label: '',
  createdAt: NOW - 2 * DAY,
  tokens: [],
  paperAccounts: [],
  enrolment: summary(),
  ...over,
});

/** The grant the real server builds for registered keys. */
function grantFor(deviceId: string, profile: string, devicePublicKey: string): EnrolmentGrant {
  return EnrolmentGrant.parse({
    deviceId,
    profile,
    tunnel: {
      address: '10.77.0.9',
      allowedIps: ['10.77.0.0/16'],
      concentratorPublicKey: concentrator.publicKey,
      endpoint: 'vpn.example.net:51820',
      persistentKeepaliveS: 25,
    },
    gatewayUrl: 'ws://10.77.0.1:8443/',
    signalKeys: [exportPublicKey(generateSigner().publicKey)],
    controlKeys: [exportPublicKey(controlKey.publicKey)],
    credential: issueDeviceToken(
      { sub: deviceId, scope: profile, iat: NOW, ttlMs: 30 * DAY, cnf: devicePublicKey },
      controlKey,
    ),
    credentialExpiresAt: NOW + 30 * DAY,
    rotateKeys: false,
  });
}

let tokenSeq = 0;
function ticketFor(deviceId: string, profile: string, ttlMs = 7 * DAY) {
  const id = `et-${(++tokenSeq).toString(16).padStart(16, '0')}`;
  const token = encodeEnrolmentTicket({
    v: 1,
    url: 'https://enrol.example.net',
    pin: 'ab'.repeat(32),
    id,
    secret: Buffer.alloc(32, tokenSeq).toString('base64url'),
    exp: NOW + ttlMs,
    device: deviceId,
    profile,
  });
  return { id, token };
}

/** The contract's answers, by route; tests replace one with `fake.on(...)` to make it refuse. */
function defaultRoutes(): [string, RegExp, Handler][] {
  return [
    [
      'POST',
      /^\/api\/enrolments$/,
      (r) => {
        const b = r.body as {
          id: string;
          scope: string;
          label?: string;
          tokenTtlMs?: number;
          tokenUses?: number;
        };
        const { id, token } = ticketFor(b.id, b.scope, b.tokenTtlMs);
        return {
          status: 201,
          body: {
            device: deviceView(b.id, {
              scope: b.scope,
              label: b.label ?? '',
              createdAt: NOW,
              enrolment: summary({
                enrolled: false,
                tunnelAddress: null,
                wgPublicKey: null,
                deviceKid: null,
                enrolledAt: null,
                credentialExpiresAt: null,
                renewal: 'never-enrolled',
              }),
            }),
            token,
            enrolmentToken: tokenView(id, b.id, {
              expiresAt: NOW + (b.tokenTtlMs ?? 7 * DAY),
              maxUses: b.tokenUses ?? 1,
            }),
          },
        };
      },
    ],
    [
      'POST',
      /^\/api\/devices\/([^/]+)\/enrolment-tokens$/,
      (r, [id]) => {
        const b = r.body as { tokenTtlMs?: number; tokenUses?: number };
        const t = ticketFor(id!, 'family', b.tokenTtlMs);
        return {
          status: 201,
          body: { token: t.token, enrolmentToken: tokenView(t.id, id!, { maxUses: b.tokenUses ?? 1 }) },
        };
      },
    ],
    [
      'GET',
      /^\/api\/devices$/,
      () => ({
        status: 200,
        body: {
          devices: [
            deviceView('kitchen-01'),
            deviceView('lab-02', {
              scope: 'mandate:acme',
              revokedAt: NOW - 3600_000,
              enrolment: summary({ tunnelAddress: '10.77.0.3', renewal: 'overdue' }),
            }),
            deviceView('shelf-03', {
              enrolment: summary({
                enrolled: false,
                tunnelAddress: null,
                enrolledAt: null,
                credentialExpiresAt: null,
                renewal: 'never-enrolled',
              }),
            }),
          ],
        },
      }),
    ],
    [
      'GET',
      /^\/api\/devices\/([^/]+)$/,
      (_r, [id]) =>
        id === 'kitchen-01'
          ? {
              status: 200,
              body: {
                device: deviceView(id, {
                  label: 'kitchen shelf',
                  tokens: [
                    {
                      issuedAt: NOW - DAY,
                      expiresAt: NOW + 29 * DAY,
                      fingerprint: '0123456789abcdef',
                      from: { ip: '127.0.0.1' },
                    },
                  ],
                  enrolment: summary({
                    renewals: 2,
                    lastRenewedAt: NOW - 3600_000,
                    rotation: {
                      state: 'requested',
                      requestedAt: NOW - 60_000,
                      completedAt: null,
                      retiredKeys: [{ kid: 'OldKeyOldKeyOldK', validUntil: NOW + 600_000 }],
                    },
                  }),
                }),
              },
            }
          : { status: 404, body: { error: 'E_DEVICE_UNKNOWN', message: `no device ${id}` } },
    ],
    [
      'GET',
      /^\/api\/enrolment-tokens$/,
      () => ({
        status: 200,
        body: {
          tokens: [
            tokenView('et-00000000000000aa', 'kitchen-01', { uses: 1, state: 'used' }),
            tokenView('et-00000000000000bb', 'lab-02', {
              maxUses: 5,
              uses: 2,
              state: 'revoked',
              revokedAt: NOW,
            }),
            tokenView('et-00000000000000cc', 'kitchen-01'),
          ],
        },
      }),
    ],
    [
      'POST',
      /^\/api\/enrolment-tokens\/([^/]+)\/revoke$/,
      (_r, [id]) => ({
        status: 200,
        body: { token: tokenView(id!, 'kitchen-01', { state: 'revoked', revokedAt: NOW }) },
      }),
    ],
    [
      'POST',
      /^\/api\/devices\/([^/]+)\/revoke$/,
      (_r, [id]) => ({ status: 200, body: { device: deviceView(id!, { revokedAt: NOW }) } }),
    ],
    [
      'POST',
      /^\/api\/devices\/([^/]+)\/rotate-keys$/,
      (_r, [id]) => ({
        status: 200,
        body: {
          device: deviceView(id!),
          enrolment: summary({
            rotation: { state: 'requested', requestedAt: NOW, completedAt: null, retiredKeys: [] },
          }),
        },
      }),
    ],
    [
      'POST',
      /^\/api\/devices\/([^/]+)\/keys$/,
      (r, [id]) => {
        const b = r.body as { scope?: string; devicePublicKey: string };
        return { status: 200, body: grantFor(id!, b.scope ?? 'family', b.devicePublicKey) };
      },
    ],
  ];
}

export interface Fake {
  url: string;
  requests: Recorded[];
  /** Answers this route (checked before the defaults) until `reset()`. */
  on(method: string, path: RegExp, handler: Handler): void;
  reset(): void;
  close(): Promise<void>;
}

export async function fakeControlServer(): Promise<Fake> {
  const requests: Recorded[] = [];
  let overrides: [string, RegExp, Handler][] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      const rec: Recorded = {
        method: req.method ?? '',
        path,
        authorization: req.headers.authorization,
        body: text ? (JSON.parse(text) as unknown) : undefined,
      };
      requests.push(rec);
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (rec.authorization !== `Bearer ${ADMIN_TOKEN}`)
        return send(401, { error: 'E_UNAUTHORIZED', message: 'admin token required' });
      for (const [method, re, handler] of [...overrides, ...defaultRoutes()]) {
        const m = re.exec(path);
        if (method === rec.method && m) {
          const { status, body } = handler(rec, m.slice(1).map(decodeURIComponent));
          return send(status, body);
        }
      }
      send(404, { error: 'E_NOT_FOUND', message: `${rec.method} ${path}` });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    on: (method, path, handler) => void overrides.unshift([method, path, handler]),
    reset: () => {
      overrides = [];
      requests.length = 0;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** `npm run provision -- …` as a child process, without blocking this process (the fake answers it). */
export function provision(
  args: string[],
  env: Record<string, string | undefined> = {},
): Promise<{ status: number; stdout: string; stderr: string }> {
  const merged: NodeJS.ProcessEnv = { ...process.env, CONTROL_ADMIN_TOKEN: ADMIN_TOKEN };
  delete merged.CONTROL_URL;
  delete merged.CONTROL_ENROL_URL;
  delete merged.CONTROL_ENROL_PIN;
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete merged[k];
    else merged[k] = v;
  }
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', join(REPO_ROOT, 'provisioning/src/main.ts'), ...args],
      { cwd: REPO_ROOT, env: merged, timeout: 60_000 },
      (err, stdout, stderr) =>
        resolve({ status: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}
