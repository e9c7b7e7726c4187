import { createHash } from 'node:crypto';
import { z } from 'zod';
import { canonicalize } from './canonical.js';
import { ProtocolError } from './errors.js';
import { KeyRing, exportPublicKey, importPublicKey, keyId, type Signer } from './keys.js';
import { PROTOCOL_VERSION, Profile } from './schemas.js';
import { signPayload, verifySignature, verifyWithKey } from './signing.js';

/*
 * Enrolment: how a blank device becomes a member of the fleet without any secret leaving it.
 *
 * 1. The admin's `device add` returns an enrolment token (`EnrolmentTicket`): the enrolment URL,
 *    the pinned certificate fingerprint of that URL's TLS endpoint, a token id and a one-time
 *    secret, as one string. The server keeps only the secret's SHA-256.
 * 2. On first boot the device makes its own WireGuard key pair and Ed25519 device key and sends
 *    an `EnrolRequest` (public keys only), signed with the new device key (proof of possession).
 * 3. The server answers with an `EnrolmentGrant`: the tunnel, the gateway inside it, the pinned
 *    signal and control keys, and a credential (device token) bound to the device key (`cnf`).
 * 4. At each WebSocket upgrade the device adds a `DeviceProof` signed with its device key over
 *    the credential: a copied credential alone does not connect.
 * 5. The device key, not the credential, is the identity: `RenewRequest` gets a new credential
 *    (even after the old one expired), `RotateRequest` swaps both keys, unless it was revoked.
 */

const epochMs = z.number().int().nonnegative();
const deviceId = z.string().regex(/^[a-z0-9][a-z0-9-]{2,63}$/, 'deviceId: lowercase letters, digits and -');
/** A raw Ed25519 public key, base64url (the form pinned everywhere else). */
export const Ed25519PublicKey = z
  .string()
  .regex(/^[A-Za-z0-9_-]{43}$/, 'an Ed25519 public key: 32 bytes, base64url (43 characters)');
/** A WireGuard key as `wg` prints it: 32 bytes, standard base64 (44 characters, one `=`). */
export const WgPublicKey = z
  .string()
  .regex(
    /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/,
    'a WireGuard public key: 32 bytes, base64 (44 characters)',
  );
const sig = z.string().regex(/^[A-Za-z0-9_-]{86}$/, 'sig: base64url Ed25519 signature');
const secret = z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'secret: 32 random bytes, base64url');
export const EnrolmentTokenId = z.string().regex(/^et-[0-9a-f]{16}$/, 'token id: et- and 16 hex digits');
const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'a SHA-256 fingerprint: 64 lowercase hex digits');

// ---- the enrolment token ---------------------------------------------------------------------

/** What the admin hands over for one device: everything it needs, nothing it must type. */
export const EnrolmentTicket = z.strictObject({
  v: z.literal(1),
  /** https URL of the public enrolment endpoint (HAProxy's enrolment frontend). */
  url: z
    .string()
    .url()
    .regex(/^https:\/\/[^/?#]+\/?$/, 'url: https://host[:port] (no path)'),
  /** SHA-256 of the enrolment endpoint's certificate (DER), lowercase hex: the only trust anchor. */
  pin: sha256Hex,
  /** Optional: the name the certificate is checked against (and sent as SNI) instead of url's host. */
  serverName: z.string().min(1).max(253).optional(),
  id: EnrolmentTokenId,
  secret,
  /** When the token stops working (the server checks; the device only uses it to say so early). */
  exp: epochMs,
  /** For the person holding it: which device and profile it enrols. The server's record decides. */
  device: deviceId,
  profile: Profile,
});
export type EnrolmentTicket = z.infer<typeof EnrolmentTicket>;

const TICKET_PREFIX = 'sa-enrol-1.';

/** `sa-enrol-1.` + base64url(canonical JSON): one string, safe in a file, a URL or a QR code. */
export function encodeEnrolmentTicket(ticket: EnrolmentTicket): string {
  return TICKET_PREFIX + Buffer.from(canonicalize(EnrolmentTicket.parse(ticket))).toString('base64url');
}

/** Reads an enrolment token; surrounding whitespace (a file's newline) is ignored. */
export function decodeEnrolmentTicket(text: string): EnrolmentTicket {
  const s = text.trim();
  if (!s.startsWith(TICKET_PREFIX) || s.length > 4096)
    throw new ProtocolError('E_BAD_ENROLMENT_TOKEN', `an enrolment token starts with ${TICKET_PREFIX}`);
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(s.slice(TICKET_PREFIX.length), 'base64url').toString('utf8'));
  } catch {
    throw new ProtocolError('E_BAD_ENROLMENT_TOKEN', 'the enrolment token is damaged (not JSON inside)');
  }
  const parsed = EnrolmentTicket.safeParse(raw);
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    throw new ProtocolError(
      'E_BAD_ENROLMENT_TOKEN',
      `the enrolment token is damaged: ${i?.path.join('.') || 'token'}: ${i?.message}`,
    );
  }
  return parsed.data;
}

