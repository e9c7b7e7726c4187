import { canonicalize } from './canonical.js';
import { ProtocolError } from './errors.js';
import type { KeyRing, Signer } from './keys.js';
import { DeviceTokenClaims, PROTOCOL_VERSION } from './schemas.js';
import { signPayload, verifySignature } from './signing.js';

/**
 * A device token is `base64url(canonical claims).base64url(signature)`, signed by the control
 * server. A gateway checks it with the control server's public key alone, with no database.
 */
export function issueDeviceToken(
  claims: { sub: string; scope: string; iat: number; ttlMs: number; cnf?: string },
  signer: Signer,
): string {
  const body: DeviceTokenClaims = DeviceTokenClaims.parse({
    v: PROTOCOL_VERSION,
    sub: claims.sub,
    scope: claims.scope,
    iat: claims.iat,
    exp: claims.iat + claims.ttlMs,
    kid: signer.kid,
    ...(claims.cnf !== undefined && { cnf: claims.cnf }),
  });
  const sig = signPayload('device-token', body, signer);
  return `${Buffer.from(canonicalize(body)).toString('base64url')}.${sig}`;
}

export function verifyDeviceToken(token: string, keys: KeyRing, now: number): DeviceTokenClaims {
  const claims = readDeviceToken(token, keys);
  if (now >= claims.exp) throw new ProtocolError('E_TOKEN_EXPIRED', `device token expired at ${claims.exp}`);
  return claims;
}

/**
 * The claims of a device token whose shape and signature verify, expired or not: what a device
 * reads of its own token (its profile is the `scope` it was registered with). Gateways use
 * `verifyDeviceToken`, which also refuses an expired one.
 */
export function readDeviceToken(token: string, keys: KeyRing): DeviceTokenClaims {
  const [head, sig, extra] = token.split('.');
  if (!head || !sig || extra !== undefined || token.length > 2048) {
    throw new ProtocolError('E_BAD_TOKEN', 'device token must be <claims>.<signature>');
  }
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(head, 'base64url').toString('utf8'));
  } catch {
    throw new ProtocolError('E_BAD_TOKEN', 'device token claims are not JSON');
  }
  const parsed = DeviceTokenClaims.safeParse(claims);
  if (!parsed.success)
    throw new ProtocolError('E_BAD_TOKEN', 'device token claims do not match their schema');
  try {
    verifySignature('device-token', parsed.data, sig, keys);
  } catch (err) {
    throw new ProtocolError(
      'E_BAD_TOKEN',
      `device token rejected: ${(err as Error).message}`,
      undefined,
      err,
    );
  }
  return parsed.data;
}
