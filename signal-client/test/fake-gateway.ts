import { WebSocketServer, type WebSocket } from 'ws';
import type { Test } from 'tap';

/** What a device sent, parsed. */
export type DeviceFrameSeen = { type: string; [k: string]: unknown };

export interface FakeGatewayOptions {
  /** Called on each hello; default: answers `caught-up` with `positions` and partition 0 at 0. */
  onHello?: (ws: WebSocket, hello: DeviceFrameSeen) => void;
  positions?: Record<string, string>;
  /** Acknowledge each `decisions` frame (default true); can be changed while running. */
  ack?: boolean;
  /** The gateway's own frame limit (the real one's is 64 KiB). */
  maxPayload?: number;
}

/**
 * A gateway made of the real `ws` server and nothing else, so a test controls every frame a
 * device gets (including ones the real gateway would never relay) and sees every frame it sends.
 */
export async function startFakeGateway(t: Test, opts: FakeGatewayOptions = {}) {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: opts.maxPayload ?? 64 * 1024 });
  const frames: DeviceFrameSeen[] = [];
  const hellos: { frame: DeviceFrameSeen; bytes: number }[] = [];
  const sockets = new Set<WebSocket>();
  const state = { ack: opts.ack ?? true, connections: 0 };
  wss.on('connection', (ws) => {
    state.connections++;
    sockets.add(ws);
    ws.on('close', () => sockets.delete(ws));
    ws.on('error', () => undefined);
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as DeviceFrameSeen;
      frames.push(frame);
      if (frame.type === 'hello') {
        hellos.push({ frame, bytes: data.toString().length });
        if (opts.onHello) return opts.onHello(ws, frame);
        ws.send(
          JSON.stringify({ type: 'caught-up', positions: opts.positions ?? {}, partitions: { '0': '0' } }),
        );
      } else if (frame.type === 'decisions' && state.ack) {
        const seq = (frame.seq as number) + (frame.decisions as unknown[]).length - 1;
        ws.send(JSON.stringify({ type: 'ack', seq }));
      }
    });
  });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const port = (wss.address() as { port: number }).port;
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        for (const ws of sockets) ws.terminate();
        wss.close(() => resolve());
      }),
  );
  return {
    url: `ws://127.0.0.1:${port}`,
    frames,
    hellos,
    state,
    /** Sends a frame to every connected device. */
    send(frame: object | string): void {
      const text = typeof frame === 'string' ? frame : JSON.stringify(frame);
      for (const ws of sockets) ws.send(text);
    },
    /** Closes every device's connection with this code, as a gateway does. */
    closeAll(code: number, reason = ''): void {
      for (const ws of sockets) ws.close(code, reason);
    },
    /** Cuts every device off at once, as a dying gateway does. */
    dropAll(): void {
      for (const ws of sockets) ws.terminate();
    },
    get open(): number {
      return sockets.size;
    },
  };
}

/** A pino-compatible destination that keeps every log line, parsed. */
export function logLines(): {
  lines: { level: number; msg: string; [k: string]: unknown }[];
  write(s: string): void;
} {
  const lines: { level: number; msg: string; [k: string]: unknown }[] = [];
  return { lines, write: (s: string) => void lines.push(JSON.parse(s)) };
}
