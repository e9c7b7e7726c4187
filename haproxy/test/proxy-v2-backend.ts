import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { WebSocketServer } from 'ws';

/** The 12 bytes every PROXY protocol v2 header starts with. */
export const PROXY_V2_SIGNATURE = Buffer.from('\r\n\r\n\0\r\nQUIT\n', 'latin1');

export interface ProxyHeader {
  /** PROXY: a relayed client connection. LOCAL: HAProxy's own (health checks); no addresses. */
  command: 'PROXY' | 'LOCAL';
  source?: { address: string; port: number };
  destination?: { address: string; port: number };
}

/** The header and its length in bytes; undefined while more bytes are needed; throws on anything else. */
export function parseProxyV2(buf: Buffer): { header: ProxyHeader; length: number } | undefined {
  if (buf.length < 16) {
    if (!PROXY_V2_SIGNATURE.subarray(0, buf.length).equals(buf.subarray(0, PROXY_V2_SIGNATURE.length)))
      throw new Error('not a PROXY v2 header');
    return undefined;
  }
  if (!buf.subarray(0, 12).equals(PROXY_V2_SIGNATURE)) throw new Error('not a PROXY v2 header');
  const verCmd = buf[12]!;
  if (verCmd >> 4 !== 2) throw new Error(`PROXY protocol version ${verCmd >> 4}`);
  const length = 16 + buf.readUInt16BE(14);
  if (buf.length < length) return undefined;
  const cmd = verCmd & 0x0f;
  if (cmd === 0) return { header: { command: 'LOCAL' }, length };
  if (cmd !== 1) throw new Error(`PROXY v2 command ${cmd}`);
  const family = buf[13]!;
  if (family === 0x11) {
    // TCP over IPv4: source, destination addresses, then ports.
    const ip = (o: number) => [...buf.subarray(o, o + 4)].join('.');
    return {
      header: {
        command: 'PROXY',
        source: { address: ip(16), port: buf.readUInt16BE(24) },
        destination: { address: ip(20), port: buf.readUInt16BE(26) },
      },
      length,
    };
  }
  if (family === 0x21) {
    const ip = (o: number) =>
      Array.from({ length: 8 }, (_, i) => buf.readUInt16BE(o + 2 * i).toString(16)).join(':');
    return {
      header: {
        command: 'PROXY',
        source: { address: ip(16), port: buf.readUInt16BE(48) },
        destination: { address: ip(32), port: buf.readUInt16BE(50) },
      },
      length,
    };
  }
  throw new Error(`PROXY v2 address family 0x${family.toString(16)}`);
}

export interface Backend {
  name: string;
  port: number;
  /** Every PROXY header received, health checks included. */
  headers: ProxyHeader[];
  /** Connections dropped for want of a valid PROXY v2 header. */
  refused: number;
  close(): Promise<void>;
}

/**
 * A stand-in gateway behind HAProxy, built the way a real one would accept PROXY v2: a TCP
 * server reads and strips the header, then hands the socket to an ordinary HTTP server (with a
 * `ws` WebSocket server on its upgrades). It answers /healthz, answers /who with who it is and
 * whom the PROXY header names, and echoes WebSocket messages the same way. A connection without
 * a valid header is dropped, as a gateway that requires the PROXY protocol must.
 */
export async function startBackend(name: string): Promise<Backend> {
  const proxied = new WeakMap<Socket, ProxyHeader>();
  const sourceOf = (socket: Socket) => proxied.get(socket)?.source?.address ?? null;

  const http = createHttpServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.url === '/healthz') return void res.writeHead(200).end('ok');
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
  http.on('upgrade', (req: IncomingMessage, socket, head) =>
    wss.handleUpgrade(req, socket, head, (ws) =>
      ws.on('message', (data) =>
        ws.send(JSON.stringify({ backend: name, source: sourceOf(req.socket), echo: data.toString() })),
      ),
    ),
  );

  const backend: Backend = { name, port: 0, headers: [], refused: 0, close: async () => {} };
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
