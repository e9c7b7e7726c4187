/**
 * The enrolment service's model: its configuration and defaults, the admin's request bodies, the
 * views the API answers with, and the checks every device request goes through. Pure; the service
 * (enrolment-service.ts) does the storage and the peers.
 */
import { z } from 'zod';
import {
  Ed25519PublicKey,
  ProtocolError,
  WgPublicKey,
  verifyDeviceRequestSignature,
  type EnrolRequest,
  type RenewRequest,
  type RotateRequest,
} from '@appliance/protocol';
import type { RequestOrigin } from './audit.js';
import { EnrolmentConfigError, EnrolmentError } from './enrolment-error.js';
import type * as rows from './enrolment-store.js';
import { parseTunnelPool, type TunnelPool } from './tunnel-pool.js';

const DAY = 24 * 3_600_000;

export const ENROLMENT_DEFAULTS = {
  /** An enrolment token's life unless the admin says otherwise (at most 90 days). */
  tokenTtlMs: 7 * DAY,
  maxTokenTtlMs: 90 * DAY,
  tokenUses: 1,
  maxTokenUses: 100,
  /** How long a rotated-out device key still renews (`--key-overlap-ms`). */
  keyOverlapMs: 10 * 60_000,
  persistentKeepaliveS: 25,
};

/**
 * What the `EnrolmentGrant` needs besides the registry: where devices reach the enrolment
 * endpoint and the concentrator, the gateway inside the tunnel, and the keys they pin. Given
 * whole or not at all (enrolment is disabled without it).
 */
export interface EnrolmentConfig {
  /** `--enrol-url`: https://host[:port] of the public enrolment endpoint (HAProxy's enrolment frontend). */
  url: string;
  /** `--enrol-cert`: SHA-256 of the DER certificate that endpoint serves, lowercase hex. */
  certSha256: string;
  /** `--tunnel-pool`: the fleet's subnet, e.g. 10.77.0.0/16; the hub is its first host. */
  tunnelPool: string;
  /** `--tunnel-endpoint`: host:port of the concentrator's WireGuard endpoint, as devices reach it. */
  tunnelEndpoint: string;
  /** `--tunnel-public-key`: the concentrator's WireGuard public key. */
  tunnelPublicKey: string;
  /** `--tunnel-gateway-url`: ws(s)://<hub address>:port/ (HAProxy's tunnel-side frontend). */
  tunnelGatewayUrl: string;
  /** `--tunnel-gateway-cert`: the pin of that frontend's certificate (for wss://). */
  tunnelGatewayCertSha256?: string;
  /** The datafeeds' public keys (`--feed-key`): the signal keys devices pin. */
  signalKeys: string[];
  persistentKeepaliveS?: number;
}

export interface CheckedConfig extends EnrolmentConfig {
  pool: TunnelPool;
}

