import WebSocket, { type RawData } from 'ws';
import { now } from './clock.js';

export interface ClientPoolOptions {
  url: string;
  /** One device id and token per client. */
  devices: { id: string; token: string }[];
  /** The signal ids in publish order: a frame's index is looked up by its signal id. */
  ids: string[];
  /** 'caught-up': the gateway's hello handshake; 'open': the bare server has none. */
  readyOn: 'caught-up' | 'open';
  timeoutMs: number;
  /** For `wss://` (through HAProxy): the certificate to trust. */
  ca?: string;
  /**
   * Each client connects from its own loopback address (`sourceAddress(c)`), as each device
   * comes from its own WireGuard address: HAProxy's per-source limits then apply per client.
   */
  distinctSources?: boolean;
  /** Clients opened at a time, each batch ready before the next starts; default: all at once. */
  batchSize?: number;
}

/**
 * Client c's own loopback source address: 127.10.0.2, 127.10.0.3, … (Linux routes all of
 * 127/8 to lo). Skips 127.0.0.1 so no client shares an address with the servers.
 */
function sourceAddress(c: number): string {
  const i = c + 2;
  return `127.${10 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
}

export interface Receptions {
  clients: number;
  messages: number;
  /** Receive time of message i at client c at `c * messages + i`; NaN if never received. */
  times: Float64Array;
  duplicates: number;
  /** Signal frames whose id is not one of ours (should be 0). */
  unknown: number;
  /** Clients whose socket closed or failed before `close()`. */
  dropped: number;
}

const SIGNAL_PREFIX = '{"type":"signal"';
const ID_KEY = '"id":"';
const CAUGHT_UP_PREFIX = '{"type":"caught-up"';

/**
 * The load generator: `devices.length` WebSocket clients in this process, each recording when
 * every signal frame arrived. The handler does as little as it can before taking the time.
 */
export class ClientPool {
  readonly #sockets: WebSocket[] = [];
  readonly #index = new Map<string, number>();
  readonly #times: Float64Array;
  readonly #got: Uint32Array;
  readonly #messages: number;
  #duplicates = 0;
  #unknown = 0;
  #dropped = 0;
  #closing = false;

  private constructor(ids: string[], clients: number) {
    ids.forEach((id, i) => this.#index.set(id, i));
    this.#messages = ids.length;
    this.#times = new Float64Array(clients * ids.length).fill(NaN);
    this.#got = new Uint32Array(clients);
  }

  static async connect(o: ClientPoolOptions): Promise<ClientPool> {
    const pool = new ClientPool(o.ids, o.devices.length);
    // By default all at once, as devices reconnecting after a gateway restart would; in batches
    // when asked (thousands of TLS handshakes at once can overrun a listen backlog).
    const batch = o.batchSize ?? o.devices.length;
    const openAll = async () => {
      for (let from = 0; from < o.devices.length && !pool.#closing; from += batch)
        await Promise.all(o.devices.slice(from, from + batch).map((d, k) => pool.#open(o, d, from + k)));
    };
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`clients not ready within ${o.timeoutMs} ms`)), o.timeoutMs);
    });
    try {
      await Promise.race([openAll(), timeout]);
    } catch (err) {
      pool.close();
      throw err;
    } finally {
      clearTimeout(timer);
    }
    return pool;
  }

  #open(o: ClientPoolOptions, device: { id: string; token: string }, c: number): Promise<void> {
    const ws = new WebSocket(o.url, {
      headers: { authorization: `Bearer ${device.token}` },
      perMessageDeflate: false,
      ...(o.ca === undefined ? {} : { ca: o.ca }),
      ...(o.distinctSources ? { localAddress: sourceAddress(c) } : {}),
    });
    this.#sockets.push(ws);
    const base = c * this.#messages;
    return new Promise((resolve, reject) => {
      ws.once('open', () => {
        ws.send(JSON.stringify({ type: 'hello', deviceId: device.id, version: '1', resume: {} }));
        if (o.readyOn === 'open') resolve();
      });
      ws.on('message', (data: RawData) => {
        const t = now();
        const text = data.toString();
        if (!text.startsWith(SIGNAL_PREFIX)) {
          // caught-up ends the resume handshake (it carries the stream positions).
          if (text.startsWith(CAUGHT_UP_PREFIX)) resolve();
          return;
        }
        // The first "id" in a relayed frame is the signal's (its second key, after "v").
        const at = text.indexOf(ID_KEY);
        const i =
          at < 0 ? undefined : this.#index.get(text.slice(at + ID_KEY.length, at + ID_KEY.length + 32));
        if (i === undefined) {
          this.#unknown++;
          return;
        }
        if (!Number.isNaN(this.#times[base + i]!)) {
          this.#duplicates++;
          return;
        }
        this.#times[base + i] = t;
        this.#got[c]!++;
      });
      ws.on('error', (err) => reject(err));
      ws.once('close', (code, reason) => {
        if (!this.#closing) this.#dropped++;
        reject(new Error(`client ${device.id} closed: ${code} ${reason.toString()}`));
      });
    });
  }

  /** The fewest signals any one client has received so far. */
  minReceived(): number {
    let min = Infinity;
    for (const g of this.#got) min = Math.min(min, g);
    return min === Infinity ? 0 : min;
  }

  receptions(): Receptions {
    return {
      clients: this.#got.length,
      messages: this.#messages,
      times: this.#times,
      duplicates: this.#duplicates,
      unknown: this.#unknown,
      dropped: this.#dropped,
    };
  }

  close(): void {
    this.#closing = true;
    for (const ws of this.#sockets) ws.terminate();
  }
}
