// The admin port: health and metrics for the operator's monitoring on a listener of their own,
// plain HTTP, while the device port (behind HAProxy, PROXY v2) keeps only /healthz. And what the
// gateway logs about itself: `ready`, `listening`, and revocation lists only when they change.
import { createConnection } from 'node:net';
import { Writable } from 'node:stream';
import t from 'tap';
import pino from 'pino';
import WebSocket from 'ws';
import { EmbeddedBus, KeyRing, TOPICS, exportPublicKey } from '@appliance/protocol';
import { requireTool, spawnNode, startKafkaMock, waitFor } from '@appliance/test-kit';
import { PROXY_V2_SIGNATURE, createGateway } from '../src/index.js';
import { control, feed, genuineControl, startGateway } from './fixtures.js';

/** HAProxy's health-check header: PROXY v2, command LOCAL, no addresses. */
const LOCAL_HEADER = Buffer.concat([PROXY_V2_SIGNATURE, Buffer.from([0x20, 0x00, 0, 0])]);

/** One raw HTTP/1.1 GET on a fresh TCP connection, optionally after a PROXY v2 header: the status line. */
function rawGet(url: string, path: string, header?: Buffer): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const s = createConnection({ host: hostname, port: Number(port) }, () => {
      const request = Buffer.from(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      s.write(header ? Buffer.concat([header, request]) : request);
    });
    let text = '';
    s.on('data', (d) => (text += d.toString()));
    s.on('error', () => undefined);
    s.on('close', () => resolve(text.split('\r\n')[0] ?? ''));
  });
}

/** What a WebSocket upgrade on `url` gets: 101, or the HTTP status it was refused with (0: dropped). */
function upgradeStatus(url: string): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    ws.on('open', () => {
      ws.terminate();
      resolve(101);
    });
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.on('error', () => resolve(0));
  });
}

t.test(
  'behind PROXY v2, /metrics is served on the admin port only; the device port keeps /healthz',
  async (t) => {
    const gateway = await createGateway({
      bus: new EmbeddedBus(),
      tokenKeys: KeyRing.of(exportPublicKey(control.publicKey)),
      signalKeys: KeyRing.of(exportPublicKey(feed.publicKey)),
      logger: pino({ level: 'silent' }),
      options: { proxyProtocol: true, gatewayId: 'gw-admin' },
    });
    t.teardown(() => gateway.close());
    const adminUrl = await gateway.listenAdmin(0);
    const url = await gateway.listen(0);
    t.equal(gateway.adminUrl, adminUrl, 'the gateway exposes its admin URL');
    t.equal(gateway.url, url, 'and its device URL');
    t.match(adminUrl, /^http:\/\/127\.0\.0\.1:\d+$/);

    // The operator's monitoring: plain HTTP, no PROXY header.
    const metrics = await fetch(`${adminUrl}/metrics`);
    t.equal(metrics.status, 200, 'admin /metrics: 200 without a PROXY header');
    t.match(await metrics.text(), /gateway_connections\{gateway="gw-admin"\}/);
    const health = await fetch(`${adminUrl}/healthz`);
    t.equal(health.status, 200, 'admin /healthz: 200');
    t.match(await health.json(), { status: 'ok', gateway: 'gw-admin' });
    t.equal((await fetch(`${adminUrl}/other`)).status, 404, 'nothing else on the admin port');
    t.equal(
      await upgradeStatus(adminUrl.replace('http:', 'ws:')),
      404,
      'the admin port never upgrades to a WebSocket',
    );
    t.match(
      await rawGet(adminUrl, '/metrics', LOCAL_HEADER),
      /^HTTP\/1\.1 400/,
      'the admin port never expects a PROXY header: one is not HTTP (400)',
    );

    // The device port, as HAProxy reaches it (PROXY v2 LOCAL, as its health checks).
    t.match(await rawGet(url, '/healthz', LOCAL_HEADER), /^HTTP\/1\.1 200/, 'device port /healthz: 200');
    t.match(
      await rawGet(url, '/metrics', LOCAL_HEADER),
      /^HTTP\/1\.1 404/,
      'device port /metrics: 404 once the admin port is open',
    );
  },
);

t.test('without an admin port, /metrics stays on the device port, as before', async (t) => {
  const { gateway, url } = await startGateway(t);
  t.equal(gateway.adminUrl, undefined);
  const res = await fetch(`${url.replace('ws:', 'http:')}/metrics`);
  t.equal(res.status, 200);
  t.match(await res.text(), /gateway_connections/);
});