/** The server stores this, never the secret. */
export function enrolmentSecretHash(secretValue: string): string {
  return createHash('sha256').update(`appliance/enrolment-secret/v1\n${secretValue}`).digest('hex');
}

// ---- device requests, signed with the device key ------------------------------------------------

const requestCommon = {
  v: z.literal(1),
  /** When the device made it: the server refuses requests older than a few minutes. */
  ts: epochMs,
  /** Key id of the device key that signed (`keyId` of `devicePublicKey` or of the stored key). */
  kid: z.string().regex(/^[A-Za-z0-9_-]{16}$/),
};

/** First enrolment: the token, and the device's new public keys. Signed by the new device key. */
export const EnrolRequest = z.strictObject({
  ...requestCommon,
  typ: z.literal('enrol'),
  tokenId: EnrolmentTokenId,
  secret,
  wgPublicKey: WgPublicKey,
  devicePublicKey: Ed25519PublicKey,
  sig,
});
export type EnrolRequest = z.infer<typeof EnrolRequest>;

/** A new credential for a device that proves its registered key (expired credential or not). */
export const RenewRequest = z.strictObject({
  ...requestCommon,
  typ: z.literal('renew'),
  deviceId,
  sig,
});
export type RenewRequest = z.infer<typeof RenewRequest>;

/**
 * Key rotation: new WireGuard and device keys, signed by the OLD device key (`sig`, `kid`) and by
 * the new one (`newSig`), so neither a thief of the old key alone nor of the new one alone can
 * move the identity.
 */
export const RotateRequest = z.strictObject({
  ...requestCommon,
  typ: z.literal('rotate'),
  deviceId,
  wgPublicKey: WgPublicKey,
  devicePublicKey: Ed25519PublicKey,
  sig,
  newSig: sig,
});
export type RotateRequest = z.infer<typeof RotateRequest>;

export const DeviceRequest = z.discriminatedUnion('typ', [EnrolRequest, RenewRequest, RotateRequest]);
export type DeviceRequest = z.infer<typeof DeviceRequest>;

type Unsigned<T> = Omit<T, 'sig' | 'newSig' | 'kid' | 'v' | 'ts'>;

/** Signs a device request with the device key (and, for a rotation, the new key too). */
export function signDeviceRequest<T extends DeviceRequest>(
  body: Unsigned<T>,
  deviceKey: Signer,
  now: number,
  newKey?: Signer,
): T {
  const unsigned = { ...body, v: 1, ts: now, kid: deviceKey.kid } as Record<string, unknown>;
  const out: Record<string, unknown> = {
    ...unsigned,
    sig: signPayload('device-request', unsigned, deviceKey),
  };
  if (body.typ === 'rotate') {
    if (!newKey) throw new TypeError('a rotation is signed by the new key too');
    out.newSig = signPayload('device-request', unsigned, newKey);
  }
  return out as T;
}

/** How old (or how far ahead) a device request may be. */
export const DEVICE_REQUEST_WINDOW_MS = 5 * 60_000;

/**
 * Parses a device request and checks its shape and time window (not its signature: which key
 * must have signed depends on the server's records; see `verifyDeviceRequestSignature`).
 */
export function parseDeviceRequest(input: unknown, now: number): DeviceRequest {
  const parsed = DeviceRequest.safeParse(input);
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    throw new ProtocolError(
      'E_MALFORMED',
      `malformed device request: ${i?.path.join('.') || 'body'}: ${i?.message ?? 'invalid'}`,
    );
  }
  const r = parsed.data;
  if (Math.abs(now - r.ts) > DEVICE_REQUEST_WINDOW_MS)
    throw new ProtocolError(
      'E_STALE_REQUEST',
      `device request made ${Math.round((now - r.ts) / 1000)} s from now: check the device's clock`,
    );
  return r;
}

