// A real HAProxy as the tunnel deployment renders it: the devices' frontend without TLS (inside
// WireGuard) and with a deny list, and the public enrolment frontend in front of a stand-in control
// server. Behaviour only, never timing.
import { createServer, request as httpRequest, type IncomingMessage } from 'node:http';
import { request } from 'node:https';
import { connect } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { requireTool } from '@appliance/test-kit';
import { denyAddress, startHaproxy, type ClusterInput } from '../src/index.js';
import { freePort, makeCert } from './fixtures.js';
import { startBackend } from './proxy-v2-backend.js';

if (!requireTool('haproxy', 'haproxy') || !requireTool('openssl', 'openssl')) {
  t.comment('haproxy or openssl is not installed: apt-get install haproxy openssl');
} else {
  t.test('the tunnel-side frontend and the public enrolment frontend', (t) => live(t));
}

async function live(t: Test) {
  const cert = makeCert(t);
  const gateway = await startBackend('gw-a');
  t.teardown(() => gateway.close());
  // The stand-in control server: records every request that reaches it.
  const reached: { method: string; url: string; forwardedFor: string | undefined }[] = [];
  const control = createServer((req: IncomingMessage, res) => {
    reached.push({
      method: req.method ?? '',
      url: req.url ?? '',
      forwardedFor: req.headers['x-forwarded-for'] as string | undefined,
    });
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'));
  });
  await new Promise<void>((resolve) => control.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => control.close(() => resolve())));
  const controlPort = (control.address() as { port: number }).port;

  const [devicesPort, enrolPort] = [await freePort(), await freePort()];
  const denyFile = join(cert.dir, 'denied.lst');
  const socket = join(cert.dir, 'admin.sock');
  const cluster: ClusterInput = {
    gateways: [{ name: 'gw-a', host: '127.0.0.1', port: gateway.port }],
    bind: { host: '127.0.0.1', port: devicesPort },
    tls: false,
    denyList: { file: denyFile },
    enrolment: {
      bind: { host: '127.0.0.1', port: enrolPort },
      tls: { certFile: cert.pemFile },
      controlServer: { host: '127.0.0.1', port: controlPort },
    },
    limits: { maxConnPerSource: 20, connRatePerSourcePer10s: 200, maxConn: 200 },
    timeouts: { healthCheckIntervalMs: 200 },
    stats: { socket },
  };
  const haproxy = await startHaproxy(cluster, cert.dir);
  t.teardown(() => haproxy.stop());
  await haproxy.waitFor('UP');

  const enrol = (method: string, path: string) =>
    new Promise<number>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: enrolPort,
          path,
          method,
          ca: cert.certPem,
          servername: 'localhost',
          agent: false,
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end(method === 'POST' ? '{}' : undefined);
    });

  t.test('the enrolment frontend passes POST /enrol, /renew and /rotate, and nothing else', async (t) => {
    for (const path of ['/enrol', '/renew', '/rotate'])
      t.equal(await enrol('POST', path), 200, `POST ${path}`);
    const passed = reached.length;
    for (const [method, path] of [
      ['GET', '/enrol'],
      ['POST', '/api/devices'],
      ['POST', '/api/enrolments'],
      ['GET', '/api/fleet'],
      ['GET', '/'],
      ['POST', '/%65nrol'],
      ['POST', '//enrol'],
      ['POST', '/enrol/../api/devices'],
      ['POST', '/ENROL'],
      ['POST', '/enrol?x=1'],
    ] as const)
      t.equal(await enrol(method, path), 404, `${method} ${path}: 404`);
    t.equal(reached.length, passed, 'none of those reached the control server');
    t.same(
      reached.map((r) => r.url),
      ['/enrol', '/renew', '/rotate'],
    );
    t.ok(
      reached.every((r) => r.forwardedFor === '127.0.0.1'),
      'the control server learns the device address',
    );
  });

  /** A plain HTTP request to the devices' frontend from a given loopback source address. */
  const fromAddress = (localAddress: string) =>
    new Promise<'answered' | 'refused'>((resolve) => {
      const req = httpRequest(
        { host: '127.0.0.1', port: devicesPort, path: '/', localAddress, agent: false },
        (res) => {
          res.resume();
          res.on('end', () => resolve('answered'));
        },
      );
      req.on('error', () => resolve('refused'));
      req.end();
    });

  t.test(
    'a denied tunnel address is refused at once, the others are not, and the file keeps it',
    async (t) => {
      t.equal(await fromAddress('127.0.0.2'), 'answered', 'before: answered (404 from the allow-list)');
      await denyAddress({ file: denyFile, socket }, '127.0.0.2');
      t.equal(await fromAddress('127.0.0.2'), 'refused', 'after: the connection is refused');
      t.equal(await fromAddress('127.0.0.3'), 'answered', 'another address is untouched');
      t.match(readFileSync(denyFile, 'utf8'), /^127\.0\.0\.2$/m, 'kept for the next start');
      await t.rejects(denyAddress({ file: denyFile, socket }, '127.0.0.2 or true'), {
        code: 'E_HAPROXY_INVALID',
      });
      t.notMatch(readFileSync(denyFile, 'utf8'), /true/, 'a value that is not an address is never written');
      // The TCP level: the refused source gets its connection closed before any byte.
      const closedAtOnce = await new Promise<boolean>((resolve) => {
        const s = connect({ host: '127.0.0.1', port: devicesPort, localAddress: '127.0.0.2' });
        let data = false;
        s.on('data', () => (data = true));
        s.on('close', () => resolve(!data));
        s.on('error', () => undefined);
      });
      t.ok(closedAtOnce, 'closed without an answer');
    },
  );
}
