/**
 * The gateway cluster as deployed: real HAProxy (rendered from haproxy/, TLS, leastconn, PROXY
 * v2, health checks) in front of three gateway processes reading the kcat mock Kafka cluster,
 * and 300 simulated devices using the appliance's own connection code, each from its own
 * loopback address as from its own WireGuard tunnel. While a feed publishes on four streams:
 * one gateway is killed with SIGKILL, then every gateway is restarted in turn. Every device must
 * end with every signal exactly once, in order per stream.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import WebSocket from 'ws';
import { pino } from 'pino';
import {
  TOPICS,
  createControl,
  createSignal,
  exportPublicKey,
  generateSigner,
  issueDeviceToken,
  offsetGreater,
  type Signer,
} from '@appliance/protocol';
import { createKafkaBus } from '@appliance/protocol/kafka';
import { startHaproxy, type RunningHaproxy } from '@appliance/haproxy';
import { GatewayConnection } from '@appliance/signal-client';
import {
  freePort,
  makeTestCert,
  requireTool,
  spawnNode,
  startKafkaMock,
  telemetryFrame,
  waitFor,
  type RunningProcess,
} from '@appliance/test-kit';

const DEVICES = 300;
const STREAMS = ['cluster.alpha', 'cluster.beta', 'cluster.gamma', 'cluster.delta'];
/** A stream that begins just after the kill, while that gateway's devices are reconnecting. */
const LATE_STREAM = 'cluster.late';
const GATEWAYS = ['gw-a', 'gw-b', 'gw-c'];
/** One signal every this many ms, round-robin over the streams. */
const PUBLISH_EVERY_MS = 40;
/** The issue's bound: devices of a killed gateway are back, caught up, within this. */
const FAILOVER_DEADLINE_MS = 5_000;
/** A revoked device is disconnected within this. */
const REVOCATION_DEADLINE_MS = 2_000;
const silent = pino({ level: 'silent' });

interface Received {
  offset: string;
  id: string;
}

/**
 * A device as the appliance runs it, minus trading: the real GatewayConnection (reconnect with
 * jittered backoff, hello with resume offsets), positions kept per stream exactly as the client
 * keeps them. It records every signal frame it is sent, repeats included, to be judged later.
 */
class SimulatedDevice {
  readonly positions: Record<string, string> = {};
  /** Where the gateway stood per partition when this device last went live. */
  since: Record<string, string> | undefined;
  readonly received = new Map<string, Received[]>();
  /** Signal frames at or before this device's position: the gateway repeated itself. */
  repeats = 0;
  gateway: string | undefined;
  caughtUp = false;
  /** Welcome frames: one per connection the device got through to a gateway. */
  sessions = 0;
  readonly connection: GatewayConnection;

  constructor(
    readonly id: string,
    readonly address: string,
    url: string,
    token: string,
    ca: string,
  ) {
    this.connection = new GatewayConnection({
      url,
      token,
      ca,
      localAddress: address,
      logger: silent,
      backoffBaseMs: 100,
      backoffMaxMs: 1_000,
      hello: () => ({
        type: 'hello',
        deviceId: id,
        version: '1',
        resume: { ...this.positions },
        ...(this.since ? { since: { ...this.since } } : {}),
      }),
      onFrame: (f) => this.#onFrame(f as { type: string; [k: string]: unknown }),
      onState: (connected) => {
        if (connected) return;
        this.caughtUp = false;
        this.gateway = undefined;
      },
    });
  }

  #onFrame(f: { type: string; [k: string]: unknown }): void {
    if (f.type === 'welcome') {
      this.gateway = f.gateway as string;
      this.sessions++;
    } else if (f.type === 'caught-up') {
      // As the client does: streams without a resume point start where the gateway stands.
      for (const [stream, offset] of Object.entries(f.positions as Record<string, string>))
        this.positions[stream] ??= offset;
      this.since = { ...this.since, ...(f.partitions as Record<string, string>) };
      this.caughtUp = true;
    } else if (f.type === 'signal') {
      const stream = f.stream as string;
      const offset = f.offset as string;
      const held = this.positions[stream];
      if (held !== undefined && !offsetGreater(offset, held)) this.repeats++;
      else this.positions[stream] = offset;
      const list = this.received.get(stream) ?? [];
      list.push({ offset, id: (f.signal as { id: string }).id });
      this.received.set(stream, list);
    }
  }

  get ready(): boolean {
    return this.connection.connected && this.caughtUp;
  }
}

