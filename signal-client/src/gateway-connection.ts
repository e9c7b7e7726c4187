import WebSocket from 'ws';
import type { Logger } from 'pino';

export interface GatewayConnectionOptions {
  url: string;
  token: string;
  logger: Logger;
  /** Called on every open socket to build the hello (resume offsets change over time). */
  hello: () => object;
  onFrame: (frame: unknown) => void;
  onState?: (connected: boolean) => void;
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** Largest frame accepted from the gateway. */
  maxPayload?: number;
  /** PEM of the CA that signed HAProxy's certificate (a private CA); default: the system roots. */
  ca?: string;
  /** Source address of the connection, e.g. the WireGuard tunnel address; default: the kernel's choice. */
  localAddress?: string;
}

/**
 * One logical connection to the gateway cluster: reconnects forever with bounded exponential
 * backoff and full jitter, so a fleet does not reconnect in lock-step after a gateway dies.
 */
export class GatewayConnection {
  #ws: WebSocket | undefined;
  #attempt = 0;
  #stopped = false;
  #timer: NodeJS.Timeout | undefined;
  connected = false;

  constructor(private readonly o: GatewayConnectionOptions) {}

  start(): void {
    this.#stopped = false;
    this.#open();
  }

  send(frame: object): boolean {
    if (!this.#ws || this.#ws.readyState !== WebSocket.OPEN) return false;
    this.#ws.send(JSON.stringify(frame));
    return true;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    const ws = this.#ws;
    if (!ws || ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      ws.once('close', () => resolve());
      ws.close(1000, 'client stopping');
      setTimeout(() => {
        ws.terminate();
        resolve();
      }, 1000).unref();
    });
  }

  #open(): void {
    const ws = new WebSocket(this.o.url, {
      headers: { authorization: `Bearer ${this.o.token}` },
      maxPayload: this.o.maxPayload ?? 1024 * 1024,
      handshakeTimeout: 10_000,
      ...(this.o.ca !== undefined ? { ca: this.o.ca } : {}),
      ...(this.o.localAddress !== undefined ? { localAddress: this.o.localAddress } : {}),
    });
    this.#ws = ws;
    ws.on('open', () => {
      this.#attempt = 0;
      this.connected = true;
      ws.send(JSON.stringify(this.o.hello())); // the gateway refuses anything before hello
      this.o.onState?.(true);
    });
    ws.on('message', (data) => {
      let frame: unknown;
      try {
        frame = JSON.parse(data.toString());
      } catch {
        this.o.logger.warn('gateway sent a frame that is not JSON: ignored');
        return;
      }
      this.o.onFrame(frame);
    });
    ws.on('unexpected-response', (_req, res) => {
      this.o.logger.error(
        { status: res.statusCode },
        'gateway refused the connection (is the device token valid?)',
      );
      ws.terminate();
    });
    ws.on('error', (err) => this.o.logger.debug({ err: err.message }, 'gateway socket error'));
    ws.on('close', (code, reason) => {
      if (this.connected)
        this.o.logger.info({ code, reason: reason.toString() }, 'disconnected from gateway');
      this.connected = false;
      this.o.onState?.(false);
      if (!this.#stopped) this.#scheduleReconnect();
    });
  }

  #scheduleReconnect(): void {
    const min = this.o.minBackoffMs ?? 250;
    const max = this.o.maxBackoffMs ?? 10_000;
    const ceiling = Math.min(max, min * 2 ** this.#attempt++);
    this.#timer = setTimeout(() => this.#open(), min + Math.random() * (ceiling - min));
  }
}