t.test('with an admin port, the device port (no PROXY protocol) answers /metrics with 404', async (t) => {
  const bus = new EmbeddedBus();
  const gateway = await createGateway({
    bus,
    tokenKeys: KeyRing.of(exportPublicKey(control.publicKey)),
    signalKeys: KeyRing.of(exportPublicKey(feed.publicKey)),
    logger: pino({ level: 'silent' }),
  });
  t.teardown(() => gateway.close());
  const adminUrl = await gateway.listenAdmin(0);
  const http = (await gateway.listen(0)).replace('ws:', 'http:');
  t.equal((await fetch(`${http}/metrics`)).status, 404, 'device port /metrics: 404');
  t.equal((await fetch(`${http}/healthz`)).status, 200, 'device port /healthz: 200');
  t.equal((await fetch(`${adminUrl}/metrics`)).status, 200, 'admin port /metrics: 200');
});

/** A logger whose lines (at debug and above) are kept, parsed. */
function capturingLogger() {
  const lines: { level: number; msg: string; [k: string]: unknown }[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l));
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

t.test(
  'ready says what it means; a republished revocation list is debug, a changed one info with what changed',
  async (t) => {
    const { logger, lines } = capturingLogger();
    const bus = new EmbeddedBus();
    const gateway = await createGateway({
      bus,
      tokenKeys: KeyRing.of(exportPublicKey(control.publicKey)),
      signalKeys: KeyRing.of(exportPublicKey(feed.publicKey)),
      logger,
    });
    t.teardown(() => gateway.close());
    const ready = lines.find((l) => l.msg.startsWith('ready: '));
    t.ok(ready, 'a ready line');
    t.match(ready?.msg, /subscribed to signals and control/);
    t.equal(ready?.level, 30, 'at info');

    const revocation = (version: number, devices: string[]) =>
      bus.publish(TOPICS.control, [
        {
          key: 'revocation',
          value: JSON.stringify(genuineControl({ kind: 'revocation', version, body: { devices } })),
        },
      ]);
    const updates = () => lines.filter((l) => l.msg === 'revocation list updated');
    await revocation(1, ['dev-a', 'dev-b']);
    await waitFor(() => updates().length === 1, 'the first list');
    await revocation(2, ['dev-b', 'dev-a']);
    await waitFor(() => updates().length === 2, 'the same list again');
    await revocation(3, ['dev-b', 'dev-c']);
    await waitFor(() => updates().length === 3, 'a changed list');
    t.match(
      updates().map(({ level, devices, added, removed, version }) => ({
        level,
        devices,
        added,
        removed,
        version,
      })),
      [
        { level: 30, devices: 2, added: 2, removed: 0, version: 1 },
        { level: 20, devices: 2, added: 0, removed: 0, version: 2 },
        { level: 30, devices: 2, added: 1, removed: 1, version: 3 },
      ],
      'info, debug (unchanged, republished), info (one added, one removed)',
    );
  },
);

if (!requireTool('kcat', 'kcat')) {
  t.comment('kcat is not installed (apt-get install kcat): the process test is skipped');
} else {
  t.test(
    'the gateway process: --admin-port serves monitoring, logs its URL; a port in use exits 2 naming it',
    async (t) => {
      const mock = await startKafkaMock();
      t.teardown(() => mock.stop());
      const key = exportPublicKey(control.publicKey);
      const args = ['--kafka', mock.brokers.join(','), '--token-key', key, '--signal-key', key];
      const gw = spawnNode('gateway', 'gateway/src/main.ts', [...args, '--port', '0', '--proxy-protocol'], {
        GATEWAY_ADMIN_PORT: '0',
      });
      t.teardown(() => gw.kill('SIGTERM'));
      const listening = await gw.waitForLog((l) => l.msg === 'listening', 'the gateway to listen');
      const adminUrl = String(listening.adminUrl);
      t.match(adminUrl, /^http:\/\/127\.0\.0\.1:\d+$/, 'the admin URL is logged');
      t.equal(listening.metrics, `${adminUrl}/metrics`, 'and where to scrape');
      t.ok(
        gw.lines.some((l) => String(l.msg).startsWith('ready: ')),
        'ready is logged before listening',
      );
      const res = await fetch(`${adminUrl}/metrics`);
      t.equal(res.status, 200);
      t.match(await res.text(), /gateway_connections/);

      const port = new URL(adminUrl).port;
      // The flag wins over the variable; the port is the first gateway's.
      const clash = spawnNode('gateway-3', 'gateway/src/main.ts', [...args, '--admin-port', port], {
        GATEWAY_ADMIN_PORT: '1',
      });
      const exit = await clash.exited;
      t.equal(exit.code, 2, 'exit 2');
      t.match(
        clash.text.join('\n'),
        new RegExp(
          `adminPort \\(--admin-port, GATEWAY_ADMIN_PORT\\): cannot listen on 127\\.0\\.0\\.1:${port}: EADDRINUSE`,
        ),
      );
    },
  );
}
