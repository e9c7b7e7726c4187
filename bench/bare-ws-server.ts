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
 */
export async function startBareServer(bus: Bus, stream: string): Promise<BareServer> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve, reject) => {
    wss.once('listening', resolve);
    wss.once('error', reject);
  });
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
  const address = wss.address();
  if (typeof address !== 'object' || address === null) throw new Error('bare server has no TCP address');
  return {
    url: `ws://127.0.0.1:${address.port}`,
    async close() {
      await sub.close();
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
