/**
 * Hostile input against a real gateway: random and malformed frames, oversized requests, a
 * flood beyond the rate limit, and hundreds of devices that stop reading. The gateway keeps
 * running, its connections and memory stay bounded, and a well-behaved device keeps receiving.
 */
import { request } from 'node:http';
import t, { type Test } from 'tap';
import WebSocket from 'ws';
import pino from 'pino';
import {
  EmbeddedBus,
  KeyRing,
  TOPICS,
  createSignal,
  exportPublicKey,
  generateSigner,
  issueDeviceToken,
} from '@appliance/protocol';
import { seededRandom } from '@appliance/trading-core';
import { telemetryFrame, waitFor } from '@appliance/test-kit';
import { createGateway } from '../src/index.js';

const control = generateSigner();
const feed = generateSigner();
const token = (sub: string) =>
  issueDeviceToken({ sub, scope: 'family', iat: Date.now(), ttlMs: 600_000 }, control);
let candle = 0;
const signal = () =>
  JSON.stringify(
    createSignal(
      {
        stream: 'ema.1h',
        symbol: 'BTC/USDT',
        side: 'buy',
        price: 1,
        candleTime: ++candle,
        ts: Date.now(),
        ttlMs: 60_000,
        strength: 1,
        algoVersion: 'x/1',
        origin: 'f',
      },
      feed,
    ),
  );

async function setup(t: Test, options: object = {}) {
  const bus = new EmbeddedBus();
  const gateway = await createGateway({
    bus,
    tokenKeys: KeyRing.of(exportPublicKey(control.publicKey)),
    signalKeys: KeyRing.of(exportPublicKey(feed.publicKey)),
    logger: pino({ level: 'silent' }),
    options,
  });
  const url = await gateway.listen(0);
  t.teardown(() => gateway.close());
  return { bus, gateway, url };
}

/** A well-behaved device that records the signals it receives. */
async function goodDevice(url: string, id = 'dev-good') {
  const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token(id)}` } });
  const offsets: string[] = [];
  let caughtUp = false;
  ws.on('message', (d) => {
    const f = JSON.parse(d.toString());
    if (f.type === 'signal') offsets.push(f.offset);
    if (f.type === 'caught-up') caughtUp = true;
  });
  await new Promise((r) => ws.once('open', r));
  ws.send(JSON.stringify({ type: 'hello', deviceId: id, version: '1', resume: {} }));
  await waitFor(() => caughtUp, 'the good device to catch up');
  return { ws, offsets };
}

async function metric(url: string, name: string): Promise<string> {
  const text = await (await fetch(url.replace('ws:', 'http:') + '/metrics')).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(name))
    .join('\n');
}

t.test('10,000 random and malformed frames close only their own connections', async (t) => {
  const { bus, gateway, url } = await setup(t);
  const good = await goodDevice(url);
  const random = seededRandom(7);
  const junk = (i: number): string | Buffer => {
    switch (i % 6) {
      case 0:
        return Buffer.from(
          Array.from({ length: 1 + Math.floor(random() * 200) }, () => Math.floor(random() * 256)),
        );
      case 1:
        return '{"type":"telemetry","deviceId":'.repeat(1 + Math.floor(random() * 5));
      case 2:
        return JSON.stringify({ type: 'hello', deviceId: 'someone-else', version: '1', resume: {} });
      case 3:
        return JSON.stringify({
          type: 'decision',
          deviceId: 'dev-x',
          decision: { outcome: 'buy everything' },
        });
      case 4:
        return '['.repeat(5_000) + ']'.repeat(5_000);
      default:
        return JSON.stringify({ type: 'telemetry', deviceId: 'dev-x', ts: -1, equity: 'lots' });
    }
  };
  let sent = 0;
  const closes: number[] = [];
  for (let c = 0; c < 100; c++) {
    const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token(`dev-x`)}` } });
    await new Promise((r) => ws.once('open', r));
    const closed = new Promise<void>((resolve) => ws.on('close', (code) => (closes.push(code), resolve())));
    ws.on('error', () => undefined);
    for (let i = 0; i < 100; i++, sent++) if (ws.readyState === WebSocket.OPEN) ws.send(junk(c * 100 + i));
    await closed;
    if (c % 10 === 0) await bus.publish(TOPICS.signals, [{ key: 'ema.1h', value: signal() }]);
  }
  t.equal(sent, 10_000);
  t.equal(closes.length, 100, 'every hostile connection was closed');
  t.ok(
    closes.every((c) => [1003, 1007, 1008, 1009].includes(c)),
    `with protocol close codes (${[...new Set(closes)].join(', ')})`,
  );
  await waitFor(() => good.offsets.length === 10, 'the good device to get every signal');
  t.same(
    good.offsets,
    Array.from({ length: 10 }, (_, i) => String(i)),
    'in order, none missed',
  );
  t.equal(good.ws.readyState, WebSocket.OPEN);
  await waitFor(() => gateway.stats().connections === 1, 'only the good device left');
  t.match(
    await metric(url, 'gateway_closes_total'),
    /gateway_closes_total\{code="1008",gateway="gw-1"\} \d+/,
  );
  good.ws.close();
});

