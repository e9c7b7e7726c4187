import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isIPv6, type Server as NetServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Logger } from 'pino';
import {
  DEVICE_PROOF_HEADER,
  ProtocolError,
  keyIdOf,
  verifyDeviceProof,
  verifyDeviceToken,
  type DeviceTokenClaims,
  type KeyRing,
} from '@appliance/protocol';
import type { GatewayMetrics } from './metrics.js';
import type { GatewayOptions } from './options.js';
import { proxyV2Listener, type ProxyHeader } from './proxy-protocol.js';

export interface HttpDeps {
  options: Pick<
    GatewayOptions,
    'maxPayload' | 'maxHelloBytes' | 'gatewayId' | 'proxyProtocol' | 'requireBoundCredentials'
  >;
  /** The control server's public keys: device tokens verify against these alone. */
  tokenKeys: KeyRing;
  metrics: GatewayMetrics;
  logger: Logger;
  now: () => number;
  /** Whether the gateway has read both topics up to where it started (/healthz). */
  isReady: () => boolean;
  connections: () => number;
  /** Whether the newest revocation list names the device: it is refused (401). */
  isRevoked: (device: string) => boolean;
  /** Whether the newest revocation list retired this device key id (after a rotation's overlap). */
  isKeyRetired: (kid: string) => boolean;
  /** A device that passed the upgrade, with its address (from the PROXY header behind HAProxy). */
  onConnection: (ws: WebSocket, claims: DeviceTokenClaims, remote: string) => void;
}

/**
 * The HTTP side: /healthz, /metrics and the WebSocket upgrade, where a device authenticates with
 * its device token; with `proxyProtocol`, behind a PROXY v2 listener. `listenAdmin` opens a second,
 * plain listener for monitoring (/healthz and /metrics), which then moves /metrics off the device port.
 */
export function createHttp(deps: HttpDeps) {
  const { options, tokenKeys, metrics, logger, now } = deps;
  const proxied = new WeakMap<Socket, ProxyHeader>();
  const remoteOf = (socket: Socket) =>
    proxied.get(socket)?.source?.address ?? socket.remoteAddress ?? 'unknown';
  let tcp: NetServer | undefined;

  // ws enforces the larger hello limit; every other frame is held to maxPayload in device-frames.ts.
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: Math.max(options.maxPayload, options.maxHelloBytes),
    clientTracking: false,
  });

  /** Set once an admin listener is asked for: from then on /metrics is only served there. */
  let admin: Server | undefined;

  /** GET /healthz: 200 once the gateway reads both topics, for HAProxy and for monitoring. */
  function healthz(res: ServerResponse): void {
    const ready = deps.isReady();
    res.writeHead(ready ? 200 : 503, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        status: ready ? 'ok' : 'starting',
        gateway: options.gatewayId,
        connections: deps.connections(),
      }),
    );
  }

  function serveMetrics(res: ServerResponse): void {
    metrics.registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
      () => res.writeHead(500).end(),
    );
  }

  const notFound = (res: ServerResponse) =>
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');

  // The device port: /healthz (HAProxy's checks arrive here, behind PROXY v2), the upgrade, and
  // /metrics only while there is no admin port.
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/metrics' && !admin) return serveMetrics(res);
    if (req.method === 'GET' && req.url === '/healthz') return healthz(res);
    notFound(res);
  });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const claims = authenticate(req);
    if (!claims || deps.isRevoked(claims.sub)) {
      if (claims) metrics.dropped.inc({ reason: 'revoked' });
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      socket.destroy();
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => deps.onConnection(ws, claims, remoteOf(req.socket)));
  });

  /**
   * The credential, and for one bound to a device key (`cnf`) the proof signed by that key over
   * it: a copied credential alone gets nowhere. Everything is decided from the request headers,
   * before the upgrade.
   */
  function authenticate(req: IncomingMessage): DeviceTokenClaims | undefined {
    const header = req.headers.authorization ?? '';
    const token = header.startsWith('Bearer ') ? header.slice(7) : '';
    try {
      const at = now();
      const claims = verifyDeviceToken(token, tokenKeys, at);
      if (claims.cnf !== undefined) {
        const proof = req.headers[DEVICE_PROOF_HEADER];
        verifyDeviceProof(
          typeof proof === 'string' ? proof : undefined,
          { token, sub: claims.sub, cnf: claims.cnf },
          at,
        );
        if (deps.isKeyRetired(keyIdOf(claims.cnf))) {
          metrics.dropped.inc({ reason: 'key-retired' });
          logger.warn(
            { device: claims.sub, remote: remoteOf(req.socket) },
            'device refused at upgrade: key retired',
          );
          return undefined;
        }
      } else if (options.requireBoundCredentials) {
        logger.warn(
          { code: 'E_PROOF_REQUIRED', device: claims.sub, remote: remoteOf(req.socket) },
          'device refused at upgrade: credential not bound to a device key',
        );
        return undefined;
      }
      return claims;
    } catch (err) {
      const code = err instanceof ProtocolError ? err.code : 'E_BAD_TOKEN';
      logger.warn({ code, remote: remoteOf(req.socket) }, 'device refused at upgrade');
      return undefined;
    }
  }

  /** `ws://host:port` or `http://host:port` for what `listener` is bound to (IPv6 in brackets). */
  const urlOf = (scheme: string, listener: NetServer | Server, host: string) => {
    const a = listener.address();
    if (typeof a !== 'object' || !a) return String(a);
    return `${scheme}://${isIPv6(host) ? `[${host}]` : host}:${a.port}`;
  };
  const listenOn = (listener: NetServer | Server, port: number, host: string) =>
    new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      listener.listen(port, host, () => {
        listener.off('error', reject);
        resolve();
      });
    });

  return {
    server,
    async listen(port: number, host: string): Promise<string> {
      const listener: NetServer | Server = options.proxyProtocol
        ? (tcp = proxyV2Listener(server, (socket, header) => proxied.set(socket, header)))
        : server;
      await listenOn(listener, port, host);
      return urlOf('ws', listener, host);
    },
    /**
     * The admin listener for the operator's monitoring: GET /healthz and GET /metrics as plain
     * HTTP, never a PROXY header, never a WebSocket. Once it is asked for, the device port stops
     * serving /metrics (404); it keeps /healthz for HAProxy's checks.
     */
    async listenAdmin(port: number, host: string): Promise<string> {
      if (admin) throw new Error('the admin listener is already open');
      const adminServer = createServer((req, res) => {
        if (req.method === 'GET' && req.url === '/metrics') return serveMetrics(res);
        if (req.method === 'GET' && req.url === '/healthz') return healthz(res);
        notFound(res);
      });
      // Never upgrades: an upgrade request is answered 404 and its socket closed.
      adminServer.on('upgrade', (_req: IncomingMessage, socket: Duplex) => {
        socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        socket.destroy();
      });
      admin = adminServer;
      await listenOn(adminServer, port, host);
      return urlOf('http', adminServer, host);
    },
    /** Stops accepting connections; resolves once the listeners are closed. */
    async close(): Promise<void> {
      const closing = (l: NetServer | Server) => new Promise<void>((resolve) => l.close(() => resolve()));
      const done = [closing(tcp ?? server)];
      if (admin) {
        done.push(closing(admin));
        // A scraper's keep-alive connection must not hold the shutdown up.
        admin.closeAllConnections();
      }
      await Promise.all(done);
    },
  };
}
