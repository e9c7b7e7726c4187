import type { Server } from 'node:http';
import type { Logger } from 'pino';
import { TOPICS, type Bus, type KeyRing, type Subscription } from '@appliance/protocol';
import { CLOSE } from './close-codes.js';
import { createControlState } from './control-state.js';
import { createDeviceFrames } from './device-frames.js';
import { createFanOut } from './fan-out.js';
import { createHttp } from './http.js';
import { createGatewayMetrics } from './metrics.js';
import { GatewayOptions } from './options.js';
import { createRecordDrops } from './record-drops.js';
import { createResume } from './resume.js';
import { createSessions } from './session.js';
import { createStreamStore } from './stream-store.js';
import { createTelemetry } from './telemetry.js';
import { warnLimiter } from './warn-limiter.js';

/**
 * The gateway, composed: each part owns one thing and gets what it uses from here (the layout
 * is also in gateway/README.md).
 *
 * - http.ts: /healthz, /metrics, the upgrade (device token, revocation, PROXY v2 address), the admin port
 * - session.ts: device connections, one live per device; refuse, deliver, cursors, pings
 * - device-frames.ts: what a device sends, checked, to the resume or to telemetry
 * - resume.ts: hello to `caught-up` (control state, missed signals from rings and bus, paced)
 * - fan-out.ts: live signals to every ready device, in slices of the event loop
 * - stream-store.ts: rings per stream, heads per partition, `maxStreams`
 * - control-state.ts: verified control messages per scope, revocation list
 * - telemetry.ts: device frames and decision batches to `device-telemetry`, acks
 * - record-drops.ts: bus records not taken, counted and logged
 */

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
  /** Listens for devices; resolves with the URL (`ws://host:port`). */
  listen(port?: number, host?: string): Promise<string>;
  /**
   * Opens the admin listener for the operator's monitoring (`http://host:port`): GET /healthz and
   * GET /metrics, plain HTTP, no PROXY header, no WebSocket. From then on the device port answers
   * /metrics with 404 (it keeps /healthz for HAProxy's checks): call it before `listen`.
   */
  listenAdmin(port?: number, host?: string): Promise<string>;
  /** The device URL once listening. */
  readonly url: string | undefined;
  /** The admin URL once the admin listener is open. */
  readonly adminUrl: string | undefined;
  stats(): GatewayStats;
  close(): Promise<void>;
}

export async function createGateway(deps: GatewayDeps): Promise<Gateway> {
  const options = GatewayOptions.parse(deps.options ?? {});
  const { bus, tokenKeys, signalKeys, logger } = deps;
  const now = deps.now ?? Date.now;
  const warn = warnLimiter(logger, now);
  let ready = false;

  // Sizes are read at each scrape, once everything below exists.
  const metrics = createGatewayMetrics(options.gatewayId, () => ({
    connections: sessions.all.size,
    ready: sessions.readyCount(),
    queuedBytes: sessions.queuedBytes(),
    streams: streams.rings.size,
    controlScopes: controls.held.size,
  }));
  const drops = createRecordDrops({ metrics, warn });
  const sessions = createSessions({ options, metrics, logger, now });
  // Where each stream must live: read once at start. Adding partitions to the signals topic
  // moves streams (and breaks their order), so it needs the topic recreated and gateways restarted.
  const signalCheck = {
    keys: signalKeys,
    partitions: await bus.partitionCount(TOPICS.signals),
    maxRecordBytes: options.maxRecordBytes,
  };
  const streams = createStreamStore({ options, signalCheck, drop: drops.drop });
  const controls = createControlState({ options, keys: tokenKeys, sessions, logger, drop: drops.drop });
  const fanOut = createFanOut({ streams, sessions, metrics, now });
  const resume = createResume({ bus, options, sessions, streams, controls, metrics, logger });
  const telemetry = createTelemetry({ bus, options, metrics, logger, warn, now });
  const onFrame = createDeviceFrames({ options, sessions, resume, telemetry, metrics, logger, now });
  const http = createHttp({
    options,
    tokenKeys,
    metrics,
    logger,
    now,
    isReady: () => ready,
    connections: () => sessions.all.size,
    isRevoked: controls.isRevoked,
    isKeyRetired: controls.isKeyRetired,
    onConnection(ws, claims, remote) {
      const session = sessions.open(ws, claims, remote);
      ws.on('message', (data, isBinary) => onFrame(session, data, isBinary));
    },
  });

  const subs: Subscription[] = [
    await bus.subscribe({ topic: TOPICS.control, from: 'earliest', onMessage: controls.onControl }),
    await bus.subscribe({ topic: TOPICS.signals, from: 'earliest', onMessage: fanOut.onSignal }),
  ];
  await Promise.all(subs.map((s) => s.ready));
  ready = true;
  logger.info(
    {
      gateway: options.gatewayId,
      streams: streams.rings.size,
      controlScopes: controls.held.size,
      signalPartitions: signalCheck.partitions,
    },
    'ready: subscribed to signals and control and read both up to where they ended at start; /healthz answers 200, devices are accepted once listening',
  );
  const stopPinging = sessions.startPinging();
  let url: string | undefined;
  let adminUrl: string | undefined;

  return {
    server: http.server,
    get url() {
      return url;
    },
    get adminUrl() {
      return adminUrl;
    },
    listen: async (port = 0, host = '127.0.0.1') => (url = await http.listen(port, host)),
    listenAdmin: async (port = 0, host = '127.0.0.1') => (adminUrl = await http.listenAdmin(port, host)),
    stats() {
      const streamStats: GatewayStats['streams'] = {};
      for (const [k, r] of streams.rings) streamStats[k] = { size: r.size, lastOffset: r.last()?.offset };
      return {
        connections: sessions.all.size,
        ready: sessions.readyCount(),
        streams: streamStats,
        controlScopes: controls.held.size,
        relayed: fanOut.relayed(),
        dropped: drops.count(),
        queuedBytes: sessions.queuedBytes(),
      };
    },
    async close() {
      ready = false;
      stopPinging();
      for (const s of subs) await s.close();
      for (const s of sessions.all) s.ws.close(CLOSE.GOING_AWAY, 'gateway shutting down');
      await http.close();
      for (const s of sessions.all) s.ws.terminate();
    },
  };
}
