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

  /** A device's connection: the WebSocket upgrade on "/", as signal-client makes it. */
  type Reply = { backend: string; source: string; forwardedFor: string | null; echo: string };
  const open = (opts: { headers?: Record<string, string>; localAddress?: string } = {}) =>
    new Promise<{ ws: WebSocket; reply: Reply; tls: string | null }>((resolve, reject) => {
      const ws = new WebSocket(`wss://127.0.0.1:${port}/`, { ca: cert.certPem, ...opts });
      let tls: string | null = null;
      ws.once('upgrade', (res) => (tls = (res.socket as TLSSocket).getProtocol?.() ?? null));
      ws.once('open', () => ws.send('hello'));
      ws.once('message', (data) => resolve({ ws, reply: JSON.parse(data.toString()) as Reply, tls }));
      ws.once('error', reject);
    });
  /** Opens a device connection, takes its reply and closes it. */
  const who = async (opts: Parameters<typeof open>[0] = {}) => {
    const { ws, reply, tls } = await open(opts);
    ws.terminate();
    return { ...reply, tls };
  };

  t.test(
    'device connections are spread over both gateways, each told the client address by PROXY v2',
    async (t) => {
      const answers = [];
      for (let i = 0; i < 8; i++) {
        const a = await who({ headers: { 'x-forwarded-for': '6.6.6.6' } });
        t.equal(a.tls, 'TLSv1.3', 'TLS terminated by HAProxy with a modern protocol');
        answers.push(a);
      }
      const seen = new Set(answers.map((a) => a.backend));
      t.same([...seen].sort(), ['gw-a', 'gw-b'], 'both gateways answered');
      for (const a of answers) {
        t.equal(a.source, '127.0.0.1', 'the PROXY v2 header carries the client address');
        t.equal(a.forwardedFor, '127.0.0.1', "the client's own X-Forwarded-For is replaced");
        t.equal(a.echo, 'hello', 'the tunnel carries frames after the upgrade');
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

  t.test('leastconn sends each new device to the gateway holding the fewest', async (t) => {
    const first = await open();
    t.teardown(() => first.ws.terminate());
    const second = await open();
    t.teardown(() => second.ws.terminate());
    t.not(second.reply.backend, first.reply.backend, 'the second socket went to the other gateway');
    // The tunnel carries further frames both ways after the upgrade.
    const again = await new Promise<string>((resolve) => {
      first.ws.once('message', (d) => resolve((JSON.parse(d.toString()) as Reply).echo));
      first.ws.send('still there');
    });
    t.equal(again, 'still there');
    // The first gateway's device leaves: once HAProxy counts it gone, the next device goes there,
    // though round-robin would not.
    first.ws.terminate();
    await waitFor(
      async () => (await haproxy.serverStats())[first.reply.backend]?.scur === '0',
      `${first.reply.backend} to hold no connection`,
    );
    const third = await open();
    t.teardown(() => third.ws.terminate());
    t.equal(third.reply.backend, first.reply.backend, 'the third socket went to the emptier gateway');
  });

  t.test(
    'the public frontend passes only the device upgrade on "/": /metrics and /healthz, encoded or not, are 404 and reach no gateway',
    async (t) => {
      const before = backends.map((b) => b.requests.length);
      const paths = [
        '/metrics',
        '/%6Detrics',
        '/%6d%65trics',
        '//metrics',
        '/./metrics',
        '/x/../metrics',
        '/METRICS',
        '/metrics?format=prometheus',
        '/metrics/',
        '/healthz',
        '/%68ealthz',
        '//healthz',
        '/',
        '/who',
        `https://127.0.0.1:${port}/metrics`,
      ];
      for (const path of paths) {
        const res = await get(path);
        t.equal(res.status, 404, `GET ${path}: 404`);
        t.notMatch(res.body, /gateway_metrics_of_/, `GET ${path}: no gateway metrics`);
      }
      // An upgrade on another path, or another method on "/", is refused the same way.
      const upgradeElsewhere = await new Promise<number>((resolve) => {
        const ws = new WebSocket(`wss://127.0.0.1:${port}/metrics`, { ca: cert.certPem });
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.on('open', () => resolve(101));
        ws.on('error', () => resolve(-1));
      });
      t.equal(upgradeElsewhere, 404, 'a WebSocket upgrade on /metrics: 404');
      const post = await new Promise<number>((resolve, reject) => {
        const req = request(
          { host: '127.0.0.1', port, path: '/', method: 'POST', ca: cert.certPem, agent: false },
          (res) => {
            res.resume();
            resolve(res.statusCode!);
          },
        );
        req.on('error', reject);
        req.end('x');
      });
      t.equal(post, 404, 'POST /: 404');

      // Devices still connect.
      const device = await who();
      t.equal(device.echo, 'hello', 'a device still connects through the same frontend');
      // What the gateways got from outside since: that device's upgrade on "/", nothing else
      // (health checks come from HAProxy itself, with a LOCAL header).
      const relayed = backends.flatMap((b, i) =>
        b.requests.slice(before[i]).filter((r) => r.command === 'PROXY'),
      );
      t.same(relayed, [{ url: '/', command: 'PROXY' }], 'only the device upgrade reached a gateway');
    },
  );

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
    const other = await who();
    t.equal(other.echo, 'hello', 'another source is still served: the limit is per source');
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

  t.test(
    "gateway/README.md's drain procedure: drain takes no new devices and keeps the old, ready takes them again",
    async (t) => {
      /** gw-a's row of `show servers state be_gateways`: srv_op_state (2 UP, 0 DOWN) and srv_admin_state (8 drain, 0 ready). */
      const state = async () => {
        const [, head, ...rows] = (await admin('show servers state be_gateways')).trim().split('\n');
        const cols = head!.replace(/^# /, '').split(' ');
        const row = rows.map((r) => r.split(' ')).find((r) => r[cols.indexOf('srv_name')] === 'gw-a')!;
        return {
          op: row[cols.indexOf('srv_op_state')],
          admin: row[cols.indexOf('srv_admin_state')],
        };
      };
      const idle = () =>
        waitFor(
          async () => Object.values(await haproxy.serverStats()).every((r) => r.scur === '0'),
          'both gateways to hold no connection',
        );
      await idle();
      const held = await open({ localAddress: '127.0.0.4' });
      t.teardown(() => held.ws.terminate());
      const onA = held.reply.backend === 'gw-a' ? held : await open({ localAddress: '127.0.0.4' });
      t.teardown(() => onA.ws.terminate());
      t.equal(onA.reply.backend, 'gw-a', 'a device on gw-a');

      t.equal(await admin('set server be_gateways/gw-a state drain'), '\n', 'drain: accepted');
      t.same(await state(), { op: '2', admin: '8' }, 'show servers state: gw-a up, admin state 8 (drain)');
      t.equal((await haproxy.serverStatus())['gw-a'], 'DRAIN', 'show stat: DRAIN');
      for (let i = 0; i < 3; i++)
        t.equal((await who({ localAddress: '127.0.0.5' })).backend, 'gw-b', `new device ${i + 1}: gw-b`);
      const still = await new Promise<string>((resolve) => {
        onA.ws.once('message', (d) => resolve((JSON.parse(d.toString()) as Reply).backend));
        onA.ws.send('still there');
      });
      t.equal(still, 'gw-a', 'the device already on gw-a keeps its connection');

      t.equal(await admin('set server be_gateways/gw-a state ready'), '\n', 'ready: accepted');
      t.same(await state(), { op: '2', admin: '0' }, 'show servers state: admin state 0 (ready)');
      await haproxy.waitFor('UP', ['gw-a']);
      onA.ws.terminate();
      held.ws.terminate();
      await idle();
      const back = await open({ localAddress: '127.0.0.6' });
      t.teardown(() => back.ws.terminate());
      const next = await open({ localAddress: '127.0.0.6' });
      t.teardown(() => next.ws.terminate());
      t.same(
        [back.reply.backend, next.reply.backend].sort(),
        ['gw-a', 'gw-b'],
        'gw-a takes new devices again',
      );
    },
  );
}
