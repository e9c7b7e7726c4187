import t from 'tap';
import type { Test } from 'tap';
import WebSocket from 'ws';
import {
  EmbeddedBus,
  TOPICS,
  createControl,
  createSignal,
  generateSigner,
  issueDeviceToken,
  partitionForKey,
  TOPIC_PARTITIONS,
  type BusMessage,
} from '@appliance/protocol';
import { telemetryFrame, waitFor } from '@appliance/test-kit';
import { createConnection } from 'node:net';
import { PROXY_V2_SIGNATURE } from '../src/index.js';
import { control, feed, startGateway } from './fixtures.js';

const setup = (t: Test, options = {}) => startGateway(t, new EmbeddedBus(), options);

type Started = Awaited<ReturnType<typeof setup>>;
/** Waits until the gateway has taken in `n` records of each stream (its rings are the barrier). */
const ingested = (gateway: Started['gateway'], counts: Record<string, number>) =>
  waitFor(
    () => Object.entries(counts).every(([s, n]) => (gateway.stats().streams[s]?.size ?? 0) >= n),
    `the gateway to hold ${JSON.stringify(counts)}`,
  );

const token = (sub: string, ttlMs = 60_000) =>
  issueDeviceToken({ sub, scope: 'family', iat: Date.now(), ttlMs }, control);

function signal(candleTime: number, side: 'buy' | 'sell' = 'buy', stream = 'ema.1h') {
  return createSignal(
    {
      stream,
      symbol: 'BTC/USDT',
      side,
      price: 100,
      candleTime,
      ts: Date.now(),
      ttlMs: 60_000,
      strength: 1,
      algoVersion: 'x/1',
      origin: 'feed',
    },
    feed,
  );
}