/**
 * Checks `sig` with `publicKey` (its key id must be the request's `kid`) and, for a rotation,
 * `newSig` with the request's new device key. Throws ProtocolError E_BAD_SIGNATURE / E_UNKNOWN_KEY.
 */
export function verifyDeviceRequestSignature(request: DeviceRequest, publicKey: string): void {
  if (keyIdOf(publicKey) !== request.kid)
    throw new ProtocolError(
      'E_UNKNOWN_KEY',
      `device request signed with key ${request.kid}, not the device's`,
    );
  const { sig: s, ...rest } = request;
  const unsigned: Record<string, unknown> = { ...rest };
  delete unsigned.newSig;
  verifyWithKey('device-request', unsigned, s, importPublicKey(publicKey));
  if (request.typ === 'rotate') {
    if (keyIdOf(request.devicePublicKey) === request.kid)
      throw new ProtocolError('E_SAME_KEY', 'a rotation must bring a new device key');
    verifyWithKey('device-request', unsigned, request.newSig, importPublicKey(request.devicePublicKey));
  }
}

/** The key id (`kid`) of a base64url Ed25519 public key. */
export function keyIdOf(publicKey: string): string {
  return keyId(importPublicKey(publicKey));
}

// ---- what the server answers ---------------------------------------------------------------------

