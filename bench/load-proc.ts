/**
 * Worker process: the load generator, on its own core so that 100 clients do not share an
 * event loop with the server they measure.
 */
import { ClientPool, type ClientPoolOptions, type Receptions } from './clients.js';
import { serve } from './ipc.js';
import { now } from './clock.js';

const POLL_MS = 20;
let pool: ClientPool | undefined;

const api = {
  async connect(o: ClientPoolOptions): Promise<{ connectMs: number }> {
    if (pool) throw new Error('already connected');
    const t0 = now();
    pool = await ClientPool.connect(o);
    return { connectMs: now() - t0 };
  },
  /** Resolves once every client has `count` signals, or at the timeout; says which. */
  async waitReceived(o: {
    count: number;
    timeoutMs: number;
  }): Promise<{ complete: boolean; minReceived: number }> {
    if (!pool) throw new Error('not connected');
    const deadline = now() + o.timeoutMs;
    // Polled rather than signalled from the message handler, to keep that handler minimal.
    while (pool.minReceived() < o.count && now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    const minReceived = pool.minReceived();
    return { complete: minReceived >= o.count, minReceived };
  },
  receptions(): Receptions {
    if (!pool) throw new Error('not connected');
    return pool.receptions();
  },
  cpu(): number {
    const u = process.cpuUsage();
    return u.user + u.system;
  },
  now(): number {
    return now();
  },
  close(): void {
    pool?.close();
  },
};

export type LoadApi = typeof api;

process.on('unhandledRejection', (err) => {
  console.error('bench load generator: unhandled rejection', err);
  process.exit(1);
});
serve(api);