/** A device connection that records frames and close events. */
function connect(url: string, tok: string, wsOptions: WebSocket.ClientOptions = {}) {
  const ws = new WebSocket(url, { headers: { authorization: `Bearer ${tok}` }, ...wsOptions });
  const frames: { type: string; [k: string]: unknown }[] = [];
  const waiters: (() => void)[] = [];
  ws.on('message', (d) => {
    frames.push(JSON.parse(d.toString()));
    waiters.splice(0).forEach((w) => w());
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  async function until(pred: () => boolean) {
    while (!pred()) await new Promise<void>((r) => waiters.push(r));
  }
  return { ws, frames, closed, opened, until };
}

t.test('a device with a bad or missing token is refused with 401 during the upgrade', async (t) => {
  const { url } = await setup(t);
  for (const tok of [
    '',
    'garbage',
    issueDeviceToken({ sub: 'dev-1', scope: 'family', iat: 0, ttlMs: 1 }, control),
    issueDeviceToken({ sub: 'dev-1', scope: 'family', iat: Date.now(), ttlMs: 60_000 }, generateSigner()),
  ]) {
    const ws = new WebSocket(url, { headers: { authorization: `Bearer ${tok}` } });
    const status = await new Promise<number>((resolve) => {
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => resolve(101));
    });
    t.equal(status, 401);
  }
});

t.test(
  'a resuming device gets control state, then its missed signals in order, then live ones',
  async (t) => {
    const { bus, url, gateway } = await setup(t);
    const c = createControl(
      {
        kind: 'breaker',
        version: 1,
        ts: Date.now(),
        ttlMs: 60_000,
        origin: 'control',
        body: { level: 'normal', multiplier: 1, reason: 'ok' },
      },
      control,
    );
    await bus.publish(TOPICS.control, [{ key: 'breaker', value: JSON.stringify(c) }]);
    const early = [signal(1), signal(2), signal(3)];
    await bus.publish(
      TOPICS.signals,
      early.map((s) => ({ key: 'ema.1h', value: JSON.stringify(s) })),
    );
    await ingested(gateway, { 'ema.1h': 3 });
    await waitFor(() => gateway.stats().controlScopes >= 1, 'the breaker to be held');

    const d = connect(url, token('dev-1'));
    await d.opened;
    d.ws.send(JSON.stringify({ type: 'hello', deviceId: 'dev-1', version: '1', resume: { 'ema.1h': '0' } }));
    await d.until(() => d.frames.some((f) => f.type === 'caught-up'));
    t.same(
      d.frames.map((f) => f.type),
      ['welcome', 'control', 'signal', 'signal', 'caught-up'],
    );
    t.same(
      d.frames.filter((f) => f.type === 'signal').map((f) => (f.signal as { id: string }).id),
      [early[1]!.id, early[2]!.id],
      'only the signals after the resume offset, in order',
    );
    t.same(
      d.frames[2]!.signal,
      JSON.parse(JSON.stringify(early[1])),
      'the signed message is relayed unchanged',
    );
    t.match(
      d.frames[4],
      { type: 'caught-up', positions: { 'ema.1h': '2' } },
      'caught-up says where the device now stands',
    );
    t.same(
      Object.values((d.frames[4] as unknown as { partitions: object }).partitions),
      ['2'],
      'and where the gateway stands in the one partition read so far',
    );
    const live = signal(4, 'sell');
    await bus.publish(TOPICS.signals, [{ key: 'ema.1h', value: JSON.stringify(live) }]);
    await d.until(() => d.frames.length === 6);
    t.match(d.frames[5], { type: 'signal', stream: 'ema.1h', offset: '3', signal: { id: live.id } });
    d.ws.close();
  },
);

t.test('a device with no resume point starts from live signals only', async (t) => {
  const { bus, url, gateway } = await setup(t);
  await bus.publish(TOPICS.signals, [{ key: 'ema.1h', value: JSON.stringify(signal(1)) }]);
  await ingested(gateway, { 'ema.1h': 1 });
  const d = connect(url, token('dev-2'));
  await d.opened;
  d.ws.send(JSON.stringify({ type: 'hello', deviceId: 'dev-2', version: '1', resume: {} }));
  await d.until(() => d.frames.some((f) => f.type === 'caught-up'));
  await bus.publish(TOPICS.signals, [{ key: 'ema.1h', value: JSON.stringify(signal(2)) }]);
  await d.until(() => d.frames.filter((f) => f.type === 'signal').length === 1);
  t.match(
    d.frames.filter((f) => f.type === 'signal'),
    [{ offset: '1' }],
  );
  d.ws.close();
});

t.test('a stream that began while a device was away is sent from where it last went live', async (t) => {
  const { bus, url, gateway } = await setup(t);
  await bus.publish(TOPICS.signals, [{ key: 'ema.1h', value: JSON.stringify(signal(1)) }]);
  await ingested(gateway, { 'ema.1h': 1 });
  const hello = async (id: string, resume: object, since?: object) => {
    const d = connect(url, token(id));
    await d.opened;
    d.ws.send(JSON.stringify({ type: 'hello', deviceId: id, version: '1', resume, since }));
    await d.until(() => d.frames.some((f) => f.type === 'caught-up'));
    return d;
  };
  const first = await hello('dev-4', {});
  const caughtUp = first.frames.find((f) => f.type === 'caught-up') as unknown as {
    positions: Record<string, string>;
    partitions: Record<string, string>;
  };
  first.ws.close();
  // While it is away: a new stream starts (in whichever partition its key falls), the old goes on.
  const fresh = [signal(1, 'buy', 'new.15m'), signal(2, 'sell', 'new.15m')];
  await bus.publish(TOPICS.signals, [
    ...fresh.map((s) => ({ key: 'new.15m', value: JSON.stringify(s) })),
    { key: 'ema.1h', value: JSON.stringify(signal(2)) },
  ]);
  await ingested(gateway, { 'new.15m': 2, 'ema.1h': 2 });
  const back = await hello('dev-4', caughtUp.positions, caughtUp.partitions);
  const got = back.frames.filter((f) => f.type === 'signal') as unknown as {
    stream: string;
    signal: { id: string };
  }[];
  t.same(
    got.filter((f) => f.stream === 'new.15m').map((f) => f.signal.id),
    fresh.map((s) => s.id),
    'every signal of the new stream, in order',
  );
  t.equal(got.filter((f) => f.stream === 'ema.1h').length, 1, 'and the one it missed on the old stream');
  const newcomer = await hello('dev-5', {}); // no `since`: it has never been live
  t.equal(
    newcomer.frames.filter((f) => f.type === 'signal').length,
    0,
    'a new device still starts every stream from now',
  );
  back.ws.close();
  newcomer.ws.close();
});

t.test('malformed frames close only that connection, each with its code and reason', async (t) => {
  const { url, gateway } = await setup(t, { maxPayload: 1024 });
  const bystander = connect(url, token('dev-0'));
  await bystander.opened;
  bystander.ws.send(JSON.stringify({ type: 'hello', deviceId: 'dev-0', version: '1', resume: {} }));
  const cases: [string, (ws: WebSocket) => void, number, string | RegExp][] = [
    ['not JSON', (ws) => ws.send('{nope'), 1007, 'frame is not valid JSON'],
    ['unknown type', (ws) => ws.send('{"type":"buy-everything"}'), 1008, /^malformed frame: type: /],
    ['binary', (ws) => ws.send(Buffer.from([1, 2, 3])), 1003, 'binary frames are not accepted'],
    ['too big', (ws) => ws.send('x'.repeat(2048)), 1009, 'frame larger than maxPayload'],
    ['too big even for a hello', (ws) => ws.send('x'.repeat(2 * 1024 * 1024)), 1009, ''],
    [
      "someone else's id",
      (ws) => ws.send(JSON.stringify({ type: 'hello', deviceId: 'dev-9', version: '1', resume: {} })),
      1008,
      'device id does not match token',
    ],
    [
      'telemetry before hello',
      (ws) =>
        ws.send(
          JSON.stringify({
            type: 'decision',
            deviceId: 'dev-1',
            decision: {
              signalId: 'a',
              stream: 'ema.1h',
              symbol: 'BTC/USDT',
              side: 'buy',
              outcome: 'rejected',
              code: 'X',
              reason: 'y',
              ts: 1,
            },
          }),
        ),
      1008,
      'hello must come first',
    ],
  ];
  for (const [name, send, code, reason] of cases) {
    const d = connect(url, token('dev-1'));
    await d.opened;
    send(d.ws);
    const closed = await d.closed;
    t.equal(closed.code, code, `${name}: close code`);
    if (typeof reason === 'string') t.equal(closed.reason, reason, `${name}: reason`);
    else t.match(closed.reason, reason, `${name}: reason`);
  }
  await waitFor(() => gateway.stats().connections === 1, 'the refused connections to be gone');
  t.equal(bystander.ws.readyState, WebSocket.OPEN, 'the other device stays connected');
  t.equal(gateway.stats().connections, 1);
  bystander.ws.close();
});

t.test('telemetry goes onto the bus stamped with the authenticated device and gateway', async (t) => {
  const { bus, url } = await setup(t);
  const got: BusMessage[] = [];
  await bus.subscribe({ topic: TOPICS.telemetry, from: 'latest', onMessage: (m) => void got.push(m) });
  const d = connect(url, token('dev-3'));
  await d.opened;
  d.ws.send(JSON.stringify({ type: 'hello', deviceId: 'dev-3', version: '1', resume: {} }));
  const telemetry = telemetryFrame('dev-3', { equity: 10, cash: 10, fills: 2 });
  d.ws.send(JSON.stringify(telemetry));
  await waitFor(() => got.length > 0, 'the telemetry record on the bus');
  t.equal(got[0]!.key, 'dev-3');
  t.match(JSON.parse(got[0]!.value.toString()), {
    ...telemetry,
    scope: 'family',
    gateway: 'gw-1',
    receivedAt: Number,
  });
  d.ws.close();
});

t.test('a peer that stops answering pings is dropped', async (t) => {
  const { url, gateway } = await setup(t, { pingIntervalMs: 100 });
  const d = connect(url, token('dev-4'), { autoPong: false });
  await d.opened;
  const closed = await d.closed;
  t.equal(closed.code, 1006, 'terminated without a close frame');
  await waitFor(() => gateway.stats().connections === 0, 'the session to be removed');
  t.equal(gateway.stats().connections, 0);
});

t.test('healthz answers once the gateway is reading the bus', async (t) => {
  const { url } = await setup(t);
  const res = await fetch(url.replace('ws:', 'http:') + '/healthz');
  t.equal(res.status, 200);
  t.match(await res.json(), { status: 'ok', gateway: 'gw-1' });
});

t.test(
  'a revoked device is disconnected at once and cannot reconnect; a forged list changes nothing',
  async (t) => {
    const { bus, url, gateway } = await setup(t);
    const revoke = (devices: string[], signer = control, version = Date.now()) =>
      bus.publish(TOPICS.control, [
        {
          key: 'revocation',
          value: JSON.stringify(
            createControl(
              {
                kind: 'revocation',
                version,
                ts: Date.now(),
                ttlMs: 60_000,
                origin: 'control',
                body: { devices },
              },
              signer,
            ),
          ),
        },
      ]);
    const d = connect(url, token('dev-5'));
    await d.opened;
    d.ws.send(JSON.stringify({ type: 'hello', deviceId: 'dev-5', version: '1', resume: {} }));
    await d.until(() => d.frames.some((f) => f.type === 'caught-up'));

    await revoke(['dev-5'], generateSigner()); // not the control server's key
    // The gateway counts the forged record as dropped: once counted, it has been dealt with.
    await waitFor(() => gateway.stats().dropped >= 1, 'the forged revocation to be dropped');
    t.equal(d.ws.readyState, WebSocket.OPEN, 'a forged revocation is ignored');

    await revoke(['dev-5']);
    const closed = await d.closed;
    t.same(closed, { code: 1008, reason: 'device revoked' });
    const again = new WebSocket(url, { headers: { authorization: `Bearer ${token('dev-5')}` } });
    const status = await new Promise<number>((resolve) => {
      again.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      again.on('open', () => resolve(101));
    });
    t.equal(status, 401, 'its still-valid token no longer opens a connection');
    const other = connect(url, token('dev-6'));
    await other.opened;
    t.pass('other devices still connect');
    other.ws.close();
  },
);

/** A PROXY v2 header for a TCP/IPv4 connection from `source`, as HAProxy's send-proxy-v2 writes it. */
function proxyHeader(source: string, sourcePort: number, command: 'PROXY' | 'LOCAL' = 'PROXY'): Buffer {
  const head = Buffer.concat([
    PROXY_V2_SIGNATURE,
    Buffer.from([command === 'PROXY' ? 0x21 : 0x20, command === 'PROXY' ? 0x11 : 0x00]),
  ]);
  if (command === 'LOCAL') return Buffer.concat([head, Buffer.from([0, 0])]);
  const body = Buffer.alloc(12);
  source.split('.').forEach((o, i) => body.writeUInt8(Number(o), i));
  '127.0.0.1'.split('.').forEach((o, i) => body.writeUInt8(Number(o), 4 + i));
  body.writeUInt16BE(sourcePort, 8);
  body.writeUInt16BE(443, 10);
  return Buffer.concat([head, Buffer.from([0, 12]), body]);
}

t.test(
  'behind HAProxy the gateway reads the device address from the PROXY v2 header and requires it',
  async (t) => {
    const { bus, url } = await setup(t, { proxyProtocol: true });
    const { port } = new URL(url);
    const got: BusMessage[] = [];
    await bus.subscribe({ topic: TOPICS.telemetry, from: 'latest', onMessage: (m) => void got.push(m) });
    // A device whose tunnel address is 127.0.0.9, relayed by HAProxy.
    const ws = new WebSocket(url, {
      headers: { authorization: `Bearer ${token('dev-7')}` },
      createConnection: () => {
        const socket = createConnection({ host: '127.0.0.1', port: Number(port) });
        socket.write(proxyHeader('127.0.0.9', 40_001));
        return socket;
      },
    });
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ type: 'hello', deviceId: 'dev-7', version: '1', resume: {} }));
    ws.send(JSON.stringify(telemetryFrame('dev-7')));
    await waitFor(() => got.length > 0, 'telemetry');
    t.match(JSON.parse(got[0]!.value.toString()), { deviceId: 'dev-7', remote: '127.0.0.9' });
    ws.close();

    // Health checks come with a LOCAL header.
    const health = await new Promise<string>((resolve) => {
      const s = createConnection({ host: '127.0.0.1', port: Number(port) }, () => {
        s.write(
          Buffer.concat([
            proxyHeader('', 0, 'LOCAL'),
            Buffer.from('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'),
          ]),
        );
      });
      let text = '';
      s.on('data', (d) => (text += d.toString()));
      s.on('close', () => resolve(text));
    });
    t.match(health, /^HTTP\/1\.1 200 OK/);

    // Without the header, nothing gets through: anyone could otherwise claim any address.
    const direct = new WebSocket(url, { headers: { authorization: `Bearer ${token('dev-8')}` } });
    const outcome = await new Promise<string>((resolve) => {
      direct.on('open', () => resolve('open'));
      direct.on('error', () => resolve('refused'));
    });
    t.equal(outcome, 'refused');
  },
);

