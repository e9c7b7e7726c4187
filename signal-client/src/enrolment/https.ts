import { request } from 'node:http';
import { isIP } from 'node:net';
import { connect, type TLSSocket } from 'node:tls';
import { errorClass } from '@appliance/errors';
import { peerCertSha256 } from '../cert-pin.js';

const ENROLMENT_CLIENT_ERRORS = {
  E_ENROL_PIN: "the enrolment endpoint's certificate is not the pinned one",
  E_ENROL_UNREACHABLE: 'the enrolment endpoint did not answer',
  E_ENROL_REFUSED: 'the enrolment endpoint refused the request',
  E_ENROL_BAD_ANSWER: 'the enrolment endpoint answered something unexpected',
} as const;
export type EnrolmentClientErrorCode = keyof typeof ENROLMENT_CLIENT_ERRORS;

/** A failure talking to the enrolment endpoint; `serverCode` is the server's `error` when it answered one. */
export class EnrolmentClientError extends errorClass<EnrolmentClientErrorCode>(
  'EnrolmentClientError',
  ENROLMENT_CLIENT_ERRORS,
) {
  serverCode?: string;
  status?: number;
}

function failure(
  code: EnrolmentClientErrorCode,
  message: string,
  extra: { serverCode?: string; status?: number } = {},
): EnrolmentClientError {
  return Object.assign(new EnrolmentClientError(code, message), extra);
}

/** Where the enrolment endpoint is and how it is trusted: the ticket's url, pin and serverName. */
export interface PinnedEndpoint {
  url: string;
  /** SHA-256 of the endpoint's certificate (DER), lowercase hex. */
  pin: string;
  serverName?: string;
}

const MAX_ANSWER_BYTES = 64 * 1024;

/**
 * POSTs `body` as JSON to `endpoint.url` + `path` and returns the status and the JSON answer.
 *
 * Trust: the ticket pins the endpoint's LEAF certificate by its SHA-256, and nothing else is
 * trusted (no CA, no system roots: the endpoint's certificate is usually self-signed). Node
 * cannot take a fingerprint as a trust anchor (`ca` wants the certificate itself), so the chain
 * check is switched off (`rejectUnauthorized: false`) and REPLACED by the pin check below, made
 * on the connected TLS socket before the HTTP request even exists: the request is only created
 * (`createConnection` hands it this very socket) once the certificate matched, so with a wrong
 * certificate not one byte of the request (the enrolment secret, the public keys) is written.
 * The pin check is stricter than a chain and name check: exactly one certificate is accepted.
 */
async function postPinned(
  endpoint: PinnedEndpoint,
  path: string,
  body: unknown,
  timeoutMs = 15_000,
): Promise<{ status: number; json: unknown }> {
  const u = new URL(endpoint.url);
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = u.port ? Number(u.port) : 443;
  const servername = endpoint.serverName ?? (isIP(host) === 0 ? host : undefined);
  const where = `${u.host}${endpoint.serverName ? ` (${endpoint.serverName})` : ''}`;

  const socket = await new Promise<TLSSocket>((resolve, reject) => {
    const s = connect({
      host,
      port,
      ...(servername !== undefined ? { servername } : {}),
      rejectUnauthorized: false, // replaced by the mandatory pin check on 'secureConnect' (above)
      ALPNProtocols: ['http/1.1'],
      timeout: timeoutMs,
    });
    const fail = (err: Error) => {
      s.destroy();
      reject(err);
    };
    s.once('timeout', () =>
      fail(failure('E_ENROL_UNREACHABLE', `no TLS handshake with ${where} within ${timeoutMs} ms`)),
    );
    s.once('error', (err: NodeJS.ErrnoException) =>
      fail(failure('E_ENROL_UNREACHABLE', `cannot reach ${where}: ${err.code ?? err.message}`)),
    );
    s.once('secureConnect', () => {
      const got = peerCertSha256(s);
      if (got !== endpoint.pin) {
        fail(
          failure(
            'E_ENROL_PIN',
            `the certificate of ${where} has SHA-256 ${got ?? '(none)'}, not the pinned ${endpoint.pin}: nothing was sent (a new enrolment token is needed if the endpoint's certificate was replaced; otherwise something is intercepting)`,
          ),
        );
        return;
      }
      s.removeAllListeners('timeout');
      s.removeAllListeners('error');
      resolve(s);
    });
  });

  const payload = Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = request({
      createConnection: () => socket,
      method: 'POST',
      path: `${u.pathname.replace(/\/$/, '')}${path}`,
      headers: {
        host: u.host,
        'content-type': 'application/json',
        'content-length': payload.length,
        connection: 'close',
      },
      timeout: timeoutMs,
    });
    req.once('timeout', () =>
      req.destroy(failure('E_ENROL_UNREACHABLE', `${where} did not answer within ${timeoutMs} ms`)),
    );
    req.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err instanceof EnrolmentClientError
          ? err
          : failure('E_ENROL_UNREACHABLE', `${where}: ${err.code ?? err.message}`),
      ),
    );
    req.once('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_ANSWER_BYTES) {
          req.destroy(failure('E_ENROL_BAD_ANSWER', `${where} answered more than ${MAX_ANSWER_BYTES} bytes`));
          return;
        }
        chunks.push(c);
      });
      res.once('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = text ? JSON.parse(text) : undefined;
        } catch {
          json = undefined;
        }
        socket.destroy();
        resolve({ status: res.statusCode ?? 0, json });
      });
      res.once('error', (err) => reject(failure('E_ENROL_UNREACHABLE', `${where}: ${err.message}`)));
    });
    req.end(payload);
  });
}

/**
 * POSTs and returns the 2xx answer's JSON; any other status is an EnrolmentClientError carrying
 * the server's `{error, message}` (or the status alone).
 */
export async function callEnrolment(
  endpoint: PinnedEndpoint,
  path: string,
  body: unknown,
  timeoutMs?: number,
): Promise<unknown> {
  const { status, json } = await postPinned(endpoint, path, body, timeoutMs);
  if (status >= 200 && status < 300) return json;
  const answer = (json ?? {}) as { error?: unknown; message?: unknown };
  const serverCode = typeof answer.error === 'string' ? answer.error.slice(0, 64) : undefined;
  const message = typeof answer.message === 'string' ? answer.message.slice(0, 300) : `HTTP ${status}`;
  throw failure(
    'E_ENROL_REFUSED',
    `${path.replace(/^\//, '')}: ${serverCode ?? `HTTP ${status}`}: ${message}`,
    { ...(serverCode !== undefined ? { serverCode } : {}), status },
  );
}
