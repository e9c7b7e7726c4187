import type { WebSocket } from 'ws';
import type { Logger } from 'pino';
import type { DeviceTokenClaims } from '@appliance/protocol';
import { CLOSE, closeReason } from './close-codes.js';
import type { GatewayMetrics } from './metrics.js';
import type { GatewayOptions } from './options.js';
import { TokenBucket } from './token-bucket.js';

/** One device connection, from the upgrade until its socket closes. */
export interface Session {
  ws: WebSocket;
  claims: DeviceTokenClaims;
  /** The device's address: from the PROXY header behind HAProxy, else the socket's peer. */
  remote: string;
  ready: boolean;
  alive: boolean;
  /** Per stream, the last offset sent to this device. Only verified signals of that stream move it. */
  cursors: Map<string, string>;
  /**
   * Resume points from hello for streams the gateway had not read then (bounded by
   * `MAX_PENDING_RESUMES`, resume.ts).
   */
  pending: Map<string, string>;
  /** Decision batches: published one after another, acknowledged in order (telemetry.ts). */
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

export interface SessionsDeps {
  options: GatewayOptions;
  metrics: GatewayMetrics;
  logger: Logger;
  now: () => number;
}

export type Sessions = ReturnType<typeof createSessions>;

/** The open device connections, at most one live per device, and what is sent to each. */
export function createSessions({ options, metrics, logger, now }: SessionsDeps) {
  const sessions = new Set<Session>();
  /** The one live connection per device (a newer one replaces it). */
  const byDevice = new Map<string, Session>();

  /** Registers a connection that passed the upgrade and sends it `welcome`; it must then say hello. */
  function open(ws: WebSocket, claims: DeviceTokenClaims, remote: string): Session {
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
    ws.on('close', () => {
      clearTimeout(session.helloTimer);
      sessions.delete(session);
      if (byDevice.get(claims.sub) === session) byDevice.delete(claims.sub);
    });
    ws.on('error', (err) => logger.debug({ err, device: claims.sub }, 'device socket error'));
    ws.send(JSON.stringify({ type: 'welcome', gateway: options.gatewayId, deviceId: claims.sub }));
    return session;
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

  /** Pings every connection each interval; a peer that missed a pong by the next ping is dropped. */
  function startPinging(): () => void {
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
    return () => clearInterval(pinger);
  }

  return {
    /** Every open connection, in the order they connected. */
    all: sessions as ReadonlySet<Session>,
    open,
    refuse,
    deliver,
    cursorOf,
    startPinging,
    readyCount: () => [...sessions].filter((s) => s.ready).length,
    /** Bytes queued for devices, not yet written to their sockets: bounded by the high-water mark. */
    queuedBytes: () => {
      let n = 0;
      for (const s of sessions) n += s.ws.bufferedAmount;
      return n;
    },
  };
}
