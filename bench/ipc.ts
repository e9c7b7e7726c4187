import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * A tiny request/response layer over Node's IPC channel, so a benchmark can put the server
 * and the load generator in processes of their own (each on its own core) and drive them
 * from the orchestrator. Messages use the 'advanced' serialisation so typed arrays cross
 * without a JSON round trip.
 */

/** Commands a worker answers: each takes one argument and returns a value or a promise. */
// `never` as the parameter type lets any one-argument function satisfy the constraint.
export type Api = Record<string, (arg: never) => unknown>;

interface Request {
  id: number;
  cmd: string;
  arg: unknown;
}
type Reply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: string };

export const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));
const READY = '__ready__';
const DEFAULT_CALL_TIMEOUT_MS = 60_000;
const START_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 5_000;

/** Every worker still running, so a failing or interrupted bench leaves no process behind. */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export interface Worker<A extends Api> {
  readonly name: string;
  readonly pid: number;
  call<K extends keyof A & string>(
    cmd: K,
    arg: Parameters<A[K]>[0],
    timeoutMs?: number,
  ): Promise<Awaited<ReturnType<A[K]>>>;
  /** Closes the channel (the worker exits on disconnect), then kills it if it lingers. */
  stop(): Promise<void>;
}

/**
 * Starts `entry` (a path from the repository root) with `node --import tsx`, pinned to `cpu`
 * with taskset when given, inside the network namespace `netns` when given, and resolves once the
 * worker has installed its handlers.
 */
export async function spawnWorker<A extends Api>(
  name: string,
  entry: string,
  cpu: number | undefined,
  netns?: string,
): Promise<Worker<A>> {
  // taskset and `ip netns exec` exec node in place, so the IPC descriptor, the environment and
  // the pid are node's.
  const node = [process.execPath, '--import', 'tsx', entry];
  const pinned = cpu === undefined ? node : ['taskset', '-c', String(cpu), ...node];
  const inNs = netns === undefined ? pinned : ['ip', 'netns', 'exec', netns, ...pinned];
  const [file, ...args] = inNs as [string, ...string[]];
  const child = spawn(file, args, {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    serialization: 'advanced',
    env: { ...process.env, BENCH_WORKER: name },
  });
  running.add(child);
  const exited = new Promise<string>((resolve) =>
    child.once('exit', (code, signal) => {
      running.delete(child);
      resolve(`worker ${name} exited (${signal ?? code})`);
    }),
  );
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  void exited.then((why) => {
    for (const p of pending.values()) p.reject(new Error(why));
    pending.clear();
  });

  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`worker ${name} did not start within ${START_TIMEOUT_MS} ms`));
    }, START_TIMEOUT_MS);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    void exited.then((why) => {
      clearTimeout(timer);
      reject(new Error(why));
    });
    child.on('message', (m: unknown) => {
      if (m === READY) {
        clearTimeout(timer);
        resolve();
        return;
      }
      const reply = m as Reply;
      const p = pending.get(reply.id);
      if (!p) return;
      pending.delete(reply.id);
      if (reply.ok) p.resolve(reply.value);
      else p.reject(new Error(`${name}: ${reply.error}`));
    });
  });

  let nextId = 1;
  return {
    name,
    pid: child.pid!,
    call(cmd, arg, timeoutMs = DEFAULT_CALL_TIMEOUT_MS) {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`${name}.${cmd} did not answer within ${timeoutMs} ms`));
        }, timeoutMs);
        pending.set(id, {
          resolve: (v) => {
            clearTimeout(timer);
            resolve(v as never);
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        });
        child.send({ id, cmd, arg } satisfies Request);
      });
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      if (child.connected) child.disconnect();
      const grace = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(grace);
    },
  };
}

/** The worker side: answers requests with `api` and exits when the orchestrator goes away. */
export function serve(api: Api): void {
  if (!process.send) throw new Error('a bench worker must be started by spawnWorker (no IPC channel)');
  const send = process.send.bind(process);
  process.on('message', (m: Request) => {
    const handler = api[m.cmd] as ((arg: unknown) => unknown) | undefined;
    void (async () => {
      try {
        if (!handler) throw new Error(`unknown command ${m.cmd}`);
        send({ id: m.id, ok: true, value: await handler(m.arg) } satisfies Reply);
      } catch (err) {
        send({ id: m.id, ok: false, error: (err as Error).stack ?? String(err) } satisfies Reply);
      }
    })();
  });
  // Exit rather than close every handle: kafkajs and ws keep timers that would hold us up.
  process.once('disconnect', () => process.exit(0));
  send(READY);
}
