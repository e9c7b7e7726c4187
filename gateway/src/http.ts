import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Server as NetServer, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Logger } from 'pino';
import { ProtocolError, verifyDeviceToken, type DeviceTokenClaims, type KeyRing } from '@appliance/protocol';
import type { GatewayMetrics } from './metrics.js';
import type { GatewayOptions } from './options.js';
import { proxyV2Listener, type ProxyHeader } from './proxy-protocol.js';

export interface HttpDeps {
  options: Pick<GatewayOptions, 'maxPayload' | 'maxHelloBytes' | 'gatewayId' | 'proxyProtocol'>;
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
  /** A device that passed the upgrade, with its address (from the PROXY header behind HAProxy). */
  onConnection: (ws: WebSocket, claims: DeviceTokenClaims, remote: string) => void;
}

/**
 * The HTTP side: /healthz, /metrics and the WebSocket upgrade, where a device authenticates with
 * its device token; with `proxyProtocol`, behind a PROXY v2 listener.
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

  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/metrics') {
      metrics.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
        () => res.writeHead(500).end(),
      );
      return;
    }
    if (req.method === 'GET' && req.url === '/healthz') {
      const ready = deps.isReady();
      res.writeHead(ready ? 200 : 503, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          status: ready ? 'ok' : 'starting',
          gateway: options.gatewayId,
          connections: deps.connections(),
        }),
      );
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
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

  return {
    server,
    listen(port: number, host: string): Promise<string> {
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
    /** Stops accepting connections; resolves once the listener is closed. */
    close: () => new Promise<void>((resolve) => (tcp ?? server).close(() => resolve())),
  };
}
