import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** The repository root, for spawning the processes' entry points. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface LogLine {
  msg?: string;
  level?: number;
  [k: string]: unknown;
}

export interface RunningProcess {
  readonly name: string;
  readonly proc: ChildProcess;
  /** Every JSON log line printed so far (pino writes one per line on stdout). */
  readonly lines: LogLine[];
  /** Lines that were not JSON (stderr and stray output), for failure messages. */
  readonly text: string[];
  waitForLog(pred: (l: LogLine) => boolean, what: string, timeoutMs?: number): Promise<LogLine>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Runs an entry point of this repository as its own Node.js process: TypeScript through tsx,
 * or a compiled `.mjs`/`.js` file with plain `node`. With `netns`, inside that network namespace
 * (`ip netns exec` replaces itself with node, so the pid and signals are node's).
 */
export function spawnNode(
  name: string,
  entry: string,
  args: string[],
  env: Record<string, string> = {},
  options: { netns?: string } = {},
): RunningProcess {
  const loader = /\.(mjs|cjs|js)$/.test(entry) ? [] : ['--import', 'tsx'];
  const argv = [...loader, entry, ...args];
  const [command, commandArgs] = options.netns
    ? ['ip', ['netns', 'exec', options.netns, process.execPath, ...argv]]
    : [process.execPath, argv];
  const proc = spawn(command, commandArgs, {
    cwd: REPO_ROOT,
    env: { ...process.env, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: LogLine[] = [];
  const text: string[] = [];
  const waiters = new Set<() => void>();
  const onLine = (line: string) => {
    try {
      const parsed = JSON.parse(line) as LogLine;
      if (parsed && typeof parsed === 'object') lines.push(parsed);
      else text.push(line);
    } catch {
      text.push(line);
    }
    for (const w of waiters) w();
  };
  createInterface({ input: proc.stdout! }).on('line', onLine);
  createInterface({ input: proc.stderr! }).on('line', (l) => {
    text.push(l);
    for (const w of waiters) w();
  });
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on('exit', (code, signal) => {
      done = true;
      resolve({ code, signal });
      for (const w of waiters) w();
    }),
  );

  return {
    name,
    proc,
    lines,
    text,
    exited,
    waitForLog(pred, what, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        let seen = 0;
        const check = () => {
          for (; seen < lines.length; seen++) {
            if (pred(lines[seen]!)) {
              cleanup();
              return resolve(lines[seen]!);
            }
          }
          if (done) {
            cleanup();
            reject(new Error(`${name} exited before ${what}:\n${text.slice(-20).join('\n')}`));
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(
            new Error(
              `${name}: timed out after ${timeoutMs} ms waiting for ${what}:\n${text.slice(-20).join('\n')}`,
            ),
          );
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    async kill(signal = 'SIGTERM') {
      if (!done) proc.kill(signal);
      return exited;
    },
  };
}
