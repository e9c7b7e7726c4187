import { createServer, type Server, type Socket } from 'node:net';
import type { Server as HttpServer } from 'node:http';

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

/**
 * Accepts connections that start with a PROXY protocol v2 header (as HAProxy's `send-proxy-v2`
 * sends them), strips it, and hands the socket to the HTTP server. The header is mandatory: a
 * connection without one is dropped, or anyone reaching the port directly could claim any
 * address. Health checks come with a LOCAL header and no address.
 */
export function proxyV2Listener(
  http: HttpServer,
  onHeader: (socket: Socket, header: ProxyHeader) => void,
): Server {
  return createServer((socket) => {
    socket.on('error', () => socket.destroy());
    let buf = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      let parsed: ReturnType<typeof parseProxyV2>;
      try {
        parsed = parseProxyV2(buf);
      } catch {
        return void socket.destroy();
      }
      if (!parsed) {
        if (buf.length > 4096) socket.destroy(); // no real header (addresses and TLVs) is this long
        return;
      }
      socket.off('data', onData);
      socket.pause();
      onHeader(socket, parsed.header);
      // What followed the header is the start of the HTTP request: give it back first.
      const rest = buf.subarray(parsed.length);
      if (rest.length) socket.unshift(rest);
      http.emit('connection', socket);
      socket.resume();
    };
    socket.on('data', onData);
  });
}
