import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Server as NetServer, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { Logger } from 'pino';
import {
  DeviceFrame,
  ProtocolError,
  TOPICS,
  controlScope,
  offsetGreater,
  verifyDeviceToken,
  type Bus,
  type BusMessage,
  type Control,
  type DecisionBatch,
  type DecisionBusRecord,
  type DeviceTokenClaims,
  type KeyRing,
  type Subscription,
} from '@appliance/protocol';
import { CLOSE, closeReason } from './close-codes.js';
import { GatewayOptions } from './options.js';
import { createGatewayMetrics } from './metrics.js';
import { proxyV2Listener, type ProxyHeader } from './proxy-protocol.js';
import { checkControlRecord, checkSignalRecord, type RecordDropReason } from './record-filter.js';
import { StreamRing, type RingEntry } from './stream-ring.js';
import { TokenBucket } from './token-bucket.js';
import { warnLimiter } from './warn-limiter.js';

/** How long a resume may wait for forgotten signals to be read back from the bus. */
const FETCH_FORGOTTEN_TIMEOUT_MS = 15_000;
/** Longest stretch of fan-out before the event loop gets a turn (pings, health checks, reads). */
const FANOUT_SLICE_MS = 20;
/**
 * Resume points a hello may give for streams this gateway has not read (yet) that it keeps for
 * the connection: used if such a stream turns up (a gateway still reading the topic), ignored
 * otherwise. Anything beyond is ignored at once; it never grows anything but this small map.
 */
const MAX_PENDING_RESUMES = 32;
/**
 * `decisions` frames of one connection waiting for the bus. While the bus is down a device's
 * further batches are dropped beyond this (no ack: it sends them again), so memory stays bounded.
 */
const MAX_PENDING_DECISION_BATCHES = 8;

export interface GatewayDeps {
  bus: Bus;
  /**
   * The control server's public keys. Device tokens and control messages are both checked
   * against these alone: one control-server key signs both, domain-separated.
   */
  tokenKeys: KeyRing;
  /** The datafeeds' public keys: a signal that does not verify against one is never relayed. */
  signalKeys: KeyRing;
  logger: Logger;
  now?: () => number;
  options?: Partial<GatewayOptions>;
}

interface Session {
  ws: WebSocket;
  claims: DeviceTokenClaims;
  /** The device's address: from the PROXY header behind HAProxy, else the socket's peer. */
  remote: string;
  ready: boolean;
  alive: boolean;
  /** Per stream, the last offset sent to this device. Only verified signals of that stream move it. */
  cursors: Map<string, string>;
  /** Resume points from hello for streams the gateway had not read then (bounded, see above). */
  pending: Map<string, string>;
  /** Decision batches: published one after another, acknowledged in order. */
  decisions: {
    chain: Promise<void>;
    queued: number;
    /**
     * Every report of this connection up to this seq is on the bus (undefined: none yet). Set
     * to one before the first batch's seq when it arrives; an ack is only ever this value.
     */
    stored: number | undefined;
  };
  helloTimer: NodeJS.Timeout;
  inbound: TokenBucket;
  closing: boolean;
  helloing: boolean;
}

export interface GatewayStats {
  connections: number;
  ready: number;
  streams: Record<string, { size: number; lastOffset: string | undefined }>;
  /** Control scopes held (breaker, heartbeat, eligibility per stream, policy per profile). */
  controlScopes: number;
  relayed: number;
  dropped: number;
  /** Bytes queued for devices, not yet written to their sockets: bounded by the high-water mark. */
  queuedBytes: number;
}

export interface Gateway {
  readonly server: Server;
  listen(port?: number, host?: string): Promise<string>;
  stats(): GatewayStats;
  close(): Promise<void>;
}