/** The device's configuration, returned by enrolment and rotation (and, without `tunnel`, renewal). */
export const EnrolmentGrant = z.strictObject({
  deviceId,
  profile: Profile,
  tunnel: z.strictObject({
    /** The device's own tunnel address (a /32 on the concentrator). */
    address: z.string().regex(/^\d{1,3}(\.\d{1,3}){3}$/),
    /** What goes through the tunnel: the fleet's subnet, e.g. 10.77.0.0/16. */
    allowedIps: z.array(z.string().regex(/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/)).min(1),
    concentratorPublicKey: WgPublicKey,
    /** host:port of the concentrator's WireGuard endpoint, reachable from the device's network. */
    endpoint: z.string().min(3).max(260),
    persistentKeepaliveS: z.number().int().min(0).max(3600),
  }),
  /** The gateway URL inside the tunnel (ws:// or wss://, HAProxy's tunnel-side frontend). */
  gatewayUrl: z.string().regex(/^wss?:\/\//),
  /** When the gateway URL is wss://: the certificate pin of HAProxy's tunnel-side endpoint. */
  gatewayCertSha256: sha256Hex.optional(),
  signalKeys: z.array(Ed25519PublicKey).min(1),
  controlKeys: z.array(Ed25519PublicKey).min(1),
  /** The device token, bound to the device key (`cnf`). */
  credential: z.string().min(10).max(2048),
  credentialExpiresAt: epochMs,
  /** The server asks the device to rotate its keys (ordered by the admin). */
  rotateKeys: z.boolean().default(false),
});
export type EnrolmentGrant = z.infer<typeof EnrolmentGrant>;

/** What a renewal answers: a new credential, and whether the admin ordered a key rotation. */
export const RenewalGrant = z.strictObject({
  deviceId,
  credential: z.string().min(10).max(2048),
  credentialExpiresAt: epochMs,
  rotateKeys: z.boolean(),
});
export type RenewalGrant = z.infer<typeof RenewalGrant>;

// ---- the proof at the WebSocket upgrade ----------------------------------------------------------

/** Header the device sends beside `Authorization: Bearer <credential>`. */
export const DEVICE_PROOF_HEADER = 'x-device-proof';
/** A proof lives at most this long: long enough for a connect, short enough to be useless later. */
export const DEVICE_PROOF_MAX_TTL_MS = 120_000;

export const DeviceProofClaims = z.strictObject({
  v: z.literal(PROTOCOL_VERSION),
  typ: z.literal('upgrade'),
  sub: deviceId,
  /** SHA-256 of the credential it goes with, base64url: a proof is good for one credential only. */
  ath: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
  iat: epochMs,
  exp: epochMs,
  /** The device key's id; must be the credential's `cnf` key. */
  kid: z.string().regex(/^[A-Za-z0-9_-]{16}$/),
});
export type DeviceProofClaims = z.infer<typeof DeviceProofClaims>;

const credentialHash = (credential: string) =>
  createHash('sha256').update(credential).digest().toString('base64url');

/** The device signs a fresh proof for each connection attempt. */
export function issueDeviceProof(
  input: { credential: string; sub: string; now: number; ttlMs?: number },
  deviceKey: Signer,
): string {
  const claims = DeviceProofClaims.parse({
    v: PROTOCOL_VERSION,
    typ: 'upgrade',
    sub: input.sub,
    ath: credentialHash(input.credential),
    iat: input.now,
    exp: input.now + Math.min(input.ttlMs ?? 60_000, DEVICE_PROOF_MAX_TTL_MS),
    kid: deviceKey.kid,
  });
  return `${Buffer.from(canonicalize(claims)).toString('base64url')}.${signPayload('device-proof', claims, deviceKey)}`;
}

/**
 * Checks a proof against the credential it came with, whose `cnf` names the device key. Throws
 * ProtocolError: E_PROOF_REQUIRED, E_BAD_PROOF, E_PROOF_EXPIRED.
 */
export function verifyDeviceProof(
  proof: string | undefined,
  credential: { token: string; sub: string; cnf: string },
  now: number,
  maxClockSkewMs = 30_000,
): DeviceProofClaims {
  if (!proof)
    throw new ProtocolError('E_PROOF_REQUIRED', 'this credential is bound to a device key: proof required');
  const [head, s, extra] = proof.split('.');
  if (!head || !s || extra !== undefined || proof.length > 1024)
    throw new ProtocolError('E_BAD_PROOF', 'device proof must be <claims>.<signature>');
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(head, 'base64url').toString('utf8'));
  } catch {
    throw new ProtocolError('E_BAD_PROOF', 'device proof claims are not JSON');
  }
  const parsed = DeviceProofClaims.safeParse(raw);
  if (!parsed.success)
    throw new ProtocolError('E_BAD_PROOF', 'device proof claims do not match their schema');
  const claims = parsed.data;
  if (claims.sub !== credential.sub)
    throw new ProtocolError('E_BAD_PROOF', 'device proof is for another device');
  if (claims.ath !== credentialHash(credential.token))
    throw new ProtocolError('E_BAD_PROOF', 'device proof is for another credential');
  try {
    verifySignature('device-proof', claims, s, KeyRing.of(credential.cnf));
  } catch (err) {
    throw new ProtocolError(
      'E_BAD_PROOF',
      `device proof rejected: ${(err as Error).message}`,
      undefined,
      err,
    );
  }
  if (claims.exp - claims.iat > DEVICE_PROOF_MAX_TTL_MS || claims.exp < claims.iat)
    throw new ProtocolError('E_BAD_PROOF', 'device proof lives too long');
  if (claims.iat > now + maxClockSkewMs)
    throw new ProtocolError('E_BAD_PROOF', 'device proof issued in the future');
  if (now >= claims.exp + maxClockSkewMs) throw new ProtocolError('E_PROOF_EXPIRED', 'device proof expired');
  return claims;
}

/** The raw public key of a signer, as `cnf` and requests carry it. */
export const publicKeyOf = (s: Signer): string => exportPublicKey(s.publicKey);

/**
 * The device's WireGuard configuration (wg-quick format) from its grant and its private key: what
 * `signal-client enrol` and the admin's offline bundle both write as wg0.conf. A plain function
 * rather than @appliance/wireguard's template: the device's single-file executable cannot read
 * template files, and a grant may route several subnets.
 */
export function grantWgConf(grant: EnrolmentGrant, privateKey: string, writtenBy: string): string {
  const t = grant.tunnel;
  return [
    `# Written by ${writtenBy} (and by key rotations): do not edit, it is rewritten.`,
    '[Interface]',
    `PrivateKey = ${privateKey}`,
    `Address = ${t.address}/32`,
    '',
    '[Peer]',
    `PublicKey = ${t.concentratorPublicKey}`,
    `Endpoint = ${t.endpoint}`,
    `AllowedIPs = ${t.allowedIps.join(', ')}`,
    ...(t.persistentKeepaliveS > 0 ? [`PersistentKeepalive = ${t.persistentKeepaliveS}`] : []),
    '',
  ].join('\n');
}