if (
  !requireTool('haproxy', 'haproxy') ||
  !requireTool('openssl', 'openssl') ||
  !requireTool('kcat', 'kcat')
) {
  t.comment('haproxy, openssl or kcat is not installed: apt-get install haproxy openssl kcat');
} else {
  t.test('three gateways behind HAProxy: failover and rolling restart lose and repeat nothing', (t) =>
    cluster(t),
  );
}

async function cluster(t: Test) {
  const dir = mkdtempSync(join(tmpdir(), 'gateway-cluster-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const kafka = await startKafkaMock();
  t.teardown(() => kafka.stop());
  const control = generateSigner();
  const feed = generateSigner();
  const bus = createKafkaBus({ brokers: kafka.brokers, clientId: 'cluster-test', logger: silent });
  t.teardown(() => bus.close());

  // Seed every stream first, so the streams exist before any device connects: a device is then
  // owed exactly the signals published after it first caught up.
  const published = new Map<string, string[]>([...STREAMS, LATE_STREAM].map((s) => [s, []]));
  const live = [...STREAMS];
  let sequence = 0;
  const publishOne = async (stream: string, record = true) => {
    const i = sequence++;
    const signal = makeSignal(feed, stream, i);
    await bus.publish(TOPICS.signals, [{ key: stream, value: JSON.stringify(signal) }]);
    if (record) published.get(stream)!.push(signal.id);
  };
  for (const s of STREAMS) await publishOne(s, false);

  // Three gateway processes on fixed ports, so a restarted one comes back where HAProxy looks.
  const ports = await Promise.all(GATEWAYS.map(() => freePort()));
  const gateways = new Map<string, RunningProcess>();
  const startGateway = async (name: string) => {
    const port = ports[GATEWAYS.indexOf(name)]!;
    const p = spawnNode(name, 'gateway/src/main.ts', [
      ...['--port', String(port), '--host', '127.0.0.1', '--kafka', kafka.bootstrap],
      ...['--token-key', exportPublicKey(control.publicKey), '--gateway-id', name, '--proxy-protocol'],
      ...['--signal-key', exportPublicKey(feed.publicKey)],
    ]);
    gateways.set(name, p);
    await p.waitForLog((l) => l.msg === 'listening', `${name} listening`);
  };
  t.teardown(async () => {
    for (const p of gateways.values()) await p.kill('SIGKILL');
  });
  await Promise.all(GATEWAYS.map(startGateway));

  const cert = makeTestCert(dir);
  const port = await freePort();
  const haproxy: RunningHaproxy = await startHaproxy(
    {
      gateways: GATEWAYS.map((name, i) => ({ name, host: '127.0.0.1', port: ports[i]! })),
      bind: { host: '127.0.0.1', port },
      tls: { certFile: cert.pemFile },
      limits: { maxConn: 2_000 },
      timeouts: { healthCheckIntervalMs: 200 },
      stats: { socket: join(dir, 'admin.sock') },
    },
    dir,
  );
  t.teardown(() => haproxy.stop());
  await haproxy.waitFor('UP');
  const url = `wss://127.0.0.1:${port}/`;

  // 300 devices, each from its own loopback address, as each has its own tunnel address: the
  // per-source limits in HAProxy then apply per device, as in production.
  const token = (id: string, signer: Signer = control, iat = Date.now()) =>
    issueDeviceToken({ sub: id, scope: 'family', iat, ttlMs: 60 * 60_000 }, signer);
  const devices = Array.from({ length: DEVICES }, (_, i) => {
    const id = `cluster-${String(i).padStart(3, '0')}`;
    return new SimulatedDevice(
      id,
      `127.1.${Math.floor(i / 250)}.${(i % 250) + 1}`,
      url,
      token(id),
      cert.certPem,
    );
  });
  t.teardown(() => Promise.all(devices.map((d) => d.connection.stop())));
  for (const d of devices) d.connection.start();
  await waitFor(() => devices.every((d) => d.ready), `${DEVICES} devices caught up`, 60_000).catch(
    (err: Error) => {
      const state = `connected ${devices.filter((d) => d.connection.connected).length}, ready ${devices.filter((d) => d.ready).length}`;
      throw new Error(
        `${err.message} (${state})\n${haproxy.tail()}\n${[...gateways.values()].map((g) => g.text.slice(-5).join('\n')).join('\n')}`,
      );
    },
  );
  const spread = countBy(devices, (d) => d.gateway!);
  t.same(Object.keys(spread).sort(), GATEWAYS, `leastconn spread the devices: ${JSON.stringify(spread)}`);

  // The feed publishes until told to stop, as a datafeed would, across everything below.
  let publishing = true;
  const feedDone = (async () => {
    while (publishing) {
      await publishOne(live[sequence % live.length]!);
      await new Promise((r) => setTimeout(r, PUBLISH_EVERY_MS));
    }
  })();
  const totalPublished = () => [...published.values()].reduce((n, l) => n + l.length, 0);
  const progress = async (what: string) => {
    const before = totalPublished();
    await waitFor(() => totalPublished() >= before + 20, `the feed to go on publishing ${what}`);
  };

  await t.test('kill -9 of a gateway mid-stream: its devices are back within 5 s', async (t) => {
    await progress('before the kill');
    const [victim] = Object.entries(countBy(devices, (d) => d.gateway!)).sort((a, b) => b[1] - a[1])[0]!;
    const moved = devices.filter((d) => d.gateway === victim);
    const before = new Map(moved.map((d) => [d, d.sessions]));
    const killedAt = Date.now();
    await gateways.get(victim)!.kill('SIGKILL');
    live.push(LATE_STREAM);
    await waitFor(
      () => moved.every((d) => d.ready && d.sessions > before.get(d)!),
      `the ${moved.length} devices of ${victim} to reconnect and catch up`,
      FAILOVER_DEADLINE_MS,
    );
    const tookMs = Date.now() - killedAt;
    t.pass(`${moved.length} devices of ${victim} reconnected and caught up in ${tookMs} ms`);
    t.ok(
      moved.every((d) => d.gateway !== victim),
      'each is now on one of the other gateways',
    );
    await progress('after the kill');
    await startGateway(victim);
    await haproxy.waitFor('UP', [victim]);
  });

  await t.test('rolling restart of every gateway', async (t) => {
    for (const name of GATEWAYS) {
      await progress(`before restarting ${name}`);
      // As an operator would: drain in HAProxy (no new devices), stop the gateway (its devices
      // are told to go away and reconnect elsewhere), start it, put it back in service.
      await haproxy.admin(`set server be_gateways/${name} state drain`);
      await haproxy.waitFor('DRAIN', [name]);
      const on = devices.filter((d) => d.gateway === name);
      const exit = await gateways.get(name)!.kill('SIGTERM');
      t.same(exit, { code: 0, signal: null }, `${name} stopped cleanly on SIGTERM`);
      await waitFor(
        () => on.every((d) => d.ready && d.gateway !== name),
        `the ${on.length} devices of ${name} to move`,
      );
      await startGateway(name);
      await haproxy.admin(`set server be_gateways/${name} state ready`);
      await haproxy.waitFor('UP', [name]);
    }
    t.pass('each gateway was drained, stopped, restarted and put back in turn');
    await progress('after the rolling restart');
  });

  publishing = false;
  await feedDone;

  await t.test('every device has every signal exactly once, in order per stream', async (t) => {
    const owed = (d: SimulatedDevice) =>
      [...STREAMS, LATE_STREAM].every((s) => (d.received.get(s)?.length ?? 0) >= published.get(s)!.length);
    await waitFor(() => devices.every(owed), 'every device to receive every signal', 60_000).catch(
      () => undefined, // judged below, with the details of what is missing
    );
    const problems: string[] = [];
    for (const d of devices) {
      for (const s of [...STREAMS, LATE_STREAM]) {
        const got = (d.received.get(s) ?? []).map((r) => r.id);
        const want = published.get(s)!;
        if (got.length !== want.length || got.some((id, i) => id !== want[i]))
          problems.push(`${d.id} ${s}: ${describeDifference(got, want)}`);
        const offsets = (d.received.get(s) ?? []).map((r) => r.offset);
        if (offsets.some((o, i) => i > 0 && !offsetGreater(o, offsets[i - 1]!)))
          problems.push(`${d.id} ${s}: offsets out of order`);
      }
      if (d.repeats > 0) problems.push(`${d.id}: ${d.repeats} repeated signal(s)`);
    }
    t.same(
      problems.slice(0, 10),
      [],
      `no device missed, repeated or reordered anything (${problems.length})`,
    );
    t.ok(totalPublished() >= 100, `the feed published ${totalPublished()} signals across the run`);
    t.ok(
      published.get(LATE_STREAM)!.length > 0,
      `including ${published.get(LATE_STREAM)!.length} on a stream that began during the failover`,
    );
    const reconnects = devices.reduce((n, d) => n + d.sessions - 1, 0);
    t.ok(reconnects >= DEVICES, `devices reconnected ${reconnects} times across failover and restarts`);
  });

  await t.test('the gateways see each device by its own address (PROXY v2 through HAProxy)', async (t) => {
    const seen = new Map<string, string>();
    const sub = await bus.subscribe({
      topic: TOPICS.telemetry,
      from: 'latest',
      onMessage: (m) => {
        const r = JSON.parse(m.value.toString()) as { deviceId: string; remote: string; gateway: string };
        seen.set(r.deviceId, r.remote);
      },
    });
    t.teardown(() => sub.close());
    await sub.ready;
    const sample = devices.slice(0, 5);
    await waitFor(
      () => {
        for (const d of sample)
          if (!seen.has(d.id))
            d.connection.send(telemetryFrame(d.id, { ts: Date.now(), equity: 1000, cash: 1000 }));
        return sample.every((d) => seen.has(d.id));
      },
      'telemetry from the sampled devices',
      30_000,
      500,
    );
    t.same(
      sample.map((d) => seen.get(d.id)),
      sample.map((d) => d.address),
      "each telemetry record carries the device's tunnel address, not HAProxy's",
    );
  });

  await t.test(
    'hostile clients through HAProxy: bad credentials, huge requests and frames, revoked devices',
    async (t) => {
      const attempt = (tok: string, from: string) =>
        new Promise<number>((resolve) => {
          const ws = new WebSocket(url, {
            headers: { authorization: `Bearer ${tok}` },
            ca: cert.certPem,
            localAddress: from,
          });
          ws.on('unexpected-response', (_req, res) => {
            resolve(res.statusCode ?? 0);
            ws.terminate();
          });
          ws.on('open', () => {
            resolve(101);
            ws.terminate();
          });
          ws.on('error', () => resolve(0));
        });
      t.equal(
        await attempt(token('cluster-x', generateSigner()), '127.2.0.1'),
        401,
        'a token of another key',
      );
      t.equal(
        await attempt(token('cluster-x', control, Date.now() - 2 * 60 * 60_000), '127.2.0.2'),
        401,
        'an expired token',
      );
      t.equal(await attempt('not-a-token', '127.2.0.3'), 401, 'garbage');

      const manyHeaders = await new Promise<number>((resolve) => {
        const headers: Record<string, string> = {};
        for (let i = 0; i < 5_000; i++) headers[`x-h${i}`] = 'v'.repeat(20);
        const req = httpsRequest(
          { host: '127.0.0.1', port, path: '/', ca: cert.certPem, headers, localAddress: '127.2.0.4' },
          (res) => resolve(res.statusCode ?? 0),
        );
        req.on('error', () => resolve(-1)); // or HAProxy just closes the connection
        req.end();
      });
      t.ok([400, 431, -1].includes(manyHeaders), `thousands of headers are refused (${manyHeaders})`);

      const big = new WebSocket(url, {
        headers: { authorization: `Bearer ${token('cluster-big')}` },
        ca: cert.certPem,
        localAddress: '127.2.0.5',
      });
      await new Promise((r) => big.once('open', r));
      big.send(JSON.stringify({ type: 'hello', deviceId: 'cluster-big', version: '1', resume: {} }));
      big.send('x'.repeat(65 * 1024));
      const code = await new Promise<number>((resolve) => big.on('close', (c) => resolve(c)));
      t.equal(code, 1009, 'a frame over the payload limit closes that connection with 1009');

      const revokedDevices = devices.slice(10, 13);
      const others = devices.filter((d) => !revokedDevices.includes(d));
      const revokedAt = Date.now();
      await bus.publish(TOPICS.control, [
        {
          key: 'revocation',
          value: JSON.stringify(
            createControl(
              {
                kind: 'revocation',
                version: 1,
                ts: Date.now(),
                ttlMs: 60_000,
                origin: 'control',
                body: { devices: revokedDevices.map((d) => d.id) },
              },
              control,
            ),
          ),
        },
      ]);
      await waitFor(
        () => revokedDevices.every((d) => !d.connection.connected),
        'the revoked devices to be disconnected',
        REVOCATION_DEADLINE_MS,
        10,
      );
      t.pass(`revoked devices disconnected in ${Date.now() - revokedAt} ms`);
      // Every gateway reads the list from the control topic on its own: all must hold it.
      await Promise.all(
        [...gateways.values()].map((p) =>
          p.waitForLog(
            (l) => l.msg === 'revocation list updated' && l.version === 1,
            `${p.name} to apply the revocation`,
            Math.max(1, REVOCATION_DEADLINE_MS - (Date.now() - revokedAt)),
          ),
        ),
      );
      t.pass(`every gateway applied the revocation within ${Date.now() - revokedAt} ms`);
      for (const d of revokedDevices) await d.connection.stop();
      // leastconn spreads the attempts; several per device reach more than one gateway. They come
      // from fresh addresses: the devices' own have spent HAProxy's per-source connection rate on
      // their refused reconnects, and it is the token that is revoked, not the address.
      const statuses: number[] = [];
      for (const [n, d] of revokedDevices.entries())
        for (let i = 0; i < 3; i++) statuses.push(await attempt(token(d.id), `127.3.${n}.${i + 1}`));
      t.same(
        [...new Set(statuses)],
        [401],
        `every reconnect of a revoked device is refused (${statuses.length})`,
      );

      const counts = new Map(others.map((d) => [d, d.received.get(STREAMS[0]!)?.length ?? 0]));
      await publishOne(STREAMS[0]!);
      await waitFor(
        () => others.every((d) => (d.received.get(STREAMS[0]!)?.length ?? 0) > counts.get(d)!),
        'the other devices to keep receiving',
      );
      t.pass(`the other ${others.length} devices still receive`);
    },
  );

  for (const [name, p] of gateways)
    t.notOk(
      p.text.some((l) => /uncaught|unhandled/i.test(l)),
      `${name} printed no uncaught error`,
    );
}

function makeSignal(feed: Signer, stream: string, i: number) {
  return createSignal(
    {
      stream,
      symbol: 'BTC/USDT',
      side: i % 2 === 0 ? 'buy' : 'sell',
      price: 60_000 + i,
      candleTime: Math.floor(Date.now() / 60_000) * 60_000 - 10_000 * 60_000 + i * 60_000,
      ts: Date.now(),
      ttlMs: 60 * 60_000,
      strength: 0.5,
      algoVersion: 'cluster-test/1',
      origin: 'cluster-feed',
    },
    feed,
  );
}

function countBy<T>(items: T[], key: (item: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const it of items) out[key(it)] = (out[key(it)] ?? 0) + 1;
  return out;
}

function describeDifference(got: string[], want: string[]): string {
  const missing = want.filter((id) => !got.includes(id)).length;
  const extra = got.length - new Set(got).size;
  const firstDiff = want.findIndex((id, i) => got[i] !== id);
  return `got ${got.length}, want ${want.length}; missing ${missing}, repeated ${extra}, first difference at ${firstDiff}`;
}
