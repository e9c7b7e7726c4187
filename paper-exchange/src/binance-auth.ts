import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Account, Accounts } from './accounts.js';
import { binanceErrors } from './errors.js';

/** Binance's default when a signed request sends no recvWindow, in ms. */
export const DEFAULT_RECV_WINDOW_MS = 5_000;
/** Binance refuses larger windows, in ms. */
export const MAX_RECV_WINDOW_MS = 60_000;
/** How far a request's timestamp may run ahead of the server clock, in ms (Binance's rule). */
const MAX_CLOCK_AHEAD_MS = 1_000;

export type Params = ReadonlyMap<string, string>;

export interface RawRequest {
  /** The X-MBX-APIKEY header. */
  apiKey: string | undefined;
  /** The query string as sent, without the '?'. */
  rawQuery: string;
  /** The form body as sent ('' when none). */
  rawBody: string;
}

const API_KEY = /^[\x21-\x7e]{1,128}$/;
const TIMESTAMP = /^\d{1,15}$/;
const HEX_SHA256 = /^[0-9a-fA-F]{64}$/;

function pairs(raw: string): string[] {
  return raw === '' ? [] : raw.split('&');
}

/** Query and body parameters merged; a parameter in both is taken from the query, as Binance does. */
export function parseParams(rawQuery: string, rawBody = ''): Params {
  const params = new Map<string, string>();
  for (const [k, v] of new URLSearchParams(rawBody)) params.set(k, v);
  for (const [k, v] of new URLSearchParams(rawQuery)) params.set(k, v);
  return params;
}

function withoutSignature(raw: string): { rest: string; signature: string | undefined } {
  let signature: string | undefined;
  const rest = pairs(raw).filter((pair) => {
    if (!pair.startsWith('signature=')) return true;
    // A hex signature needs no decoding; anything else fails the hex check below.
    signature ??= pair.slice('signature='.length);
    return false;
  });
  return { rest: rest.join('&'), signature };
}

function signatureMatches(secret: string, payload: string, signature: string): boolean {
  if (!HEX_SHA256.test(signature)) return false;
  const expected = createHmac('sha256', secret).update(payload).digest();
  return timingSafeEqual(expected, Buffer.from(signature, 'hex'));
}

/**
 * Binance's SIGNED endpoint security: the key names the account, the signature is
 * HMAC-SHA256 over the query string followed directly by the body (its "totalParams", as
 * sent, without the signature), and the timestamp must fall within recvWindow of our clock.
 */
export function authenticate(
  req: RawRequest,
  accounts: Accounts,
  now: () => number,
): { account: Account; params: Params } {
  if (req.apiKey === undefined || !API_KEY.test(req.apiKey)) throw binanceErrors.apiKeyFormat();
  const account = accounts.find(req.apiKey);
  if (!account) throw binanceErrors.invalidApiKey();

  const query = withoutSignature(req.rawQuery);
  const body = withoutSignature(req.rawBody);
  const signature = query.signature ?? body.signature;
  const params = parseParams(query.rest, body.rest);
  if (signature === undefined || signature === '') throw binanceErrors.mandatory('signature');
  const timestampText = params.get('timestamp');
  if (timestampText === undefined || !TIMESTAMP.test(timestampText))
    throw binanceErrors.mandatory('timestamp');
  if (!signatureMatches(account.secret, query.rest + body.rest, signature))
    throw binanceErrors.badSignature();

  const recvWindowText = params.get('recvWindow');
  let recvWindow = DEFAULT_RECV_WINDOW_MS;
  if (recvWindowText !== undefined) {
    if (!TIMESTAMP.test(recvWindowText)) throw binanceErrors.mandatory('recvWindow');
    recvWindow = Number(recvWindowText);
    if (recvWindow > MAX_RECV_WINDOW_MS) throw binanceErrors.recvWindowTooLarge();
  }
  const timestamp = Number(timestampText);
  const serverTime = now();
  if (timestamp >= serverTime + MAX_CLOCK_AHEAD_MS) throw binanceErrors.aheadOfServer();
  if (serverTime - timestamp > recvWindow) throw binanceErrors.outsideRecvWindow();
  return { account, params };
}
