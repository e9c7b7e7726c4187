import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '@appliance/runtime';

/**
 * When a node runs the eligibility: every `everyMs` from start (and once at start if asked), and
 * on demand through `POST /run` on a loopback-only HTTP port. A run asked for while one is under
 * way is not queued: the one under way answers it.
 */
export interface Schedule {
  stop(): void;
}

export function startSchedule(o: {
  everyMs: number;
  runAtStart: boolean;
  trigger: (why: 'schedule' | 'start') => void;
}): Schedule {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const arm = () => {
    if (stopped) return;
    // setTimeout takes at most 2^31-1 ms (24.8 days): a longer period is walked in steps.
    const step = Math.min(o.everyMs, 2 ** 31 - 1);
    let left = o.everyMs;
    const tick = () => {
      left -= step;
      if (left > 0) {
        timer = setTimeout(tick, Math.min(left, step));
        return;
      }
      o.trigger('schedule');
      arm();
    };
    timer = setTimeout(tick, step);
  };
  if (o.runAtStart) setImmediate(() => !stopped && o.trigger('start'));
  arm();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

export interface TriggerAnswer {
  /** True when this request started a run; false when one was already under way. */
  started: boolean;
  runId?: string;
}

export interface TriggerServer {
  readonly port: number;
  close(): Promise<void>;
}

const LOOPBACK = '127.0.0.1';

/**
 * `POST /run`: starts a run now (202 `{started: true}`, or 409 `{started: false}` with the run
 * under way); `GET /health`: the node's status as JSON. Bound to 127.0.0.1 only, and a `Host`
 * other than the loopback names is refused (421), so a web page cannot reach it through DNS
 * rebinding.
 */
export async function startTriggerServer(o: {
  port: number;
  logger: Logger;
  trigger: () => TriggerAnswer;
  status: () => unknown;
}): Promise<TriggerServer> {
  const server = createServer((req, res) => handle(req, res));
  let port = o.port;
  const allowedHost = (host: string | undefined) =>
    host !== undefined && [`${LOOPBACK}:${port}`, `localhost:${port}`, `[::1]:${port}`].includes(host);
  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(`${JSON.stringify(body)}\n`);
  };
  function handle(req: IncomingMessage, res: ServerResponse): void {
    if (!allowedHost(req.headers.host))
      return send(res, 421, { error: 'E_HOST', message: 'not a loopback Host' });
    const path = new URL(req.url ?? '/', `http://${LOOPBACK}`).pathname;
    if (path === '/run' && req.method === 'POST') {
      req.resume();
      const answer = o.trigger();
      o.logger.info(
        { ...answer, via: 'POST /run' },
        answer.started ? 'run requested' : 'run requested: one is under way',
      );
      return send(res, answer.started ? 202 : 409, answer);
    }
    if (path === '/health' && req.method === 'GET') return send(res, 200, o.status());
    if (path === '/run' || path === '/health')
      return send(res, 405, { error: 'E_METHOD', message: `${req.method} not allowed` });
    return send(res, 404, { error: 'E_NOT_FOUND', message: 'POST /run or GET /health' });
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, LOOPBACK, () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
