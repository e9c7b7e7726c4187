// Shared by the control server's tests: a server on the embedded bus, and raw HTTP requests
// (fetch normalises paths, so attacks on path spelling go through node:http as sent).
import { request } from 'node:http';
import type { Test } from 'tap';
import pino from 'pino';
import { EmbeddedBus, generateSigner } from '@appliance/protocol';
import { startControlServer, type ControlServerOptions } from '../src/index.js';

export const ADMIN = 'admin-token-0123456789';
export const logger = pino({ level: 'silent' });

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: Record<string, unknown> | null;
}

/** One HTTP request with `path` and `Host` exactly as given. */
export function rawRequest(
  base: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: unknown,
): Promise<RawResponse> {
  const u = new URL(base);
  const data = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        method,
        path,
        setHost: false,
        headers: {
          host: u.host,
          ...(data === undefined ? {} : { 'content-type': 'application/json' }),
          ...headers,
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => {
          let json: Record<string, unknown> | null;
          try {
            json = JSON.parse(text) as Record<string, unknown>;
          } catch {
            json = null;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

export async function setup(t: Test, options: Partial<ControlServerOptions> = {}, adminToken = ADMIN) {
  const bus = new EmbeddedBus();
  const signer = generateSigner();
  const server = await startControlServer({
    bus,
    signer,
    adminToken,
    logger,
    eligibility: { 'ema.1h': ['BTC/USDT'] },
    onlineWindowMs: 60_000,
    ...options,
  });
  const url = await server.listen(0);
  t.teardown(() => server.close());
  const call = async (
    method: string,
    path: string,
    body?: unknown,
    token = adminToken,
    headers: Record<string, string> = {},
  ) => {
    const res = await fetch(url + path, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json().catch(() => null)) as Record<string, unknown> };
  };
  return { bus, signer, server, url, call };
}