t.test('a request with thousands of headers is refused and the gateway stays up', async (t) => {
  const { url } = await setup(t);
  const { port } = new URL(url);
  const headers: Record<string, string> = {};
  for (let i = 0; i < 5_000; i++) headers[`x-h${i}`] = 'v'.repeat(20);
  const status = await new Promise<number>((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/healthz', headers }, (res) =>
      resolve(res.statusCode ?? 0),
    );
    req.on('error', () => resolve(-1));
    req.end();
  });
  t.ok(status === 431 || status === -1, `refused (${status})`);
  t.equal((await fetch(url.replace('ws:', 'http:') + '/healthz')).status, 200, 'still healthy');
});

t.test('a device flooding beyond the rate limit is closed, others are not', async (t) => {
  const { url, gateway } = await setup(t, { inboundRatePerSec: 5, inboundBurst: 10 });
  const good = await goodDevice(url);
  const flood = new WebSocket(url, { headers: { authorization: `Bearer ${token('dev-flood')}` } });
  await new Promise((r) => flood.once('open', r));
  flood.send(JSON.stringify({ type: 'hello', deviceId: 'dev-flood', version: '1', resume: {} }));
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    flood.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  const telemetry = JSON.stringify(telemetryFrame('dev-flood'));
  for (let i = 0; i < 200 && flood.readyState === WebSocket.OPEN; i++) flood.send(telemetry);
  t.same(await closed, { code: 1008, reason: 'too many messages: rate limit exceeded' });
  await waitFor(() => gateway.stats().connections === 1, 'the flood connection to go');
  t.equal(good.ws.readyState, WebSocket.OPEN);
  t.match(await metric(url, 'gateway_dropped_total'), /reason="rate-limit"/);
  good.ws.close();
});

