import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { errorClass } from '@appliance/errors';

/**
 * librdkafka's mock cluster, run through kcat (Debian package `kcat`), for tests that need a
 * Kafka that kafkajs can talk to over TCP. Every call starts a fresh cluster on ephemeral
 * loopback ports, so test files can run in parallel.
 */
export interface KafkaMock {
  /** `host:port,host:port,...` as kcat prints it. */
  readonly bootstrap: string;
  /** The same addresses, split, for kafkajs's `brokers`. */
  readonly brokers: string[];
  readonly pid: number;
  /** SIGSTOP: every broker stalls with its sockets open, as a hung Kafka would. */
  freeze(): void;
  /** SIGCONT. */
  thaw(): void;
  /** Kills the cluster (thawing it first if frozen) and waits for the process to exit. */
  stop(): Promise<void>;
}

export interface KafkaMockOptions {
  /** Brokers in the mock cluster. Default 3. */
  brokers?: number;
  /** Run the cluster inside this network namespace (its loopback must be up). */
  netns?: string;
  /** How long to wait for kcat to print its bootstrap address, in ms. Default 10 000. */
  startTimeoutMs?: number;
}

export const DEFAULT_KAFKA_MOCK_START_TIMEOUT_MS = 10_000;
/** After SIGTERM, how long kcat gets to exit before SIGKILL, in ms. */
const STOP_GRACE_MS = 3_000;

export const KAFKA_MOCK_ERROR_CODES = {
  E_KCAT_MISSING: 'kcat is not installed',
  E_KCAT_START_TIMEOUT: 'kcat did not print a mock cluster address in time',
  E_KCAT_EXITED: 'kcat could not start, or exited before printing a mock cluster address',
} as const;
export type KafkaMockErrorCode = keyof typeof KAFKA_MOCK_ERROR_CODES;

export class KafkaMockError extends errorClass('KafkaMockError', KAFKA_MOCK_ERROR_CODES) {
  constructor(code: KafkaMockErrorCode, message: string, cause?: unknown) {
    super(code, message, { cause });
  }
}

const BOOTSTRAP_LINE = /Mock cluster enabled: .* replaced with (\S+)/;

export async function startKafkaMock(options: KafkaMockOptions = {}): Promise<KafkaMock> {
  const brokerCount = options.brokers ?? 3;
  const startTimeoutMs = options.startTimeoutMs ?? DEFAULT_KAFKA_MOCK_START_TIMEOUT_MS;
  const kcatArgs = ['-C', '-X', `test.mock.num.brokers=${brokerCount}`, '-b', 'x', '-t', 'boot', '-q'];
  const child = spawn(
    options.netns ? 'ip' : 'kcat',
    options.netns ? ['netns', 'exec', options.netns, 'kcat', ...kcatArgs] : kcatArgs,
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  // A test that dies without calling stop() must not leave a cluster behind.
  const killOnExit = (): void => void child.kill('SIGKILL');
  process.once('exit', killOnExit);

  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  let stderr = '';
  child.stderr.setEncoding('utf8');

  const bootstrap = await new Promise<string>((resolve, reject) => {
    let settled = false;
    const fail = (err: KafkaMockError): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      process.removeListener('exit', killOnExit);
      reject(err);
    };
    const timer = setTimeout(
      () =>
        fail(
          new KafkaMockError(
            'E_KCAT_START_TIMEOUT',
            `kcat did not print a mock cluster address within ${startTimeoutMs} ms; stderr: ${stderr.trim() || '(empty)'}`,
          ),
        ),
      startTimeoutMs,
    );
    child.once('error', (err: NodeJS.ErrnoException) =>
      fail(
        err.code === 'ENOENT'
          ? new KafkaMockError('E_KCAT_MISSING', 'kcat is not installed: apt-get install kcat', err)
          : new KafkaMockError('E_KCAT_EXITED', `kcat could not start: ${err.message}`, err),
      ),
    );
    child.once('exit', (code, signal) =>
      fail(
        new KafkaMockError(
          'E_KCAT_EXITED',
          `kcat exited (${signal ?? code}) before printing a mock cluster address; stderr: ${stderr.trim() || '(empty)'}`,
        ),
      ),
    );
    child.stderr.on('data', (chunk: string) => {
      // Keep only a tail: kcat keeps logging for as long as it runs.
      stderr = (stderr + chunk).slice(-4096);
      const match = settled ? null : BOOTSTRAP_LINE.exec(stderr);
      if (match?.[1]) {
        settled = true;
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
  });

  const pid = child.pid!;
  let frozen = false;
  let stopping: Promise<void> | undefined;
  const alive = (): boolean => child.exitCode === null && child.signalCode === null;

  return {
    bootstrap,
    brokers: bootstrap.split(','),
    pid,
    freeze() {
      if (alive()) child.kill('SIGSTOP');
      frozen = true;
    },
    thaw() {
      if (alive()) child.kill('SIGCONT');
      frozen = false;
    },
    stop() {
      stopping ??= (async () => {
        if (alive()) {
          if (frozen) child.kill('SIGCONT');
          child.kill('SIGTERM');
          const grace = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
          await exited;
          clearTimeout(grace);
        }
        process.removeListener('exit', killOnExit);
      })();
      return stopping;
    },
  };
}

/**
 * Whether a system tool a test needs is installed. Missing under `CI=true`, it throws naming
 * the apt package, because a missing system tool is a broken CI image, not a reason to pass.
 * Locally it returns false and the test skips itself with a reason, which tap prints:
 *
 *   const skip = requireTool('kcat', 'kcat') ? false : 'kcat is not installed (apt-get install kcat)';
 *   t.test('...', { skip }, async (t) => { ... });
 */
export function requireTool(name: string, aptPackage: string): boolean {
  // sbin directories are not on every user's PATH but hold tools such as haproxy.
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin'];
  const found = dirs.some((dir) => {
    if (!dir) return false;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
  if (!found && process.env.CI === 'true') {
    throw new Error(`${name} is not installed, and CI must have it: apt-get install ${aptPackage}`);
  }
  return found;
}
