import { sign, verify, type KeyObject } from 'node:crypto';
import type { z } from 'zod';
import { canonicalBytes } from './canonical.js';
import { ProtocolError } from './errors.js';
import type { KeyRing, Signer } from './keys.js';

/**
 * Signatures are domain-separated: the bytes signed are `appliance/<domain>/v1\n` followed by
 * the canonical JSON of the message without `sig`, so a signature made for one kind of
 * message can never verify as another.
 */
export type SignDomain =
  | 'signal'
  | 'control'
  | 'device-token'
  | 'candle'
  | 'simulator-result'
  | 'feed-report'
  | 'device-proof'
  | 'device-request';

export const DEFAULT_MAX_CLOCK_SKEW_MS = 5_000;

function signedBytes(domain: SignDomain, unsigned: object): Buffer {
  return Buffer.concat([Buffer.from(`appliance/${domain}/v1\n`), canonicalBytes(unsigned)]);
}

export function signPayload(domain: SignDomain, unsigned: object, signer: Signer): string {
  return sign(null, signedBytes(domain, unsigned), signer.privateKey).toString('base64url');
}

/** Signs a message whose `kid` is already the signer's, returning it with `sig`. */
export function signMessage<T extends { kid: string }>(
  domain: SignDomain,
  unsigned: T,
  signer: Signer,
): T & { sig: string } {
  if (unsigned.kid !== signer.kid)
    throw new TypeError(`kid ${unsigned.kid} is not the signer's (${signer.kid})`);
  return { ...unsigned, sig: signPayload(domain, unsigned, signer) };
}

export interface VerifyOptions {
  now: number;
  maxClockSkewMs?: number;
}

/**
 * Parses and verifies a signed, time-limited message. Order matters: shape first (so nothing
 * below trusts unchecked input), then key, then signature, then time. Throws ProtocolError.
 */
export function verifyMessage<S extends z.ZodType<{ kid: string; sig: string; ts: number; ttlMs: number }>>(
  domain: SignDomain,
  schema: S,
  input: unknown,
  keys: KeyRing,
  opts: VerifyOptions,
): z.infer<S> {
  const msg = parseMessage(domain, schema, input);
  const { sig, ...unsigned } = msg;
  verifySignature(domain, unsigned, sig, keys);
  checkWindow(domain, msg.ts, msg.ttlMs, opts);
  return msg;
}

/** Checks a message's shape, naming the first field that is wrong. Throws ProtocolError E_MALFORMED. */
export function parseMessage<S extends z.ZodType>(domain: SignDomain, schema: S, input: unknown): z.infer<S> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const first = parsed.error.issues[0];
  const where = first?.path.length ? first.path.join('.') : 'message';
  throw new ProtocolError('E_MALFORMED', `malformed ${domain}: ${where}: ${first?.message ?? 'invalid'}`, {
    issues: parsed.error.issues.slice(0, 5),
  });
}

/** Checks that `sig` is the pinned key `unsigned.kid`'s signature over `unsigned`. */
export function verifySignature(
  domain: SignDomain,
  unsigned: { kid: string },
  sig: string,
  keys: KeyRing,
): void {
  const key = keys.get(unsigned.kid);
  if (!key) {
    throw new ProtocolError('E_UNKNOWN_KEY', `${domain} signed with unknown key ${unsigned.kid}`, {
      kid: unsigned.kid,
    });
  }
  verifyWithKey(domain, unsigned, sig, key);
}

/** Checks `sig` over `unsigned` with one given key, whatever `kid` the body names. */
export function verifyWithKey(domain: SignDomain, unsigned: object, sig: string, key: KeyObject): void {
  const ok = verify(null, signedBytes(domain, unsigned), key, Buffer.from(sig, 'base64url'));
  if (!ok) throw new ProtocolError('E_BAD_SIGNATURE', `${domain} signature does not verify`);
}

export function checkWindow(what: string, ts: number, ttlMs: number, opts: VerifyOptions): void {
  const skew = opts.maxClockSkewMs ?? DEFAULT_MAX_CLOCK_SKEW_MS;
  if (ts > opts.now + skew) {
    throw new ProtocolError('E_NOT_YET_VALID', `${what} issued ${ts - opts.now} ms in the future`, { ts });
  }
  if (opts.now > ts + ttlMs) {
    throw new ProtocolError('E_EXPIRED', `${what} expired ${opts.now - ts - ttlMs} ms ago`, { ts, ttlMs });
  }
}