export async function createGateway(deps: GatewayDeps): Promise<Gateway> {
  const options = GatewayOptions.parse(deps.options ?? {});
  const { bus, tokenKeys, signalKeys, logger } = deps;
  const now = deps.now ?? Date.now;
  const warn = warnLimiter(logger, now);
  const rings = new Map<string, StreamRing>();
  /** Per partition of the signals topic, the offset of the newest record read. */
  const heads = new Map<string, string>();
  /** Newest control message per scope, as the frame sent to devices. */
  const controls = new Map<string, { version: number; frame: string }>();
  const sessions = new Set<Session>();
  /** The one live connection per device (a newer one replaces it). */
  const byDevice = new Map<string, Session>();
  /** Devices whose credentials the control server has withdrawn (the newest signed list). */
  let revoked = new Set<string>();
  let revokedVersion = -1;
  const proxied = new WeakMap<Socket, ProxyHeader>();
  const remoteOf = (socket: Socket) =>
    proxied.get(socket)?.source?.address ?? socket.remoteAddress ?? 'unknown';
  let relayed = 0;
  let dropped = 0;
  let ready = false;

  // ws enforces the larger hello limit; every other frame is held to maxPayload in onFrame.
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: Math.max(options.maxPayload, options.maxHelloBytes),
    clientTracking: false,
  });
  const queuedBytes = () => {
    let n = 0;
    for (const s of sessions) n += s.ws.bufferedAmount;
    return n;
  };
  const metrics = createGatewayMetrics(options.gatewayId, () => ({
    connections: sessions.size,
    ready: [...sessions].filter((s) => s.ready).length,
    queuedBytes: queuedBytes(),
    streams: rings.size,
    controlScopes: controls.size,
  }));

  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/metrics') {
      metrics.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
        () => res.writeHead(500).end(),
      );
      return;
    }
    if (req.method === 'GET' && req.url === '/healthz') {
      res.writeHead(ready ? 200 : 503, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          status: ready ? 'ok' : 'starting',
          gateway: options.gatewayId,
          connections: sessions.size,
        }),
      );
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
  });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const claims = authenticate(req);
    if (!claims || revoked.has(claims.sub)) {
      if (claims) metrics.dropped.inc({ reason: 'revoked' });
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      socket.destroy();
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, claims, remoteOf(req.socket)));
  });

  function authenticate(req: IncomingMessage): DeviceTokenClaims | undefined {
    const header = req.headers.authorization ?? '';
    const token = header.startsWith('Bearer ') ? header.slice(7) : '';
    try {
      return verifyDeviceToken(token, tokenKeys, now());
    } catch (err) {
      const code = err instanceof ProtocolError ? err.code : 'E_BAD_TOKEN';
      logger.warn({ code, remote: remoteOf(req.socket) }, 'device refused at upgrade');
      return undefined;
    }
  }

  function onConnection(ws: WebSocket, claims: DeviceTokenClaims, remote: string): void {
    const session: Session = {
      ws,
      claims,
      remote,
      ready: false,
      alive: true,
      cursors: new Map(),
      pending: new Map(),
      decisions: { chain: Promise.resolve(), queued: 0, stored: undefined },
      helloTimer: setTimeout(() => refuse(session, CLOSE.POLICY, 'no hello in time'), options.helloTimeoutMs),
      inbound: new TokenBucket(options.inboundRatePerSec, options.inboundBurst, now()),
      closing: false,
      helloing: false,
    };
    // One live connection per device: the newest replaces the one before (a device that lost
    // its network reconnects before its old socket times out; 300 sockets with one token are
    // one device, not 300 inbound budgets).
    const previous = byDevice.get(claims.sub);
    if (previous) {
      metrics.dropped.inc({ reason: 'replaced' });
      refuse(previous, CLOSE.REPLACED, 'replaced by a newer connection');
    }
    byDevice.set(claims.sub, session);
    sessions.add(session);
    ws.on('pong', () => (session.alive = true));
    ws.on('message', (data, isBinary) => onFrame(session, data, isBinary));
    ws.on('close', () => {
      clearTimeout(session.helloTimer);
      sessions.delete(session);
      if (byDevice.get(claims.sub) === session) byDevice.delete(claims.sub);
    });
    ws.on('error', (err) => logger.debug({ err, device: claims.sub }, 'device socket error'));
    ws.send(JSON.stringify({ type: 'welcome', gateway: options.gatewayId, deviceId: claims.sub }));
  }

  function refuse(session: Session, code: number, reason: string): void {
    if (session.closing) return;
    session.closing = true;
    metrics.closes.inc({ code: String(code) });
    logger.info({ device: session.claims.sub, code, reason }, 'closing device connection');
    session.ws.close(code, closeReason(reason));
    // A peer that does not answer the close handshake (it stopped reading) is cut off.
    setTimeout(() => session.ws.terminate(), 2_000).unref();
  }

  /**
   * Sends a frame unless the device is not keeping up: past the high-water mark its connection
   * is closed with 1013 and it resumes later from its offsets, so memory stays bounded.
   */
  function deliver(session: Session, frame: string, catchUp = false): boolean {
    if (session.closing) return false;
    // A resume is sent in one go and is bounded by the ring; the mark applies to live traffic.
    if (!catchUp && session.ws.bufferedAmount > options.sendHighWaterBytes) {
      metrics.dropped.inc({ reason: 'slow-consumer' });
      refuse(session, CLOSE.TRY_AGAIN_LATER, 'not reading fast enough: reconnect and resume');
      return false;
    }
    session.ws.send(frame);
    metrics.relayed.inc();
    return true;
  }

  function onFrame(session: Session, data: RawData, isBinary: boolean): void {
    if (session.closing) return;
    if (!session.inbound.take(now())) {
      metrics.dropped.inc({ reason: 'rate-limit' });
      return refuse(session, CLOSE.POLICY, 'too many messages: rate limit exceeded');
    }
    if (isBinary) return refuse(session, CLOSE.UNSUPPORTED, 'binary frames are not accepted');
    // Only a connection's first frame may be larger than maxPayload, and only if it is a hello.
    const first = !session.ready && !session.helloing;
    const oversized = byteLength(data) > options.maxPayload;
    const tooBig = () => refuse(session, CLOSE.TOO_BIG, 'frame larger than maxPayload');
    if (oversized && !first) return tooBig();
    let json: unknown;
    try {
      json = JSON.parse(data.toString());
    } catch {
      return oversized ? tooBig() : refuse(session, CLOSE.INVALID_JSON, 'frame is not valid JSON');
    }
    const parsed = DeviceFrame.safeParse(json);
    if (!parsed.success) {
      if (oversized) return tooBig();
      const issue = parsed.error.issues[0];
      return refuse(
        session,
        CLOSE.POLICY,
        `malformed frame: ${issue?.path.join('.') || 'frame'}: ${issue?.message}`,
      );
    }
    const frame = parsed.data;
    if (oversized && frame.type !== 'hello') return tooBig();
    metrics.received.inc({ type: frame.type });
    if (frame.deviceId !== session.claims.sub)
      return refuse(session, CLOSE.POLICY, 'device id does not match token');
    if (frame.type === 'hello') {
      onHello(session, frame.resume, frame.since).catch((err: unknown) => {
        logger.error({ err, device: session.claims.sub }, 'resume failed');
        refuse(session, CLOSE.GOING_AWAY, 'resume failed: reconnect');
      });
      return;
    }
    if (!session.ready && !session.helloing) return refuse(session, CLOSE.POLICY, 'hello must come first');
    if (frame.type === 'decisions') return onDecisions(session, frame);
    const record = {
      ...frame,
      scope: session.claims.scope,
      gateway: options.gatewayId,
      remote: session.remote,
      receivedAt: now(),
    };
    bus
      .publish(TOPICS.telemetry, [{ key: frame.deviceId, value: JSON.stringify(record) }])
      .catch((err: unknown) => {
        logger.warn({ err, device: frame.deviceId }, 'could not publish telemetry');
      });
  }

  /**
   * Each report of a batch becomes a telemetry record of its own, stamped like any other frame,
   * with `seq` numbering it. Once the bus has them all, the device gets `ack` with the highest
   * seq such that every report of this connection up to it is stored: acks are cumulative, so a
   * batch after a lost one is published but not acknowledged until the lost one is sent again.
   * The device sends its outbox oldest first on each connection; what gets no ack it sends again
   * (the fleet view drops a (device, seq) it already has). Batches of a connection go to the bus
   * one after another, so acks come in order.
   */
  function onDecisions(session: Session, batch: DecisionBatch): void {
    const d = session.decisions;
    if (d.queued >= MAX_PENDING_DECISION_BATCHES) {
      metrics.dropped.inc({ reason: 'decisions-backlog' });
      warn(
        'decisions-backlog',
        { device: batch.deviceId },
        'decision reports waiting for the bus: batch not taken',
      );
      return;
    }
    d.stored ??= batch.seq - 1;
    const receivedAt = now();
    const records = batch.decisions.map((decision, i) => {
      const record: DecisionBusRecord & {
        scope: string;
        gateway: string;
        remote: string;
        receivedAt: number;
      } = {
        type: 'decision',
        deviceId: batch.deviceId,
        decision,
        seq: batch.seq + i,
        scope: session.claims.scope,
        gateway: options.gatewayId,
        remote: session.remote,
        receivedAt,
      };
      return { key: batch.deviceId, value: JSON.stringify(record) };
    });
    const last = batch.seq + batch.decisions.length - 1;
    d.queued++;
    d.chain = d.chain
      .then(() => bus.publish(TOPICS.telemetry, records))
      .then(
        () => {
          if (d.stored === undefined || batch.seq > d.stored + 1) return; // a lost batch before it
          d.stored = Math.max(d.stored, last);
          if (!session.closing && session.ws.readyState === session.ws.OPEN)
            session.ws.send(JSON.stringify({ type: 'ack', seq: d.stored }));
        },
        (err: unknown) => {
          metrics.dropped.inc({ reason: 'decisions-publish-failed' });
          warn(
            'decisions-publish-failed',
            { err, device: batch.deviceId },
            'could not publish decision reports: not acknowledged',
          );
        },
      )
      .finally(() => d.queued--);
  }

  /**
   * The signals of `stream` after `after` that the ring has already forgotten, read back from
   * the bus: a temporary subscription from that offset on the stream's partition, up to the
   * ring's oldest entry. Bounded in count and time; what it cannot get is logged as a gap.
   */
  async function fetchForgotten(
    stream: string,
    ring: StreamRing,
    after: string,
  ): Promise<{ entries: RingEntry[]; stoppedAt: string | undefined }> {
    const out: RingEntry[] = [];
    let stoppedAt: string | undefined;
    let finish: () => void = () => undefined;
    const done = new Promise<void>((resolve) => (finish = resolve));
    const timer = setTimeout(finish, FETCH_FORGOTTEN_TIMEOUT_MS);
    const sub = await bus.subscribe({
      topic: TOPICS.signals,
      from: 'latest',
      offsets: { [ring.partition]: String(BigInt(after) + 1n) },
      onMessage: (m) => {
        if (m.partition !== ring.partition) return;
        const oldest = ring.oldest();
        if (!oldest || !offsetGreater(oldest.offset, m.offset)) {
          stoppedAt ??= m.offset; // reached what the ring still holds: complete
          return finish();
        }
        if (out.length >= options.ringCapacity * 10) return finish(); // bounded: the rest is a gap
        // Read back from the bus, so checked like every record: the ring holds verified ones only.
        const f = checkSignalRecord(m, signalCheck);
        if (f.ok && f.stream === stream && offsetGreater(m.offset, after))
          out.push({ offset: m.offset, frame: f.frame });
      },
    });
    await done;
    clearTimeout(timer);
    void sub.close();
    return { entries: out, stoppedAt };
  }

  /**
   * The signals of `stream` after `after`: read back from the bus where the ring has forgotten
   * them (`forgotten`), then the ring's. A gap neither could fill is logged.
   */
  function missedSince(
    session: Session,
    stream: string,
    ring: StreamRing,
    after: string,
    forgotten: Map<string, { entries: RingEntry[]; stoppedAt: string | undefined }>,
  ): RingEntry[] {
    const fetched = forgotten.get(stream);
    const inRing = ring.since(after);
    const oldest = ring.oldest();
    const fromBus = (fetched?.entries ?? []).filter((e) => !oldest || offsetGreater(oldest.offset, e.offset));
    // Whole when the ring forgot nothing newer, or the read-back reached what the ring still holds.
    const whole =
      !inRing.gap ||
      (fetched?.stoppedAt !== undefined && !!oldest && !offsetGreater(oldest.offset, fetched.stoppedAt));
    if (!whole)
      logger.warn(
        { device: session.claims.sub, stream, after },
        'resume older than the ring and the bus: signals missed',
      );
    return [...fromBus, ...inRing.entries];
  }

  async function onHello(
    session: Session,
    resume: Record<string, string>,
    since: Record<string, string> | undefined,
  ): Promise<void> {
    if (session.ready || session.helloing) return refuse(session, CLOSE.POLICY, 'hello sent twice');
    session.helloing = true;
    clearTimeout(session.helloTimer);
    // Streams the device has no resume point for: a new device starts them from now; a known
    // one (it says where it last went live) is owed everything they carried after that point,
    // since they began while it was away.
    const from: Record<string, string> = { ...resume };
    const fromStart = new Set<string>();
    if (since !== undefined)
      for (const [stream, ring] of rings) {
        if (resume[stream] !== undefined) continue;
        const after = since[String(ring.partition)];
        if (after !== undefined) from[stream] = after;
        else fromStart.add(stream); // its partition was empty then: all of the stream is new to the device
      }
    // Resumes older than a ring: read back from the bus what the ring has forgotten.
    const forgotten = new Map<string, { entries: RingEntry[]; stoppedAt: string | undefined }>();
    for (const [stream, after] of Object.entries(from)) {
      const ring = rings.get(stream);
      if (ring?.since(after).gap) forgotten.set(stream, await fetchForgotten(stream, ring, after));
    }
    if (session.closing) return;
    // Control state first, so the device knows breaker and eligibility before any signal.
    const controlsSent = new Map<string, number>();
    for (const [scope, c] of controls) {
      deliver(session, c.frame, true);
      controlsSent.set(scope, c.version);
    }
    const backlog: string[] = [];
    for (const [stream, ring] of rings) {
      const after = from[stream];
      if (after === undefined && !fromStart.has(stream)) {
        // A new device: streams start from now, old signals would be stale.
        session.cursors.set(stream, ring.last()!.offset);
        continue;
      }
      const entries = after === undefined ? ring.all() : missedSince(session, stream, ring, after, forgotten);
      if (after === undefined && ring.forgotAny)
        logger.warn({ device: session.claims.sub, stream }, 'stream began before the ring: signals missed');
      for (const e of entries) backlog.push(e.frame);
      const last = entries.at(-1)?.offset ?? after;
      if (last !== undefined) session.cursors.set(stream, last);
    }
    // Resume points for streams this gateway does not know are not trusted to grow anything:
    // they are not echoed in `caught-up`, and only a few are kept in case the stream turns up.
    for (const [stream, after] of Object.entries(resume)) {
      if (rings.has(stream) || session.pending.size >= MAX_PENDING_RESUMES) continue;
      session.pending.set(stream, after);
    }
    // The backlog goes out at the pace the device reads it, never more than the high-water mark
    // queued. Live signals meanwhile land in the rings past this device's cursors; they are sent
    // next, round after round, until none are left.
    for (let round = backlog; round.length > 0;) {
      if (!(await sendPaced(session, round))) return;
      round = [];
      for (const [stream, ring] of rings) {
        const cursor = cursorOf(session, stream);
        // Every ring had a cursor set above: one without is a stream that began during the
        // catch-up, new to everyone, so all of it is live.
        const more = cursor === undefined ? { entries: ring.all(), gap: false } : ring.since(cursor);
        if (more.gap) {
          metrics.dropped.inc({ reason: 'slow-consumer' });
          refuse(session, CLOSE.TRY_AGAIN_LATER, 'catch-up slower than the feed: reconnect and resume');
          return;
        }
        for (const e of more.entries) round.push(e.frame);
        if (more.entries.length > 0) session.cursors.set(stream, more.entries.at(-1)!.offset);
      }
    }
    // From here to `ready` nothing awaits, so no live signal or control can slip in between.
    for (const [scope, c] of controls)
      if (controlsSent.get(scope) !== c.version) deliver(session, c.frame, true);
    session.ready = true;
    // Where this device now stands on every stream: it keeps these as resume points, so even a
    // device that has not yet seen a signal misses nothing published while it is offline.
    // And where the gateway stands per partition, the device's `since` for its next hello.
    deliver(
      session,
      JSON.stringify({
        type: 'caught-up',
        positions: Object.fromEntries(session.cursors),
        partitions: Object.fromEntries(heads),
      }),
      true,
    );
    logger.info({ device: session.claims.sub, resume, since, backlog: backlog.length }, 'device ready');
  }

  /**
   * Sends `frames` in order; whenever more than the high-water mark is queued for the socket, it
   * waits until that is flushed to the kernel. False if the connection closed first.
   */
  async function sendPaced(session: Session, frames: string[]): Promise<boolean> {
    for (const frame of frames) {
      if (session.closing || session.ws.readyState !== session.ws.OPEN) return false;
      metrics.relayed.inc();
      if (session.ws.bufferedAmount <= options.sendHighWaterBytes) {
        session.ws.send(frame);
        continue;
      }
      // Past the mark: this frame's callback runs once it, and so all before it, is written.
      await new Promise<void>((resolve) => {
        const done = () => {
          session.ws.off('close', done);
          resolve();
        };
        session.ws.once('close', done);
        session.ws.send(frame, done);
      });
    }
    return !session.closing && session.ws.readyState === session.ws.OPEN;
  }

  /**
   * Where `session` stands on `stream`: its cursor, or the resume point its hello gave for the
   * stream before this gateway had read it (then taken as the cursor).
   */
  function cursorOf(session: Session, stream: string): string | undefined {
    const cursor = session.cursors.get(stream);
    if (cursor !== undefined) return cursor;
    const pending = session.pending.get(stream);
    if (pending === undefined) return undefined;
    session.pending.delete(stream);
    session.cursors.set(stream, pending);
    return pending;
  }

  /** Counts and (rate-limited) logs a bus record that is not relayed. */
  function dropRecord(
    reason: RecordDropReason | 'too-many-streams' | 'too-many-control-scopes' | 'stale-control',
    m: BusMessage,
    detail: string,
  ): undefined {
    dropped++;
    metrics.dropped.inc({ reason });
    warn(
      reason,
      { topic: m.topic, partition: m.partition, offset: m.offset, detail },
      `dropping ${m.topic} record: ${reason}`,
    );
    return undefined;
  }

  /** When the current turn of the event loop began handling signals (undefined: not busy). */
  let turnStartedAt: number | undefined;

  /**
   * A burst of signals fanned out to thousands of devices would hold the event loop for
   * seconds: pings and /healthz unanswered, HAProxy would mark the gateway down and cut every
   * device. So past a few milliseconds of fan-out the next record waits for the next turn
   * (the bus awaits this handler before delivering the next record of a partition).
   */
  function noteTurn(): void {
    if (turnStartedAt !== undefined) return;
    turnStartedAt = performance.now();
    setImmediate(() => (turnStartedAt = undefined));
  }

  function yieldIfBusy(): Promise<void> | undefined {
    if (performance.now() - (turnStartedAt ?? Infinity) < FANOUT_SLICE_MS) return undefined;
    return new Promise((resolve) => setImmediate(resolve));
  }

  function onSignal(m: BusMessage): Promise<void> | undefined {
    noteTurn();
    // Heads are positions, not content: every record read, verified or not, moves its
    // partition's head. A device's `since` says "everything up to here was considered when I
    // went live"; a dropped record is considered too, and a stream only begins (a ring only
    // exists) with a verified record, so no genuine signal at or before a head is ever owed.
    heads.set(String(m.partition), m.offset);
    const checked = checkSignalRecord(m, signalCheck);
    if (!checked.ok) return dropRecord(checked.reason, m, checked.detail);
    const { stream, frame } = checked;
    let ring = rings.get(stream);
    if (!ring) {
      if (rings.size >= options.maxStreams)
        return dropRecord('too-many-streams', m, `${rings.size} streams held; ${stream} is not taken`);
      rings.set(stream, (ring = new StreamRing(options.ringCapacity, m.partition)));
    }
    ring.push({ offset: m.offset, frame });
    for (const s of sessions) {
      if (!s.ready) continue;
      const cursor = cursorOf(s, stream);
      if (cursor !== undefined && !offsetGreater(m.offset, cursor)) continue;
      s.cursors.set(stream, m.offset);
      if (deliver(s, frame)) relayed++;
    }
    metrics.lag.observe(Math.max(0, now() - m.timestamp) / 1000);
    return yieldIfBusy();
  }

  /**
   * Control state only changes through a message signed by the control server: a forged one,
   * whatever its version, is dropped before it is compared with anything. A verified message
   * older than the one held for its scope is ignored; one of the same version replaces it (the
   * same message read again). New scopes are bounded by `maxControlScopes`.
   */
  function onControl(m: BusMessage): void {
    const checked = checkControlRecord(m, controlCheck);
    if (!checked.ok) return dropRecord(checked.reason, m, checked.detail);
    const { control: c, frame } = checked;
    if (c.kind === 'revocation') return onRevocation(c);
    const scope = controlScope(c);
    const held = controls.get(scope);
    if (held && held.version > c.version)
      return dropRecord('stale-control', m, `${scope} version ${c.version} is older than ${held.version}`);
    if (!held && controls.size >= options.maxControlScopes)
      return dropRecord('too-many-control-scopes', m, `${controls.size} scopes held; ${scope} is not taken`);
    controls.set(scope, { version: c.version, frame });
    for (const s of sessions) if (s.ready) deliver(s, frame);
  }

  /**
   * A revocation moves no money but can cut devices off; it is verified like every control
   * message. Its validity window is not checked either: the list is complete and versioned, and
   * an old list must never let a revoked device back in while the control server is away.
   */
  function onRevocation(c: Control): void {
    if (c.kind !== 'revocation' || c.version <= revokedVersion) return;
    revokedVersion = c.version;
    revoked = new Set(c.body.devices);
    for (const s of sessions) if (revoked.has(s.claims.sub)) refuse(s, CLOSE.POLICY, 'device revoked');
    logger.info({ devices: revoked.size, version: c.version }, 'revocation list updated');
  }

  // Where each stream must live: read once at start. Adding partitions to the signals topic
  // moves streams (and breaks their order), so it needs the topic recreated and gateways restarted.
  const signalCheck = {
    keys: signalKeys,
    partitions: await bus.partitionCount(TOPICS.signals),
    maxRecordBytes: options.maxRecordBytes,
  };
  const controlCheck = { keys: tokenKeys, maxRecordBytes: options.maxRecordBytes };

  const subs: Subscription[] = [
    await bus.subscribe({ topic: TOPICS.control, from: 'earliest', onMessage: onControl }),
    await bus.subscribe({ topic: TOPICS.signals, from: 'earliest', onMessage: onSignal }),
  ];
  await Promise.all(subs.map((s) => s.ready));
  ready = true;

  let tcp: NetServer | undefined;

  const pinger = setInterval(() => {
    for (const s of sessions) {
      if (!s.alive) {
        logger.info({ device: s.claims.sub }, 'dropping dead peer');
        s.ws.terminate();
        continue;
      }
      s.alive = false;
      s.ws.ping();
    }
  }, options.pingIntervalMs);
  pinger.unref();

  return {
    server,
    listen(port = 0, host = '127.0.0.1') {
      const listener: NetServer | Server = options.proxyProtocol
        ? (tcp = proxyV2Listener(server, (socket, header) => proxied.set(socket, header)))
        : server;
      return new Promise((resolve, reject) => {
        listener.once('error', reject);
        listener.listen(port, host, () => {
          const a = listener.address();
          resolve(typeof a === 'object' && a ? `ws://${host}:${a.port}` : String(a));
        });
      });
    },
    stats() {
      const streams: GatewayStats['streams'] = {};
      for (const [k, r] of rings) streams[k] = { size: r.size, lastOffset: r.last()?.offset };
      return {
        connections: sessions.size,
        ready: [...sessions].filter((s) => s.ready).length,
        streams,
        controlScopes: controls.size,
        relayed,
        dropped,
        queuedBytes: queuedBytes(),
      };
    },
    async close() {
      ready = false;
      clearInterval(pinger);
      for (const s of subs) await s.close();
      for (const s of sessions) s.ws.close(CLOSE.GOING_AWAY, 'gateway shutting down');
      await new Promise<void>((resolve) => (tcp ?? server).close(() => resolve()));
      for (const s of sessions) s.ws.terminate();
    },
  };
}

/** Bytes of a frame as ws hands it over. */
function byteLength(data: RawData): number {
  if (Array.isArray(data)) return data.reduce((n, b) => n + b.length, 0);
  return data.byteLength;
}
