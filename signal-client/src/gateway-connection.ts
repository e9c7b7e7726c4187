import type { ClientRequest } from 'node:http';
import type { TLSSocket } from 'node:tls';
import WebSocket from 'ws';
import type { Logger } from 'pino';
import { DEVICE_PROOF_HEADER, backoffDelay, issueDeviceProof, type Signer } from '@appliance/protocol';
import { peerCertSha256 } from './cert-pin.js';
import { tlsFix, type GatewayTlsOptions } from './gateway-tls.js';

/** Ceiling of the first reconnect delay: each retry waits a random time in [0, ceiling). */
const DEFAULT_BACKOFF_BASE_MS = 250;
/** The ceiling doubles with each failed attempt up to this. */
const DEFAULT_BACKOFF_MAX_MS = 10_000;
/** A connection open this long (or that got `caught-up`) was healthy: the backoff starts over. */
const DEFAULT_HEALTHY_AFTER_MS = 30_000;
/** Largest frame accepted from the gateway (bytes). */
const DEFAULT_MAX_PAYLOAD = 1024 * 1024;
/** The same failure this many times in a row is reported as an error (then at 2×, 4×, … as many). */
const REPEATED_FAILURE_REPORT = 3;
/** A TLS failure is logged at error the first time, when it changes, and then at most this often. */
const TLS_FAILURE_REPORT_INTERVAL_MS = 60_000;

/** An enrolled device's credential as it is now (it is renewed while the device runs). */
export interface CurrentCredential {
  deviceId: string;
  credential: string;
  /** The device key the credential is bound to (`cnf`): each attempt sends a proof signed with it. */
  deviceKey?: Signer;
}

/** `gatewayTls` loaded, and for an enrolled device the gateway certificate's pin from its grant. */
export interface ConnectionTls extends GatewayTlsOptions {
  /**
   * SHA-256 (lowercase hex) of the gateway's certificate, as the ONLY trust anchor: the chain
   * is not checked (`rejectUnauthorized: false`), the pin is, on the TLS socket, before the
   * upgrade request (and the credential in it) is written. Without a `ca`: an enrolled device
   * whose grant pins HAProxy's tunnel-side certificate.
   */
  pinnedLeafSha256?: string;
}

export interface GatewayConnectionOptions {
  url: string;
  /**
   * The device token (`Authorization: Bearer`), or a function giving the current credential,
   * called at each connection attempt: a renewed credential is used from the next attempt on.
   */
  token: string | (() => CurrentCredential);
  /** The gateway refused the upgrade with this HTTP status (401: the credential should be renewed). */
  onRefused?: (status: number) => void;
  logger: Logger;
  /** Called on every open socket to build the hello (resume offsets change over time). */
  hello: () => object;
  onFrame: (frame: unknown) => void;
  onState?: (connected: boolean) => void;
  /**
   * Called with a plain-language description of a failure a person should see (a frame too
   * large for one side, or the same failure again and again); it is logged at error level too.
   */
  onProblem?: (text: string) => void;
  /** First retry's ceiling; default DEFAULT_BACKOFF_BASE_MS (250 ms). */
  backoffBaseMs?: number;
  /** Largest ceiling; default DEFAULT_BACKOFF_MAX_MS (10 s). */
  backoffMaxMs?: number;
  /** Open this long without trouble counts as healthy; default DEFAULT_HEALTHY_AFTER_MS (30 s). */
  healthyAfterMs?: number;
  /** Largest frame accepted from the gateway; default DEFAULT_MAX_PAYLOAD (1 MiB). */
  maxPayload?: number;
  /** PEM of the CA that signed HAProxy's certificate (a private CA); default: the system roots. */
  ca?: string;
  /** The device's `gatewayTls`, loaded (see gateway-tls.ts): trusted CA, SNI and name, certificate pin. */
  tls?: ConnectionTls;
  /** Source address of the connection, e.g. the WireGuard tunnel address; default: the kernel's choice. */
  localAddress?: string;
  /** Injected for tests: randomness in [0, 1), the clock and the reconnect timer. */
  random?: () => number;
  now?: () => number;
  setTimer?: (run: () => void, delayMs: number) => NodeJS.Timeout | undefined;
}

/**
 * One logical connection to the gateway cluster: reconnects forever with full-jitter exponential
 * backoff, so a fleet does not reconnect in lock-step after a gateway dies. The backoff starts
 * over only after a healthy connection (`caught-up` received, or open for `healthyAfterMs`): a
 * gateway that accepts the socket and then refuses the device keeps the delays growing.
 */
