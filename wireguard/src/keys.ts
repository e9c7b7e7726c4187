/**
 * WireGuard keys: Curve25519 (X25519) key pairs, written as standard base64 of the raw 32 bytes
 * (44 characters ending in '='), exactly as `wg genkey` / `wg pubkey` write them. node:crypto does
 * the maths, so no key ever goes through a child process's argv.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { WireguardError } from './errors.js';

/**
 * 32 bytes in base64: 42 free characters, then one holding the last 4 bits (its 2 low bits zero,
 * so the encoding is canonical, as wg requires), then '='.
 */
const WG_KEY = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;

/** Whether `s` is a WireGuard key as wg writes it: base64 of exactly 32 bytes. */
export function isWgKey(s: unknown): s is string {
  return typeof s === 'string' && WG_KEY.test(s);
}

export interface WgKeyPair {
  privateKey: string;
  publicKey: string;
}

const fromBase64url = (s: string) => Buffer.from(s, 'base64url');

/** PKCS#8 wrapping of a raw X25519 private key (RFC 8410): this prefix, then the 32 bytes. */
const PKCS8_X25519_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

/** wg genkey clamps its keys (RFC 7748); X25519 clamps anyway, so the public key is the same. */
function clamp(raw: Buffer): Buffer {
  const k = Buffer.from(raw);
  k[0]! &= 248;
  k[31]! &= 127;
  k[31]! |= 64;
  return k;
}

/** A new key pair, like `wg genkey | tee private | wg pubkey`. */
export function generateWgKeyPair(): WgKeyPair {
  const { privateKey } = generateKeyPairSync('x25519');
  const jwk = privateKey.export({ format: 'jwk' });
  if (!jwk.d || !jwk.x) throw new Error('node:crypto exported an X25519 key without d or x');
  return {
    privateKey: clamp(fromBase64url(jwk.d)).toString('base64'),
    publicKey: fromBase64url(jwk.x).toString('base64'),
  };
}

/** The public key of a WireGuard private key, like `wg pubkey`. Throws E_INVALID for a malformed key. */
export function wgPublicKeyOf(privateKey: string): string {
  if (!isWgKey(privateKey))
    throw new WireguardError('E_INVALID', 'privateKey: not a WireGuard key (base64 of 32 bytes)');
  const key = createPrivateKey({
    key: Buffer.concat([PKCS8_X25519_PREFIX, Buffer.from(privateKey, 'base64')]),
    format: 'der',
    type: 'pkcs8',
  });
  const jwk = createPublicKey(key).export({ format: 'jwk' });
  if (!jwk.x) throw new Error('node:crypto exported an X25519 public key without x');
  return fromBase64url(jwk.x).toString('base64');
}
