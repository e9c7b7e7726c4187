import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { WebSocketServer } from 'ws';
// The gateway's own PROXY v2 parser: the stand-in gateways here accept exactly what it accepts.
import { parseProxyV2, type ProxyHeader } from '@appliance/gateway';

export interface Backend {
  name: string;
  port: number;
  /** Every PROXY header received, health checks included. */
  headers: ProxyHeader[];
  /** Connections dropped for want of a valid PROXY v2 header. */
  refused: number;
  /** Every HTTP request received (upgrades too), with the PROXY command of its connection. */
  requests: { url: string; command: ProxyHeader['command'] | undefined }[];
  close(): Promise<void>;
}

/**
 * A stand-in gateway behind HAProxy, built the way a real one would accept PROXY v2: a TCP
 * server reads and strips the header, then hands the socket to an ordinary HTTP server (with a
 * `ws` WebSocket server on its upgrades). It answers /healthz, /metrics (as a gateway without an
 * admin port would), any other request with who it is and whom the PROXY header names, and echoes
 * WebSocket messages the same way; it records every request. A connection without
 * a valid header is dropped, as a gateway that requires the PROXY protocol must.
 */
export async function startBackend(name: string): Promise<Backend> {
  const proxied = new WeakMap<Socket, ProxyHeader>();
  const sourceOf = (socket: Socket) => proxied.get(socket)?.source?.address ?? null;

  const http = createHttpServer((req: IncomingMessage, res: ServerResponse) => {
    backend.requests.push({ url: req.url ?? '', command: proxied.get(req.socket)?.command });
    if (req.url === '/healthz') return void res.writeHead(200).end('ok');
    // As a gateway whose metrics are on its device port (no admin port): what must not leak.
    if (req.url === '/metrics') return void res.writeHead(200).end(`gateway_metrics_of_${name} 1\n`);
    res.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({
        backend: name,
        source: sourceOf(req.socket),
        forwardedFor: req.headers['x-forwarded-for'] ?? null,
        forwardedProto: req.headers['x-forwarded-proto'] ?? null,
      }),
    );
  });
  const wss = new WebSocketServer({ noServer: true });
  http.on('upgrade', (req: IncomingMessage, socket, head) => {
    backend.requests.push({ url: req.url ?? '', command: proxied.get(req.socket)?.command });
    wss.handleUpgrade(req, socket, head, (ws) =>
      ws.on('message', (data) =>
        ws.send(
          JSON.stringify({
            backend: name,
            source: sourceOf(req.socket),
            forwardedFor: req.headers['x-forwarded-for'] ?? null,
            echo: data.toString(),
          }),
        ),
      ),
    );
  });

  const backend: Backend = {
    name,
    port: 0,
    headers: [],
    refused: 0,
    requests: [],
    close: async () => {},
  };
  const sockets = new Set<Socket>();
  const tcp: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let buf = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      let parsed: ReturnType<typeof parseProxyV2>;
      try {
        parsed = parseProxyV2(buf);
      } catch {
        backend.refused++;
        return void socket.destroy();
      }
      if (!parsed) return;
      socket.off('data', onData);
      socket.pause();
      backend.headers.push(parsed.header);
      proxied.set(socket, parsed.header);
      // Whatever followed the header is the start of the HTTP request: give it back first.
      const rest = buf.subarray(parsed.length);
      if (rest.length) socket.unshift(rest);
      http.emit('connection', socket);
      socket.resume();
    };
    socket.on('data', onData);
  });
  await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
  backend.port = (tcp.address() as AddressInfo).port;
  backend.close = async () => {
    for (const c of wss.clients) c.terminate();
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => tcp.close(() => resolve()));
  };
  return backend;
}
