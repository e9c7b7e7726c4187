import { constants } from 'node:os';
import { loadNotifyAddon, type NotifyTransport } from './addon.js';
import { NotifyError } from './errors.js';

/*
 * The systemd notify protocol (sd_notify(3)): newline-separated VAR=value assignments in one
 * datagram to the AF_UNIX SOCK_DGRAM socket named by NOTIFY_SOCKET.
 *
 * How the datagram is sent, and why: Node has no AF_UNIX datagram sockets (node:dgram is
 * UDP, node:net is streams), so something native must call sendto(). The options weighed:
 * - spawning `systemd-notify`: a fork+exec of a helper for every watchdog ping, for months,
 *   which can itself fail under memory pressure (exactly when the watchdog matters); the
 *   sender is not the main PID, so the unit needs NotifyAccess=all (any process in the
 *   cgroup may then claim READY or feed the watchdog); and a helper that exits before PID 1
 *   reads its datagram has the message dropped, which systemd-notify avoids only by waiting
 *   for PID 1 to answer a barrier (systemd-notify(1)), one more round trip per ping.
 * - the npm package `unix-dgram`: a native addon on the V8/nan API (rebuilt for every Node
 *   ABI), loaded through `bindings` (which searches the file system relative to its own
 *   source, not workable in a bundled executable), and it copies the address with strncpy,
 *   so abstract sockets (`@name`) cannot be addressed.
 * - `sd-notify` (npm): links libsystemd and uses the raw V8 API; same ABI and loading issues.
 * - our own Node-API addon, native/sd_notify.c, ~100 lines: one socket kept open, non-
 *   blocking sendto() from the main PID (so NotifyAccess=main), path and abstract addresses,
 *   ABI-stable, no runtime dependency, built from source with `cc` in well under a second.
 * The last is the one here.
 */

export interface NotifierOptions {
  /** Where NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID are read from. Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** This process's id, compared with WATCHDOG_PID. Default process.pid. */
  pid?: number;
  /** How datagrams are sent. Default: the sd_notify native addon (loaded only when enabled). */
  transport?: () => NotifyTransport;
  /** Told about a notification that could not be sent; sending never throws. Default: ignore. */
  onError?: (err: NotifyError) => void;
}

export interface Notifier {
  /** NOTIFY_SOCKET is set: we run under systemd (Type=notify). Otherwise every call is a no-op. */
  readonly enabled: boolean;
  /**
   * How often to send WATCHDOG=1: half of WATCHDOG_USEC, as sd_watchdog_enabled(3) advises.
   * null when no watchdog is configured for this process.
   */
  readonly watchdogIntervalMs: number | null;
  /** READY=1: state loaded and reconciled, the service is up. `status` is sent with it. */
  ready(status?: string): boolean;
  /** STATUS=...: one line shown by `systemctl status`. */
  status(text: string): boolean;
  /** WATCHDOG=1: only call it when the process is healthy (see Health). */
  watchdog(): boolean;
  /** STOPPING=1: shutdown has begun. */
  stopping(status?: string): boolean;
  /** EXTEND_TIMEOUT_USEC=...: asks for more time to start or stop (e.g. a long reconciliation). */
  extendTimeout(ms: number, status?: string): boolean;
  /** Closes the socket. Later calls open it again. */
  close(): void;
}

/** STATUS= is one line; longer texts are cut, so a chatty caller cannot flood PID 1. */
export const MAX_STATUS_LENGTH = 200;
/** READY/STOPPING/EXTEND_TIMEOUT are retried this often if PID 1's queue is full (EAGAIN). */
const STATE_RETRIES = 5;
const STATE_RETRY_DELAY_MS = 100;

// First name wins: EAGAIN, not its alias EWOULDBLOCK.
const ERRNO_NAMES = new Map<number, string>();
for (const [name, no] of Object.entries(constants.errno)) if (!ERRNO_NAMES.has(no)) ERRNO_NAMES.set(no, name);