t.test('500 devices that stop reading are cut off and the others keep receiving', async (t) => {
  const { bus, gateway, url } = await setup(t, { pingIntervalMs: 1_000 });
  const good = await goodDevice(url);
  const stuck: WebSocket[] = [];
  let closed = 0;
  for (let i = 0; i < 500; i++) {
    const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token(`dev-stuck-${i}`)}` } });
    ws.on('close', () => closed++);
    ws.on('error', () => undefined);
    stuck.push(ws);
  }
  await Promise.all(stuck.map((ws) => new Promise((r) => ws.once('open', r))));
  stuck.forEach((ws, i) =>
    ws.send(JSON.stringify({ type: 'hello', deviceId: `dev-stuck-${i}`, version: '1', resume: {} })),
  );
  await waitFor(() => gateway.stats().ready === 501, 'every device ready');
  // They stop reading (paused sockets): no pongs, and what is sent piles up in kernel buffers.
  for (const ws of stuck) (ws as unknown as { _socket: { pause(): void } })._socket.pause();
  for (let i = 0; i < 100; i++) await bus.publish(TOPICS.signals, [{ key: 'ema.1h', value: signal() }]);
  await waitFor(() => good.offsets.length === 100, 'the good device to get every signal', 60_000);
  await waitFor(
    () => gateway.stats().connections === 1,
    'every stuck device to be dropped as a dead peer',
    60_000,
  );
  t.equal(gateway.stats().connections, 1, 'only the reading device is left: nothing buffers for the others');
  t.same(
    good.offsets,
    Array.from({ length: 100 }, (_, i) => String(i)),
  );
  for (const ws of stuck) (ws as unknown as { _socket: { resume(): void } })._socket.resume();
  await waitFor(() => closed === 500, 'the stuck clients to see their sockets closed');
  good.ws.close();
});

t.test(
  'a device that stops reading while it still answers pings is closed at the high-water mark',
  async (t) => {
    const { bus, gateway, url } = await setup(t, { sendHighWaterBytes: 64 * 1024 });
    const good = await goodDevice(url);
    const slow = await goodDevice(url, 'dev-slow');
    (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    // More than the kernel's loopback buffers hold (a few MB), so the gateway's own queue grows.
    const batches = 40;
    for (let b = 0; b < batches; b++) {
      await bus.publish(
        TOPICS.signals,
        Array.from({ length: 500 }, () => ({ key: 'ema.1h', value: signal() })),
      );
      await new Promise((r) => setImmediate(r));
    }
    await waitFor(() => good.offsets.length === batches * 500, 'the good device to get every signal', 60_000);
    await waitFor(() => gateway.stats().connections === 1, 'the slow device to be closed', 60_000);
    t.match(
      await metric(url, 'gateway_dropped_total'),
      /gateway_dropped_total\{reason="slow-consumer",gateway="gw-1"\} 1/,
    );
    t.match(
      await metric(url, 'gateway_closes_total'),
      /gateway_closes_total\{code="1013",gateway="gw-1"\} 1/,
    );
    good.ws.close();
  },
);

t.test('a large resume goes out at the pace the device reads it, with live signals after', async (t) => {
  const highWater = 64 * 1024;
  const backlog = 20_000; // about 10 MB of frames: more than loopback's kernel buffers hold
  const { bus, gateway, url } = await setup(t, { sendHighWaterBytes: highWater, ringCapacity: backlog });
  for (let i = 0; i < backlog; i += 1000)
    await bus.publish(
      TOPICS.signals,
      Array.from({ length: 1000 }, () => ({ key: 'ema.1h', value: signal() })),
    );
  // The gateway verifies each record before its ring takes it: let it read them all first.
  await waitFor(
    () => gateway.stats().streams['ema.1h']?.size === backlog,
    'the gateway to read the backlog',
    60_000,
  );
  const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token('dev-resume')}` } });
  const frames: { type: string; offset?: string }[] = [];
  ws.on('message', (d) => frames.push(JSON.parse(d.toString())));
  await new Promise((r) => ws.once('open', r));
  const socket = (ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
  ws.send(JSON.stringify({ type: 'hello', deviceId: 'dev-resume', version: '1', resume: { 'ema.1h': '0' } }));
  socket.pause();
  // While the device reads nothing, the gateway holds the backlog back instead of queuing it.
  let maxQueued = 0;
  for (let i = 0; i < 100; i++) {
    maxQueued = Math.max(maxQueued, gateway.stats().queuedBytes);
    if (i === 50)
      // live signals during the catch-up
      await bus.publish(
        TOPICS.signals,
        Array.from({ length: 10 }, () => ({ key: 'ema.1h', value: signal() })),
      );
    await new Promise((r) => setTimeout(r, 10));
  }
  const frameBytes = 2 * Buffer.byteLength(signal()) + 200;
  t.ok(maxQueued > 0, `the gateway queued data for the stalled device (${maxQueued} bytes at most)`);
  t.ok(
    maxQueued <= highWater + frameBytes,
    `never more than the high-water mark queued (${maxQueued} ≤ ${highWater} + a frame)`,
  );
  t.equal(gateway.stats().connections, 1, 'a device catching up slowly is not cut off');
  socket.resume();
  const signals = () => frames.filter((f) => f.type === 'signal');
  await waitFor(
    () => frames.some((f) => f.type === 'caught-up') && signals().length >= backlog + 9,
    'the device to catch up and get the live signals',
    60_000,
  );
  t.same(
    signals().map((f) => f.offset),
    Array.from({ length: backlog + 9 }, (_, i) => String(i + 1)),
    'every signal after the resume point once, in order, the live ones last',
  );
  // Usually the live ones come inside the catch-up, before caught-up; if the kernel's socket
  // buffers (autotuned up to tens of MB) took the whole backlog first, they come after it.
  t.equal(frames.filter((f) => f.type === 'caught-up').length, 1, 'caught-up once');
  ws.close();
});

t.test(
  'a burst fanned out to many devices leaves the event loop turns for pings and health checks',
  async (t) => {
    const { bus, gateway, url } = await setup(t);
    const devices = await Promise.all(
      Array.from({ length: 100 }, (_, i) => goodDevice(url, `dev-burst-${i}`)),
    );
    const burst = 1_000;
    const records = Array.from({ length: burst }, () => ({ key: 'ema.1h', value: signal() }));
    // Each turn of the event loop notes how far the fan-out had got. Without turns in between,
    // every note would read either nothing relayed yet or everything.
    const seen: number[] = [];
    let ticking = true;
    const tick = () => {
      seen.push(gateway.stats().relayed);
      if (ticking) setImmediate(tick);
    };
    await bus.publish(TOPICS.signals, records);
    setImmediate(tick);
    await waitFor(
      () => devices.every((d) => d.offsets.length === burst),
      'every device to get the burst',
      60_000,
    );
    ticking = false;
    const total = devices.length * burst;
    const midway = seen.filter((n) => n > 0 && n < total);
    t.ok(midway.length > 0, `the event loop had ${midway.length} turns during the fan-out`);
    t.ok(
      devices.every((d) => d.offsets.every((o, i) => o === String(i))),
      'every device got the burst in order',
    );
    for (const d of devices) d.ws.close();
  },
);

t.test('metrics are served in Prometheus text format', async (t) => {
  const { url } = await setup(t);
  const res = await fetch(url.replace('ws:', 'http:') + '/metrics');
  t.equal(res.status, 200);
  t.match(res.headers.get('content-type'), /^text\/plain/);
  const text = await res.text();
  for (const name of [
    'gateway_connections',
    'gateway_devices_ready',
    'gateway_messages_relayed_total',
    'gateway_relay_lag_seconds_bucket',
    'process_resident_memory_bytes',
  ]) {
    t.match(text, new RegExp(`^${name}`, 'm'), name);
  }
});