/** A stream that lives in the same partition of the signals topic as ema.1h. */
const SAME_PARTITION = Array.from({ length: 100 }, (_, i) => `other-${i}.1h`).find(
  (s) => partitionForKey(s, TOPIC_PARTITIONS.signals) === partitionForKey('ema.1h', TOPIC_PARTITIONS.signals),
)!;

t.test(
  'a resume older than the ring is read back from the bus: nothing missed, nothing repeated',
  async (t) => {
    const { bus, url, gateway } = await setup(t, { ringCapacity: 5 });
    const ours: string[] = [];
    for (let i = 1; i <= 20; i++) {
      const s = signal(1000 + i);
      ours.push(s.id);
      // Another stream in the same partition, interleaved: it must not leak into this resume.
      const { v: _v, id: _id, kid: _kid, sig: _sig, ...draft } = s;
      const other = createSignal({ ...draft, stream: SAME_PARTITION, candleTime: 5000 + i }, feed);
      await bus.publish(TOPICS.signals, [
        { key: 'ema.1h', value: JSON.stringify(s) },
        { key: SAME_PARTITION, value: JSON.stringify(other) },
      ]);
    }
    // Rings hold the last 5, so the barrier is the offset of the last record published.
    await waitFor(
      () => gateway.stats().streams[SAME_PARTITION]?.lastOffset === '39',
      'the gateway to take in all 40 records',
    );
    const d = connect(url, token('dev-9'));
    await d.opened;
    // Offsets on the partition: ema.1h at 0, 2, 4, …; resuming after the 3rd of ours (offset 4).
    d.ws.send(JSON.stringify({ type: 'hello', deviceId: 'dev-9', version: '1', resume: { 'ema.1h': '4' } }));
    await d.until(() => d.frames.some((f) => f.type === 'caught-up'));
    const got = d.frames.filter((f) => f.type === 'signal');
    t.ok(
      got.every((f) => f.stream === 'ema.1h'),
      'only the resumed stream',
    );
    t.same(
      got.map((f) => (f.signal as { id: string }).id),
      ours.slice(3),
      'the 17 signals after the resume point, in order, though the ring holds only 5',
    );
    d.ws.close();
  },
);