/**
 * Turns NOTIFY_SOCKET into the bytes of sun_path: `/path` as is, `@name` with a leading NUL
 * (an abstract socket). Anything else is not for us (e.g. `vsock:` of newer systemd).
 */
export function notifyAddress(value: string): Buffer {
  const bytes = value.startsWith('@')
    ? Buffer.concat([Buffer.from([0]), Buffer.from(value.slice(1))])
    : Buffer.from(value);
  // sun_path is 108 bytes; a path needs room for its terminating NUL, an abstract name does not.
  const max = value.startsWith('@') ? 108 : 107;
  if (!(value.startsWith('/') || value.startsWith('@')) || bytes.length > max || value.length < 2) {
    throw new NotifyError(
      'E_NOTIFY_ADDRESS',
      `NOTIFY_SOCKET=${JSON.stringify(value)} is not an absolute unix socket path or @abstract name of at most ${max} bytes`,
    );
  }
  return bytes;
}

/** Half of WATCHDOG_USEC in ms, if it is set for this process; null otherwise. */
export function watchdogInterval(env: NodeJS.ProcessEnv, pid: number): number | null {
  const usec = env.WATCHDOG_USEC;
  if (!usec || !/^[0-9]+$/.test(usec)) return null;
  // A watchdog set for another process (our parent, say) is not ours to feed.
  if (env.WATCHDOG_PID !== undefined && env.WATCHDOG_PID !== String(pid)) return null;
  const ms = Number(usec) / 1000 / 2;
  return ms >= 1 ? Math.floor(ms) : null;
}

/** One line, no control characters (a newline would smuggle in another assignment), bounded. */
export function statusText(text: string): string {
  // eslint-disable-next-line no-control-regex
  const line = text.replace(/[\s\u0000-\u001f\u007f]+/g, ' ').trim();
  return line.length > MAX_STATUS_LENGTH ? `${line.slice(0, MAX_STATUS_LENGTH - 1)}…` : line;
}

export function createNotifier(options: NotifierOptions = {}): Notifier {
  const env = options.env ?? process.env;
  const pid = options.pid ?? process.pid;
  const onError = options.onError ?? (() => {});
  const socket = env.NOTIFY_SOCKET;

  if (!socket) {
    const no = () => false;
    return {
      enabled: false,
      watchdogIntervalMs: null,
      ready: no,
      status: no,
      watchdog: no,
      stopping: no,
      extendTimeout: no,
      close: () => {},
    };
  }

  // Both throw: if systemd waits for READY=1 that can never be sent, it is better to stop now
  // with a message saying why than to run (and trade) until the start timeout kills us.
  const address = notifyAddress(socket);
  const transport = (options.transport ?? loadNotifyAddon)();

  function send(lines: string[], retries = 0): boolean {
    const result = transport.send(address, Buffer.from(lines.join('\n')));
    if (result >= 0) return true;
    if (-result === constants.errno.EAGAIN && retries > 0) {
      const retry = setTimeout(() => send(lines, retries - 1), STATE_RETRY_DELAY_MS);
      retry.unref();
    } else {
      const name = ERRNO_NAMES.get(-result) ?? `errno ${-result}`;
      const what = lines.map((l) => l.split('=')[0]).join(',');
      onError(new NotifyError('E_NOTIFY_SEND', `sending ${what}: ${name}`));
    }
    return false;
  }

  const withStatus = (first: string, status: string | undefined) =>
    status === undefined ? [first] : [first, `STATUS=${statusText(status)}`];

  return {
    enabled: true,
    watchdogIntervalMs: watchdogInterval(env, pid),
    ready: (status) => send(withStatus('READY=1', status), STATE_RETRIES),
    status: (text) => send([`STATUS=${statusText(text)}`]),
    watchdog: () => send(['WATCHDOG=1']),
    stopping: (status) => send(withStatus('STOPPING=1', status), STATE_RETRIES),
    extendTimeout: (ms, status) =>
      send(withStatus(`EXTEND_TIMEOUT_USEC=${Math.max(0, Math.round(ms * 1000))}`, status), STATE_RETRIES),
    close: () => transport.close(),
  };
}