/** Checks the configuration once, at start: every problem, each naming its flag. */
export function checkEnrolmentConfig(c: EnrolmentConfig): CheckedConfig {
  const issues: string[] = [];
  let pool: TunnelPool | undefined;
  if (!/^https:\/\/[^/?#@]+\/?$/.test(c.url) || !URL.canParse(c.url))
    issues.push(`--enrol-url ${c.url}: https://host[:port], without a path`);
  if (!/^[0-9a-f]{64}$/.test(c.certSha256))
    issues.push('--enrol-cert: the certificate pin must be 64 lowercase hex digits');
  try {
    pool = parseTunnelPool(c.tunnelPool);
  } catch (err) {
    issues.push(`--tunnel-pool ${(err as Error).message}`);
  }
  if (!/^[A-Za-z0-9.-]{1,253}:\d{1,5}$|^\[[0-9a-fA-F:.]+\]:\d{1,5}$/.test(c.tunnelEndpoint))
    issues.push(`--tunnel-endpoint ${c.tunnelEndpoint}: host:port (e.g. vpn.example.net:51820)`);
  else if (Number(c.tunnelEndpoint.slice(c.tunnelEndpoint.lastIndexOf(':') + 1)) > 65535)
    issues.push(`--tunnel-endpoint ${c.tunnelEndpoint}: the port is above 65535`);
  if (!WgPublicKey.safeParse(c.tunnelPublicKey).success)
    issues.push('--tunnel-public-key: a WireGuard public key (wg pubkey: 44 characters of base64)');
  if (!/^wss?:\/\/[^/?#@]+\/?/.test(c.tunnelGatewayUrl) || !URL.canParse(c.tunnelGatewayUrl))
    issues.push(`--tunnel-gateway-url ${c.tunnelGatewayUrl}: ws://<hub tunnel address>:port/ or wss://…`);
  else if (pool) {
    const host = new URL(c.tunnelGatewayUrl).hostname;
    if (/^\d+\.\d+\.\d+\.\d+$/.test(host) && host !== pool.hub)
      issues.push(
        `--tunnel-gateway-url ${c.tunnelGatewayUrl}: ${host} is not the hub's tunnel address ${pool.hub} (the first host of --tunnel-pool)`,
      );
  }
  if (c.tunnelGatewayCertSha256 !== undefined && !/^[0-9a-f]{64}$/.test(c.tunnelGatewayCertSha256))
    issues.push('--tunnel-gateway-cert: the certificate pin must be 64 lowercase hex digits');
  if (c.tunnelGatewayUrl.startsWith('wss://') && c.tunnelGatewayCertSha256 === undefined)
    issues.push('--tunnel-gateway-cert: required with a wss:// --tunnel-gateway-url (devices pin it)');
  if (c.signalKeys.length === 0)
    issues.push("--feed-key: required with enrolment (the datafeeds' keys are the signal keys devices pin)");
  for (const k of c.signalKeys)
    if (!Ed25519PublicKey.safeParse(k).success) issues.push(`--feed-key ${k}: not a base64url Ed25519 key`);
  if (issues.length > 0 || !pool) throw new EnrolmentConfigError(issues);
  return { ...c, pool };
}

export type RenewalStatus = 'ok' | 'due' | 'overdue' | 'expired' | 'never-enrolled';

/** What the operator sees of a device's enrolment (`GET /api/devices`, `/api/devices/:id`, the fleet view). */
export interface EnrolmentSummary {
  enrolled: boolean;
  tunnelAddress: string | null;
  wgPublicKey: string | null;
  deviceKid: string | null;
  enrolledAt: number | null;
  credentialExpiresAt: number | null;
  lastRenewedAt: number | null;
  renewals: number;
  /**
   * `ok`; `due`: less than a third of the credential's life left (the device should renew now);
   * `overdue`: still not renewed a twelfth of its life after that; `expired`; `never-enrolled`.
   */
  renewal: RenewalStatus;
  rotation: {
    state: 'none' | 'requested' | 'completed';
    requestedAt: number | null;
    completedAt: number | null;
    /** Device keys a rotation retired, and until when each still renews. */
    retiredKeys: { kid: string; validUntil: number }[];
  };
}

/** Renewal status of a credential issued at `iat`, expiring at `exp`. */
export function renewalStatus(iat: number | null, exp: number | null, now: number): RenewalStatus {
  if (iat === null || exp === null) return 'never-enrolled';
  if (now >= exp) return 'expired';
  const life = Math.max(1, exp - iat);
  const elapsed = now - iat;
  if (elapsed < (life * 2) / 3) return 'ok';
  return elapsed < (life * 2) / 3 + life / 12 ? 'due' : 'overdue';
}

export interface EnrolmentTokenView {
  id: string;
  deviceId: string;
  createdAt: number;
  expiresAt: number;
  maxUses: number;
  uses: number;
  revokedAt: number | null;
  state: 'active' | 'used' | 'expired' | 'revoked';
  createdFrom: RequestOrigin | null;
}

const epochTtl = (max: number) => z.number().int().min(60_000).max(max);
export const TokenOptions = z.strictObject({
  tokenTtlMs: epochTtl(ENROLMENT_DEFAULTS.maxTokenTtlMs).default(ENROLMENT_DEFAULTS.tokenTtlMs),
  tokenUses: z
    .number()
    .int()
    .min(1)
    .max(ENROLMENT_DEFAULTS.maxTokenUses)
    .default(ENROLMENT_DEFAULTS.tokenUses),
});
export const EnrolmentInput = TokenOptions.extend({
  id: z.string().max(64),
  scope: z.string().max(64).optional(),
  label: z.string().max(200).optional(),
});
export const KeysInput = z.strictObject({
  wgPublicKey: WgPublicKey,
  devicePublicKey: Ed25519PublicKey,
  /** For a device not registered yet: it is registered with this profile (and label). */
  scope: z.string().optional(),
  label: z.string().max(100).optional(),
});

export function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body ?? {});
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    throw new EnrolmentError('E_INVALID', `${i?.path.join('.') || 'body'}: ${i?.message}`);
  }
  return parsed.data;
}

/** A ProtocolError from parsing or verifying a device request, as the contract's code and status. */
export function asEnrolmentError(err: unknown): unknown {
  if (!(err instanceof ProtocolError)) return err;
  switch (err.code) {
    case 'E_MALFORMED':
    case 'E_STALE_REQUEST':
    case 'E_BAD_SIGNATURE':
    case 'E_UNKNOWN_KEY':
    case 'E_SAME_KEY':
      return new EnrolmentError(err.code, err.message);
    default:
      return new EnrolmentError('E_BAD_SIGNATURE', err.message);
  }
}

export type PeerChange =
  { op: 'add'; key: string; address: string } | { op: 'swap'; oldKey: string; key: string; address: string };

export function verifyRequest(req: EnrolRequest | RenewRequest | RotateRequest, publicKey: string): void {
  try {
    verifyDeviceRequestSignature(req, publicKey);
  } catch (err) {
    throw asEnrolmentError(
      err instanceof ProtocolError
        ? err
        : new ProtocolError('E_BAD_SIGNATURE', 'the device request signature does not verify'),
    );
  }
}

export function rotationPending(k: rows.DeviceKeysRow | undefined): boolean {
  const req = k?.rotation_requested_at ?? null;
  if (req === null) return false;
  const done = k?.rotation_completed_at ?? null;
  return done === null || done < req;
}

export function tokenView(r: rows.EnrolmentTokenRow, now: number): EnrolmentTokenView {
  return {
    id: r.id,
    deviceId: r.device_id,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    maxUses: r.max_uses,
    uses: r.uses,
    revokedAt: r.revoked_at,
    state:
      r.revoked_at !== null
        ? 'revoked'
        : r.uses >= r.max_uses
          ? 'used'
          : now >= r.expires_at
            ? 'expired'
            : 'active',
    createdFrom: r.created_from === null ? null : (JSON.parse(r.created_from) as RequestOrigin),
  };
}