export class GatewayConnection {
  #ws: WebSocket | undefined;
  #attempt = 0;
  #stopped = false;
  #timer: NodeJS.Timeout | undefined;
  /** The failure that ended the last connections, and how many times in a row. */
  #failure: { what: string; times: number } | undefined;
  /** When a TLS failure was last logged at error level. */
  #tlsReportedAt: number | undefined;
  connected = false;

  constructor(private readonly o: GatewayConnectionOptions) {}

  /** Why the last connection attempts failed, while they fail (undefined once healthy again). */
  get lastFailure(): string | undefined {
    return this.connected ? undefined : this.#failure?.what;
  }

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

  /** The upgrade's credentials, made afresh for each attempt: the current credential and its proof. */
  #authHeaders(now: number): Record<string, string> {
    if (typeof this.o.token === 'string') return { authorization: `Bearer ${this.o.token}` };
    const c = this.o.token();
    return {
      authorization: `Bearer ${c.credential}`,
      ...(c.deviceKey !== undefined && {
        [DEVICE_PROOF_HEADER]: issueDeviceProof(
          { credential: c.credential, sub: c.deviceId, now },
          c.deviceKey,
        ),
      }),
    };
  }

  #open(): void {
    const now = this.o.now ?? Date.now;
    const maxPayload = this.o.maxPayload ?? DEFAULT_MAX_PAYLOAD;
    const headers = this.#authHeaders(now());
    const { pinnedLeafSha256, ...tlsOptions } = this.o.tls ?? {};
    const pin = this.o.url.startsWith('wss://') ? pinnedLeafSha256 : undefined;
    const ws = new WebSocket(this.o.url, {
      // With a pinned leaf the credentials are added once the certificate matched (below).
      headers: pin === undefined ? headers : {},
      maxPayload,
      handshakeTimeout: 10_000,
      ...(this.o.ca !== undefined ? { ca: this.o.ca } : {}),
      ...tlsOptions,
      ...(this.o.localAddress !== undefined ? { localAddress: this.o.localAddress } : {}),
      ...(pin !== undefined && {
        // The pin replaces the chain check (see ConnectionTls): nothing is written before it passed.
        rejectUnauthorized: false,
        finishRequest: (req: ClientRequest) => finishPinned(req, pin, headers),
      }),
    });
    this.#ws = ws;
    let openedAt: number | undefined;
    let healthy = false;
    let tooBig = false;
    let refused: number | undefined;
    let error: string | undefined;
    /** A certificate problem that failed the TLS handshake, with what to do about it. */
    let tls: { code: string; message: string; fix: string } | undefined;
    ws.on('open', () => {
      openedAt = now();
      this.connected = true;
      this.o.logger.info({ url: this.#safeUrl(), attempt: this.#attempt }, 'connected to gateway');
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
      if (!healthy && (frame as { type?: unknown } | null)?.type === 'caught-up') healthy = true;
      this.o.onFrame(frame);
    });
    ws.on('unexpected-response', (_req, res) => {
      refused = res.statusCode;
      this.o.logger.error(
        { status: res.statusCode },
        'gateway refused the connection (is the device token valid?)',
      );
      ws.terminate();
      if (refused !== undefined) this.o.onRefused?.(refused);
    });
    ws.on('error', (err: Error & { code?: string }) => {
      // ws's receiver refuses a frame over maxPayload, then closes the socket with 1009 itself.
      if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') tooBig = true;
      error = err.code ?? err.message;
      const fix =
        err.code === PINNED_LEAF_MISMATCH
          ? "the gateway's certificate is not the one this device's enrolment pinned: if HAProxy's tunnel-side certificate was replaced, the device needs a new grant (renewal or re-enrolment); otherwise something is intercepting"
          : tlsFix(err.code, (this.o.tls?.ca ?? this.o.ca) !== undefined);
      if (fix) tls = { code: err.code!, message: err.message, fix };
      this.o.logger.debug({ err: err.message }, 'gateway socket error');
    });
    ws.on('close', (code, reasonBytes) => {
      const reason = reasonBytes.toString();
      if (this.connected) this.o.logger.info({ code, reason }, 'disconnected from gateway');
      this.connected = false;
      this.o.onState?.(false);
      if (this.#stopped) return;
      if (
        !healthy &&
        openedAt !== undefined &&
        now() - openedAt >= (this.o.healthyAfterMs ?? DEFAULT_HEALTHY_AFTER_MS)
      )
        healthy = true;
      // A frame too large is no sign of health: the same frame comes back at the next resume.
      const oversize = tooBig || code === 1009;
      if (healthy && !oversize) {
        this.#attempt = 0;
        this.#failure = undefined;
        this.#tlsReportedAt = undefined;
        return this.#scheduleReconnect(`closed ${code}${reason ? ` ${reason}` : ''}`);
      }
      const what = tooBig
        ? `the gateway sent a frame larger than this device accepts (maxPayload ${maxPayload} bytes): what follows it cannot arrive`
        : code === 1009
          ? 'the gateway refused a frame from this device as too large (1009)'
          : refused !== undefined
            ? `the gateway refused the connection (HTTP ${refused})`
            : tls !== undefined
              ? `TLS with the gateway at ${this.#safeUrl()} failed: ${tls.code} (${tls.message}): ${tls.fix}`
              : openedAt === undefined
                ? `could not connect to the gateway (${error ?? `closed ${code}`})`
                : `the gateway closed the connection (${code}${reason ? ` ${reason}` : ''})`;
      const times = this.#failure?.what === what ? this.#failure.times + 1 : 1;
      this.#failure = { what, times };
      if (oversize) this.#problem({ code, times }, times > 1 ? `${what} (${times} times in a row)` : what);
      else if (tls !== undefined) {
        // Never only at debug, never every few seconds: the first time, on a change, then once a minute.
        const at = now();
        if (
          times === 1 ||
          this.#tlsReportedAt === undefined ||
          at - this.#tlsReportedAt >= TLS_FAILURE_REPORT_INTERVAL_MS
        ) {
          this.#tlsReportedAt = at;
          this.#problem(
            { tls: tls.code, url: this.#safeUrl(), times },
            times > 1 ? `${what} (${times} times in a row)` : what,
          );
        }
      } else if (
        times >= REPEATED_FAILURE_REPORT &&
        Number.isInteger(Math.log2(times / REPEATED_FAILURE_REPORT))
      )
        this.#problem({ code, times }, `${what}, ${times} times in a row`);
      this.#scheduleReconnect(what);
    });
  }

  /** The gateway URL for logs, without any user or password it may hold. */
  #safeUrl(): string {
    try {
      const u = new URL(this.o.url);
      if (!u.username && !u.password) return this.o.url;
      u.username = '';
      u.password = '';
      return u.toString();
    } catch {
      return this.o.url;
    }
  }

  #problem(fields: object, text: string): void {
    this.o.logger.error(fields, text);
    this.o.onProblem?.(text);
  }

  #scheduleReconnect(after: string): void {
    // Full jitter: spreads a fleet's reconnects over the whole window, from the first retry on.
    const delayMs = backoffDelay(
      this.#attempt++,
      {
        initialMs: this.o.backoffBaseMs ?? DEFAULT_BACKOFF_BASE_MS,
        maxMs: this.o.backoffMaxMs ?? DEFAULT_BACKOFF_MAX_MS,
        jitter: 'full',
      },
      this.o.random ?? Math.random,
    );
    this.o.logger.info({ delayMs, attempt: this.#attempt, after }, 'reconnecting to gateway');
    const run = () => {
      if (!this.#stopped) this.#open();
    };
    this.#timer = this.o.setTimer ? this.o.setTimer(run, delayMs) : setTimeout(run, delayMs);
  }
}

const PINNED_LEAF_MISMATCH = 'E_GATEWAY_CERT_PINNED_LEAF';

/**
 * ws's `finishRequest` for a pinned leaf: waits for the TLS handshake of the request's own
 * socket, compares the certificate's SHA-256 with the pin, and only then adds the credential and
 * the proof and sends the upgrade request (`end()` writes the first byte). A mismatch destroys
 * the request: the connection fails with PINNED_LEAF_MISMATCH, nothing sent.
 */
function finishPinned(req: ClientRequest, pin: string, headers: Record<string, string>): void {
  req.once('socket', (socket) => {
    const tlsSocket = socket as TLSSocket;
    const check = () => {
      const got = peerCertSha256(tlsSocket) ?? '(none)';
      if (got !== pin) {
        req.destroy(
          Object.assign(new Error(`the gateway's certificate has SHA-256 ${got}, not the pinned ${pin}`), {
            code: PINNED_LEAF_MISMATCH,
          }),
        );
        return;
      }
      for (const [name, value] of Object.entries(headers)) req.setHeader(name, value);
      req.end();
    };
    if (tlsSocket.getPeerX509Certificate?.()) check();
    else tlsSocket.once('secureConnect', check);
  });
}
