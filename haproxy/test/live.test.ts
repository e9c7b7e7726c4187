// ONE real run: HAProxy started from a rendered config, in front of two stand-in gateways that
// require PROXY v2, on loopback. Everything asserted is behaviour, never timing.
import { request } from 'node:https';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import WebSocket from 'ws';
import { requireTool, waitFor } from '@appliance/test-kit';
import { startHaproxy, type ClusterInput } from '../src/index.js';
import { freePort, makeCert } from './fixtures.js';
import { startBackend, type Backend } from './proxy-v2-backend.js';

const LIMITS = { maxConnPerSource: 5, connRatePerSourcePer10s: 30, maxConn: 200 };

if (!requireTool('haproxy', 'haproxy') || !requireTool('openssl', 'openssl')) {
  t.comment('haproxy or openssl is not installed: apt-get install haproxy openssl');
} else {
  // Inside one parent test, so a failed start (HAProxy never reporting both gateways UP) fails
  // that test and still runs every teardown instead of crashing the file with HAProxy left behind.
  t.test('HAProxy from a rendered config in front of two gateways', (t) => live(t));
}

async function live(t: Test) {
  const cert = makeCert(t);
  const backends: Backend[] = [await startBackend('gw-a'), await startBackend('gw-b')];
  t.teardown(() => Promise.all(backends.map((b) => b.close())));
  const port = await freePort();
  const statsSocket = join(cert.dir, 'admin.sock');
  const cluster: ClusterInput = {
    gateways: backends.map((b) => ({ name: b.name, host: '127.0.0.1', port: b.port })),
    bind: { host: '127.0.0.1', port },
    tls: { certFile: cert.pemFile },
    limits: LIMITS,
    // Quick health checks so both gateways are UP soon; the test waits for that, not for a time.
    timeouts: { healthCheckIntervalMs: 200 },
    stats: { socket: statsSocket },
  };
  const haproxy = await startHaproxy(cluster, cert.dir);
  t.teardown(() => haproxy.stop());
  const admin = haproxy.admin;
  await haproxy.waitFor('UP');
  // HAProxy starts servers as UP before checking them: wait for a health check on each.
  await waitFor(
    () => backends.every((b) => b.headers.some((h) => h.command === 'LOCAL')),
    'a health check on each gateway',
  );

  const get = (path: string, opts: { localAddress?: string; headers?: Record<string, string> } = {}) =>
    new Promise<{ status: number; body: string; tls: string | null }>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          path,
          ca: cert.certPem,
          servername: 'localhost',
          agent: false,
          ...opts,
        },
        (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () =>
            resolve({
              status: res.statusCode!,
              body,
              tls: (res.socket as TLSSocket).getProtocol?.() ?? null,
            }),
          );
        },
      );
      req.on('error', reject);
      req.end();
    });

  /** A TLS connection from a given loopback address: accepted (and held) or refused. */
  const attempt = (localAddress: string) =>
    new Promise<{ ok: true; socket: TLSSocket } | { ok: false }>((resolve) => {
      // tls.connect has no localAddress: connect the TCP socket from that address first.
      const tcp = netConnect({ host: '127.0.0.1', port, localAddress });
      const socket = tlsConnect({ socket: tcp, ca: cert.certPem, servername: 'localhost' });
      socket.once('secureConnect', () => resolve({ ok: true, socket }));
      socket.once('error', () => resolve({ ok: false }));
      socket.once('close', () => resolve({ ok: false }));
    });

  t.test(
    'HTTPS requests are spread over both gateways, each told the client address by PROXY v2',
    async (t) => {
      const answers = [];
      for (let i = 0; i < 8; i++) {
        const res = await get('/who', { headers: { 'x-forwarded-for': '6.6.6.6' } });
        t.equal(res.status, 200);
        t.equal(res.tls, 'TLSv1.3', 'TLS terminated by HAProxy with a modern protocol');
        answers.push(JSON.parse(res.body) as { backend: string; source: string; forwardedFor: string });
      }
      const seen = new Set(answers.map((a) => a.backend));
      t.same([...seen].sort(), ['gw-a', 'gw-b'], 'both gateways answered');
      for (const a of answers) {
        t.equal(a.source, '127.0.0.1', 'the PROXY v2 header carries the client address');
        t.equal(a.forwardedFor, '127.0.0.1', "the client's own X-Forwarded-For is replaced");
      }
      for (const b of backends) {
        const relayed = b.headers.filter((h) => h.command === 'PROXY');
        t.ok(relayed.length > 0, `${b.name} got PROXY headers for relayed connections`);
        for (const h of relayed) {
          t.equal(h.source?.address, '127.0.0.1');
          t.same(h.destination, { address: '127.0.0.1', port }, 'destination is the HAProxy frontend');
        }
        t.ok(
          b.headers.some((h) => h.command === 'LOCAL'),
          `${b.name}: health checks send a LOCAL PROXY v2 header`,
        );
        t.equal(b.refused, 0, `${b.name}: no connection came without a PROXY v2 header`);
      }
    },
  );

  t.test('a WebSocket upgrade works through HAProxy, and leastconn balances open sockets', async (t) => {
    const open = (): Promise<{ ws: WebSocket; reply: { backend: string; source: string; echo: string } }> =>
      new Promise((resolve, reject) => {
        const ws = new WebSocket(`wss://127.0.0.1:${port}/ws`, { ca: cert.certPem });
        ws.once('open', () => ws.send('hello'));
        ws.once('message', (data) => resolve({ ws, reply: JSON.parse(data.toString()) }));
        ws.once('error', reject);
      });
    const first = await open();
    t.teardown(() => first.ws.terminate());
    t.equal(first.reply.echo, 'hello');
    t.equal(first.reply.source, '127.0.0.1', 'the gateway knows the device address on the WebSocket too');
    // The first socket stays open, so its gateway holds one connection more: leastconn sends every
    // new connection to the other one (round-robin would alternate).
    for (let i = 0; i < 4; i++) {
      const who = JSON.parse((await get('/who')).body) as { backend: string };
      t.not(who.backend, first.reply.backend, `request ${i + 1} went to the less loaded gateway`);
    }
    const second = await open();
    t.teardown(() => second.ws.terminate());
    t.not(second.reply.backend, first.reply.backend, 'the second socket went to the less loaded gateway');
    // The tunnel carries further frames both ways after the upgrade.
    const again = await new Promise<string>((resolve) => {
      first.ws.once('message', (d) => resolve(JSON.parse(d.toString()).echo));
      first.ws.send('still there');
    });
    t.equal(again, 'still there');
  });

  t.test('a flood of new connections from one source is refused beyond the rate limit', async (t) => {
    // 127.0.0.2 is loopback too but its own source in the stick table, so earlier tests do not count.
    const results: boolean[] = [];
    for (let i = 0; i < 2 * LIMITS.connRatePerSourcePer10s; i++) {
      const r = await attempt('127.0.0.2');
      results.push(r.ok);
      if (r.ok) r.socket.destroy();
    }
    const accepted = results.filter(Boolean).length;
    t.ok(accepted >= 1, 'the first connections are accepted');
    t.ok(accepted < results.length, `some were refused (${results.length - accepted} of ${results.length})`);
    // The rate only grows during the flood, so once refused, every later one is refused.
    const firstRefused = results.indexOf(false);
    t.same(
      results.slice(firstRefused),
      results.slice(firstRefused).map(() => false),
      'every attempt after the first refusal is refused',
    );
    // HAProxy estimates a sliding 10 s rate; at a window boundary it may let one more through.
    t.ok(accepted <= LIMITS.connRatePerSourcePer10s + 1, `at most about the limit accepted (${accepted})`);
    const table = await admin('show table fe_devices');
    const rate = Number(/key=127\.0\.0\.2 .*conn_rate\(10000\)=(\d+)/.exec(table)?.[1]);
    t.ok(rate > LIMITS.connRatePerSourcePer10s, `the stick table counted the flood (conn_rate ${rate})`);
    const other = await get('/who');
    t.equal(other.status, 200, 'another source is still served: the limit is per source');
  });

  t.test('more concurrent connections from one source than maxConnPerSource are refused', async (t) => {
    const held: TLSSocket[] = [];
    t.teardown(() => held.forEach((s) => s.destroy()));
    for (let i = 0; i < LIMITS.maxConnPerSource; i++) {
      const r = await attempt('127.0.0.3');
      t.ok(r.ok, `connection ${i + 1} of ${LIMITS.maxConnPerSource} accepted`);
      if (r.ok) held.push(r.socket);
    }
    const extra = await attempt('127.0.0.3');
    t.notOk(extra.ok, 'one more is refused while the others are open');
    if (extra.ok) extra.socket.destroy();
  });
}
