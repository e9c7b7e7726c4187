import { createServer } from 'node:http';
import WebSocket, { WebSocketServer } from 'ws';
import { TOPICS, type Bus, type Subscription } from '@appliance/protocol';

export interface BareServer {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * The peer the gateway is measured against: the broadcast loop from ws's README, fed by the
 * same bus subscription the gateway uses, sending the same frame bytes the gateway sends. It
 * has none of the gateway's work (no token check, no hello, no JSON parse of the record, no
 * ring, no per-device cursors), so gateway ÷ bare is the price of that work.
 *
 * Its HTTP server answers `GET /healthz` with 200 (and anything else that is not an upgrade with
 * 426, as ws's own server does), so HAProxy's health check passes when the bare server sits
 * behind it (scale's `bare-ws-haproxy`). Only plain requests reach that handler: upgrades go to
 * ws as they would with `new WebSocketServer({ port })`, so the broadcast path is the same.
 */
export async function startBareServer(bus: Bus, stream: string): Promise<BareServer> {
  const server = createServer((req, res) => {
    const ok = req.method === 'GET' && req.url === '/healthz';
    res.writeHead(ok ? 200 : 426, { 'Content-Type': 'text/plain' });
    res.end(ok ? 'ok\n' : 'Upgrade Required\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws) => ws.on('error', () => {}));
  // The stream is known up front, so the frame is built without parsing the record.
  const streamJson = JSON.stringify(stream);
  const sub: Subscription = await bus.subscribe({
    topic: TOPICS.signals,
    from: 'latest',
    onMessage: (m) => {
      const frame = `{"type":"signal","stream":${streamJson},"offset":"${m.offset}","signal":${m.value.toString()}}`;
      for (const client of wss.clients) if (client.readyState === WebSocket.OPEN) client.send(frame);
    },
  });
  await sub.ready;
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('bare server has no TCP address');
  return {
    url: `ws://127.0.0.1:${address.port}`,
    async close() {
      await sub.close();
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      // wss.close leaves a server it was handed open; health-check connections may linger.
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
