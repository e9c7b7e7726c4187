import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import {
  EnrolmentGrant,
  RenewalGrant,
  encodeEnrolmentTicket,
  enrolmentSecretHash,
  exportPublicKey,
  issueDeviceToken,
  keyIdOf,
  type EnrolRequest,
  type RenewRequest,
  type RotateRequest,
  type Signer,
} from '@appliance/protocol';
import type { RequestOrigin } from './audit.js';
import type { Concentrator } from './concentrator.js';
import { EnrolmentError } from './enrolment-error.js';
import * as rows from './enrolment-store.js';
import { reconcilePeers, type ReconcileResult } from './peer-reconcile.js';
import type { Device, DeviceRegistry, TokenIssue } from './registry.js';
import type { Db } from './store/database.js';
import { isDeviceAddress, nextTunnelAddress } from './tunnel-pool.js';

import {
  ENROLMENT_DEFAULTS,
  EnrolmentInput,
  KeysInput,
  TokenOptions,
  checkEnrolmentConfig,
  parseBody,
  renewalStatus,
  rotationPending,
  tokenView,
  verifyRequest,
  type CheckedConfig,
  type EnrolmentConfig,
  type EnrolmentSummary,
  type EnrolmentTokenView,
  type PeerChange,
} from './enrolment-model.js';

export interface EnrolmentServiceOptions {
  registry: DeviceRegistry;
  /** Signs credentials (device tokens): the control server's token key, which devices pin. */
  signer: Signer;
  logger: Logger;
  now: () => number;
  /** Absent: enrolment is disabled (the public routes answer 503, `POST /api/enrolments` 409). */
  config?: EnrolmentConfig;
  concentrator: Concentrator;
  /** Called with a revoked device's tunnel address (HAProxy's deny list). */
  denyTunnelAddress?: (address: string) => Promise<void>;
  credentialTtlMs: number;
  keyOverlapMs?: number;
}

/**
 * Enrolment tokens, device keys, tunnel addresses, credentials, renewal and rotation
 * (docs/enrolment.md). Every change is one transaction in the registry's turn; peer changes on
 * the concentrator happen after the commit (a failure is logged, and the start-up reconcile adds
 * every active device's peer again).
 */
export class EnrolmentService {
  readonly #o: EnrolmentServiceOptions;
  readonly #config: CheckedConfig | undefined;
  readonly #overlapMs: number;

  constructor(o: EnrolmentServiceOptions) {
    this.#o = o;
    this.#config = o.config && checkEnrolmentConfig(o.config);
    this.#overlapMs = o.keyOverlapMs ?? ENROLMENT_DEFAULTS.keyOverlapMs;
    o.registry.onRevoke = (db, ids, now) => rows.revokeDeviceTokens(db, ids, now);
  }

  get enabled(): boolean {
    return this.#config !== undefined;
  }

  /** The enrolment URL's host name (added to the allowed Host names), when enabled. */
  get enrolHost(): string | undefined {
    return this.#config && new URL(this.#config.url).hostname.replace(/^\[|\]$/g, '');
  }

  get #db(): Db {
    return this.#o.registry.store.db;
  }

  #enabledConfig(status?: number): CheckedConfig {
    if (!this.#config)
      throw new EnrolmentError(
        'E_ENROLMENT_DISABLED',
        'enrolment is not configured on this control server: give --enrol-url, --enrol-cert, --tunnel-pool, --tunnel-endpoint, --tunnel-public-key and --tunnel-gateway-url',
        status,
      );
    return this.#config;
  }

  // ---- admin ---------------------------------------------------------------------------------

  /** `POST /api/enrolments`: registers the device and makes its enrolment token, in one transaction. */
  async createEnrolment(body: unknown, from: RequestOrigin) {
    const config = this.#enabledConfig(409);
    const input = parseBody(EnrolmentInput, body);
    let made: ReturnType<EnrolmentService['makeToken']> | undefined;
    const now = this.#o.now();
    const device = await this.#o.registry.create(
      { id: input.id, scope: input.scope, label: input.label },
      now,
      from,
      (db, d) => {
        made = this.makeToken(db, d, input, now, from, config);
      },
    );
    this.#o.logger.info(
      { device: device.id, scope: device.scope, token: made!.view.id, from },
      'device registered with an enrolment token',
    );
    return { device, token: made!.token, enrolmentToken: made!.view };
  }

  /** `POST /api/devices/:id/enrolment-tokens`: another token for an existing, unrevoked device. */
  async createToken(deviceId: string, body: unknown, from: RequestOrigin) {
    const config = this.#enabledConfig(409);
    const input = parseBody(TokenOptions, body);
    const now = this.#o.now();
    const made = await this.#o.registry.transact((db) => {
      const device = this.#o.registry.get(deviceId);
      if (device.revokedAt !== undefined)
        throw new EnrolmentError('E_DEVICE_REVOKED', `device ${deviceId} is revoked`, 409);
      return { devices: [], result: this.makeToken(db, device, input, now, from, config) };
    });
    this.#o.logger.info({ device: deviceId, token: made.view.id, from }, 'enrolment token created');
    return { token: made.token, enrolmentToken: made.view };
  }

  private makeToken(
    db: Db,
    device: Device,
    input: { tokenTtlMs: number; tokenUses: number },
    now: number,
    from: RequestOrigin,
    config: CheckedConfig,
  ) {
    const id = `et-${randomBytes(8).toString('hex')}`;
    const secret = randomBytes(32).toString('base64url');
    const row = {
      id,
      device_id: device.id,
      secret_hash: enrolmentSecretHash(secret),
      created_at: now,
      expires_at: now + input.tokenTtlMs,
      max_uses: input.tokenUses,
      created_from: JSON.stringify(from),
    };
    rows.insertToken(db, row);
    const token = encodeEnrolmentTicket({
      v: 1,
      url: config.url,
      pin: config.certSha256,
      id,
      secret,
      exp: row.expires_at,
      device: device.id,
      profile: device.scope,
    });
    return { token, view: tokenView({ ...row, uses: 0, revoked_at: null }, now) };
  }

  listTokens(): EnrolmentTokenView[] {
    const now = this.#o.now();
    return rows.listTokens(this.#db).map((r) => tokenView(r, now));
  }

  async revokeToken(id: string, from: RequestOrigin): Promise<EnrolmentTokenView> {
    const now = this.#o.now();
    const view = await this.#o.registry.transact((db) => {
      if (!rows.getToken(db, id))
        throw new EnrolmentError('E_ENROLMENT_TOKEN_UNKNOWN', `no enrolment token ${id}`);
      rows.revokeToken(db, id, now);
      return { devices: [], result: tokenView(rows.getToken(db, id)!, now) };
    });
    this.#o.logger.warn({ token: id, device: view.deviceId, from }, 'enrolment token revoked');
    return view;
  }

  /** `POST /api/devices/:id/rotate-keys`: the device learns it at its next renewal. */
  async requestRotation(deviceId: string, from: RequestOrigin): Promise<EnrolmentSummary> {
    const now = this.#o.now();
    await this.#o.registry.transact((db) => {
      const device = this.#o.registry.get(deviceId);
      if (device.revokedAt !== undefined)
        throw new EnrolmentError('E_DEVICE_REVOKED', `device ${deviceId} is revoked`, 409);
      if (!rows.getKeys(db, deviceId))
        throw new EnrolmentError('E_NOT_ENROLLED', `device ${deviceId} has not enrolled: nothing to rotate`);
      rows.requestRotation(db, deviceId, now);
      return { devices: [], result: undefined };
    });
    this.#o.logger.warn({ device: deviceId, from }, 'key rotation requested');
    return this.summary(deviceId);
  }

  /**
   * `POST /api/devices/:id/keys` (the offline bundle): the admin registers the device's public
   * keys, registering the device too (with `scope`) if it is new. Everything that could refuse
   * the keys is checked before a new device is written, so a refusal leaves no device behind.
   */
  async registerKeys(deviceId: string, body: unknown, from: RequestOrigin): Promise<EnrolmentGrant> {
    const config = this.#enabledConfig(409);
    const keys = parseBody(KeysInput, body);
    const now = this.#o.now();
    if (!this.#o.registry.has(deviceId)) {
      if (keys.scope === undefined)
        throw new EnrolmentError('E_DEVICE_UNKNOWN', `no device ${deviceId}: give scope to register it`);
      if (rows.keyHolder(this.#db, deviceId, keys.wgPublicKey, keys.devicePublicKey) !== undefined)
        throw new EnrolmentError(
          'E_KEY_IN_USE',
          'the WireGuard or device key is registered for another device',
        );
      if (nextTunnelAddress(config.pool, rows.allocatedAddresses(this.#db)) === null)
        throw new EnrolmentError(
          'E_POOL_EXHAUSTED',
          `the tunnel pool ${config.pool.text} has no address left that was never given`,
        );
      await this.#o.registry.create({ id: deviceId, scope: keys.scope, label: keys.label }, now, from);
    }
    const { grant, peer } = await this.#o.registry.transact((db) => {
      const device = this.#o.registry.get(deviceId);
      if (device.revokedAt !== undefined)
        throw new EnrolmentError('E_DEVICE_REVOKED', `device ${deviceId} is revoked`, 409);
      if (keys.scope !== undefined && keys.scope !== device.scope)
        throw new EnrolmentError(
          'E_INVALID',
          `scope: device ${deviceId} is registered as ${device.scope}, not ${keys.scope}`,
        );
      return this.#install(db, device, keys.wgPublicKey, keys.devicePublicKey, now, from, config);
    });
    this.#o.logger.info(
      { device: deviceId, address: grant.tunnel.address, wgPublicKey: keys.wgPublicKey, from },
      'device keys registered by the admin',
    );
    await this.#applyPeer(deviceId, peer);
    return grant;
  }

  /** Enrolment state of one device (`never-enrolled` when it has no keys). */
  summary(deviceId: string): EnrolmentSummary {
    this.#o.registry.get(deviceId);
    return this.#summaryOf(rows.getKeys(this.#db, deviceId), this.#retiredOf(deviceId), this.#o.now());
  }

  /** Every device's enrolment state, by id. */
  summaries(): Map<string, EnrolmentSummary> {
    const now = this.#o.now();
    const retired = new Map<string, rows.RetiredKeyRow[]>();
    for (const r of rows.retiredKeys(this.#db))
      retired.set(r.device_id, [...(retired.get(r.device_id) ?? []), r]);
    const keys = new Map(rows.allKeys(this.#db).map((k) => [k.device_id, k]));
    return new Map(
      this.#o.registry
        .list()
        .map((d) => [d.id, this.#summaryOf(keys.get(d.id), retired.get(d.id) ?? [], now)] as const),
    );
  }

  #retiredOf(deviceId: string) {
    return rows.retiredKeys(this.#db).filter((r) => r.device_id === deviceId);
  }

  #summaryOf(
    k: rows.DeviceKeysRow | undefined,
    retired: rows.RetiredKeyRow[],
    now: number,
  ): EnrolmentSummary {
    const requested = k?.rotation_requested_at ?? null;
    const completed = k?.rotation_completed_at ?? null;
    return {
      enrolled: k !== undefined,
      tunnelAddress: k?.tunnel_address ?? null,
      wgPublicKey: k?.wg_public_key ?? null,
      deviceKid: k?.device_kid ?? null,
      enrolledAt: k?.enrolled_at ?? null,
      credentialExpiresAt: k?.credential_expires_at ?? null,
      lastRenewedAt: k?.last_renewed_at ?? null,
      renewals: k?.renewals ?? 0,
      renewal: renewalStatus(k?.credential_issued_at ?? null, k?.credential_expires_at ?? null, now),
      rotation: {
        state: rotationPending(k) ? 'requested' : completed !== null ? 'completed' : 'none',
        requestedAt: requested,
        completedAt: completed,
        retiredKeys: retired.map((r) => ({ kid: r.kid, validUntil: r.valid_until })),
      },
    };
  }

  // ---- the device's requests (signed; parsed and time-checked by the route) -------------------

  /** `POST /enrol`: one transaction; exactly one of two racing uses of a one-use token wins. */
  async enrol(req: EnrolRequest, from: RequestOrigin): Promise<EnrolmentGrant> {
    const config = this.#enabledConfig();
    const now = this.#o.now();
    const { grant, peer, deviceId } = await this.#o.registry.transact((db) => {
      const token = rows.getToken(db, req.tokenId);
      // The same answer, after the same work, for no such token and the wrong secret.
      const expected = Buffer.from(token?.secret_hash ?? '0'.repeat(64), 'hex');
      const given = Buffer.from(enrolmentSecretHash(req.secret), 'hex');
      if (!timingSafeEqual(expected, given) || !token)
        throw new EnrolmentError('E_TOKEN_UNKNOWN', 'unknown enrolment token or wrong secret');
      if (token.revoked_at !== null)
        throw new EnrolmentError('E_TOKEN_REVOKED', `enrolment token ${token.id} was withdrawn`);
      if (now >= token.expires_at)
        throw new EnrolmentError('E_TOKEN_EXPIRED', `enrolment token ${token.id} has expired`);
      if (token.uses >= token.max_uses)
        throw new EnrolmentError('E_TOKEN_USED', `enrolment token ${token.id} has been used`);
      const device = this.#o.registry.get(token.device_id);
      if (device.revokedAt !== undefined)
        throw new EnrolmentError('E_DEVICE_REVOKED', `device ${device.id} is revoked`);
      verifyRequest(req, req.devicePublicKey);
      const out = this.#install(db, device, req.wgPublicKey, req.devicePublicKey, now, from, config);
      rows.countTokenUse(db, token.id);
      return { ...out, result: { ...out.result, deviceId: device.id } };
    });
    this.#o.logger.info(
      {
        device: deviceId,
        token: req.tokenId,
        address: grant.tunnel.address,
        wgPublicKey: req.wgPublicKey,
        from,
      },
      'device enrolled',
    );
    await this.#applyPeer(deviceId, peer);
    return grant;
  }

  /** `POST /renew`: the registered key (or a retired one within its overlap) gets a new credential. */
  async renew(req: RenewRequest, from: RequestOrigin): Promise<RenewalGrant> {
    this.#enabledConfig();
    const now = this.#o.now();
    const grant = await this.#o.registry.transact((db) => {
      const { device, keys, publicKey } = this.#signedBy(db, req, now, true);
      const credential = this.#credential(db, device, publicKey, now, true, from);
      return {
        devices: [credential.device],
        result: RenewalGrant.parse({
          deviceId: device.id,
          credential: credential.token,
          credentialExpiresAt: credential.expiresAt,
          rotateKeys: rotationPending(keys),
        }),
      };
    });
    this.#o.logger.info({ device: req.deviceId, kid: req.kid, from }, 'credential renewed');
    return grant;
  }

  /** `POST /rotate`: signed by the current key and the new one; the peer's key is swapped. */
  async rotate(req: RotateRequest, from: RequestOrigin): Promise<EnrolmentGrant> {
    const config = this.#enabledConfig();
    const now = this.#o.now();
    const { grant, peer } = await this.#o.registry.transact((db) => {
      const { device, keys } = this.#signedBy(db, req, now, false);
      rows.retireKey(db, {
        deviceId: device.id,
        kid: keys.device_kid,
        publicKey: keys.device_public_key,
        now,
        validUntil: now + this.#overlapMs,
      });
      const out = this.#install(db, device, req.wgPublicKey, req.devicePublicKey, now, from, config, true);
      rows.completeRotation(db, device.id, now);
      return out;
    });
    this.#o.logger.warn(
      {
        device: req.deviceId,
        oldKid: req.kid,
        kid: keyIdOf(req.devicePublicKey),
        wgPublicKey: req.wgPublicKey,
        from,
      },
      'device keys rotated',
    );
    await this.#applyPeer(req.deviceId, peer);
    return grant;
  }

  /**
   * Which key signed a renewal or rotation: the device's current key, or (renewals only) a key a
   * rotation retired whose overlap has not ended. Then the signature, then the revocation.
   */
  #signedBy(db: Db, req: RenewRequest | RotateRequest, now: number, allowRetired: boolean) {
    const unknown = () =>
      new EnrolmentError(
        'E_UNKNOWN_KEY',
        `device request signed with key ${req.kid}, not one registered for the device`,
      );
    if (!this.#o.registry.has(req.deviceId)) throw unknown();
    const device = this.#o.registry.get(req.deviceId);
    const keys = rows.getKeys(db, device.id);
    if (!keys) throw unknown();
    let publicKey: string | undefined;
    if (keys.device_kid === req.kid) publicKey = keys.device_public_key;
    else if (allowRetired) {
      const r = rows.retiredKey(db, device.id, req.kid);
      if (r && now < r.valid_until) publicKey = r.public_key;
    }
    if (publicKey === undefined) throw unknown();
    verifyRequest(req, publicKey);
    if (device.revokedAt !== undefined)
      throw new EnrolmentError('E_DEVICE_REVOKED', `device ${device.id} is revoked`);
    return { device, keys, publicKey };
  }

  /**
   * Records the device's keys (allocating its tunnel address on its first enrolment: a device
   * keeps its own), issues its credential and builds its grant, in the caller's transaction.
   */
  #install(
    db: Db,
    device: Device,
    wgPublicKey: string,
    devicePublicKey: string,
    now: number,
    from: RequestOrigin,
    config: CheckedConfig,
    rotation = false,
  ): { devices: Device[]; result: { grant: EnrolmentGrant; peer: PeerChange } } {
    const holder = rows.keyHolder(db, device.id, wgPublicKey, devicePublicKey);
    if (holder !== undefined)
      throw new EnrolmentError(
        'E_KEY_IN_USE',
        'the WireGuard or device key is registered for another device',
      );
    const existing = rows.getKeys(db, device.id);
    let address = existing?.tunnel_address;
    if (address === undefined) {
      address = nextTunnelAddress(config.pool, rows.allocatedAddresses(db)) ?? undefined;
      if (address === undefined)
        throw new EnrolmentError(
          'E_POOL_EXHAUSTED',
          `the tunnel pool ${config.pool.text} has no address left that was never given`,
        );
      rows.recordAddress(db, address, device.id, now);
    } else if (!isDeviceAddress(config.pool, address)) {
      this.#o.logger.warn(
        { device: device.id, address, pool: config.pool.text },
        'the device keeps a tunnel address outside --tunnel-pool (the pool was changed)',
      );
    }
    const deviceKid = keyIdOf(devicePublicKey);
    // A re-enrolment or a re-registration replaces the device key at once (no overlap: the old
    // device is gone); a rotation has retired it with its overlap already.
    if (!rotation && existing && existing.device_kid !== deviceKid)
      rows.retireKey(db, {
        deviceId: device.id,
        kid: existing.device_kid,
        publicKey: existing.device_public_key,
        now,
        validUntil: now,
      });
    rows.writeKeys(db, {
      deviceId: device.id,
      wgPublicKey,
      devicePublicKey,
      deviceKid,
      address,
      now,
      rotation,
    });
    if (!rotation && existing && rotationPending(existing)) rows.completeRotation(db, device.id, now);
    const credential = this.#credential(db, device, devicePublicKey, now, false, from);
    const grant = EnrolmentGrant.parse({
      deviceId: device.id,
      profile: device.scope,
      tunnel: {
        address,
        allowedIps: [config.pool.text],
        concentratorPublicKey: config.tunnelPublicKey,
        endpoint: config.tunnelEndpoint,
        persistentKeepaliveS: config.persistentKeepaliveS ?? ENROLMENT_DEFAULTS.persistentKeepaliveS,
      },
      gatewayUrl: config.tunnelGatewayUrl,
      ...(config.tunnelGatewayCertSha256 && { gatewayCertSha256: config.tunnelGatewayCertSha256 }),
      signalKeys: config.signalKeys,
      controlKeys: [exportPublicKey(this.#o.signer.publicKey)],
      credential: credential.token,
      credentialExpiresAt: credential.expiresAt,
      rotateKeys: false,
    });
    const peer: PeerChange =
      existing && existing.wg_public_key !== wgPublicKey
        ? { op: 'swap', oldKey: existing.wg_public_key, key: wgPublicKey, address }
        : { op: 'add', key: wgPublicKey, address };
    return { devices: [credential.device], result: { grant, peer } };
  }

  /** A credential bound to `cnf`, recorded (its expiry on the keys row, its fingerprint in the registry). */
  #credential(db: Db, device: Device, cnf: string, now: number, renewal: boolean, from: RequestOrigin) {
    const ttlMs = this.#o.credentialTtlMs;
    const token = issueDeviceToken(
      { sub: device.id, scope: device.scope, iat: now, ttlMs, cnf },
      this.#o.signer,
    );
    rows.recordCredential(db, device.id, now, now + ttlMs, renewal);
    const issue: TokenIssue = {
      issuedAt: now,
      expiresAt: now + ttlMs,
      fingerprint: createHash('sha256').update(token).digest('hex').slice(0, 16),
      from,
    };
    return { token, expiresAt: now + ttlMs, device: this.#o.registry.withToken(device, issue) };
  }

  async #applyPeer(deviceId: string, peer: PeerChange): Promise<void> {
    try {
      if (peer.op === 'add') await this.#o.concentrator.addPeer(peer.key, peer.address);
      else await this.#o.concentrator.swapPeer(peer.oldKey, peer.key, peer.address);
    } catch (err) {
      this.#o.logger.error(
        { device: deviceId, op: peer.op, wgPublicKey: peer.key, address: peer.address, err },
        'CONCENTRATOR PEER CHANGE FAILED: the device has no tunnel until the peer is set (restart the control server to reconcile, or wg set by hand)',
      );
    }
  }

  // ---- revocation and the concentrator --------------------------------------------------------

  /**
   * After devices were revoked (committed): their peers leave the concentrator and their tunnel
   * addresses go to the deny hook. (Their enrolment tokens were withdrawn in the revoking
   * transaction, through the registry's `onRevoke`.)
   */
  async afterRevoke(ids: string[]): Promise<void> {
    for (const id of ids) {
      const k = rows.getKeys(this.#db, id);
      if (!k) continue;
      try {
        await this.#o.concentrator.removePeer(k.wg_public_key);
      } catch (err) {
        this.#o.logger.error(
          { device: id, wgPublicKey: k.wg_public_key, err },
          'CONCENTRATOR PEER REMOVAL FAILED for a revoked device: remove it by hand (wg set … peer … remove); it is retried at the next start',
        );
      }
      if (this.#o.denyTunnelAddress)
        try {
          await this.#o.denyTunnelAddress(k.tunnel_address);
        } catch (err) {
          this.#o.logger.error(
            { device: id, address: k.tunnel_address, err },
            "DENYING A REVOKED DEVICE'S TUNNEL ADDRESS FAILED",
          );
        }
    }
  }

  /** Key ids whose overlap has ended: the revocation control message's `keys`. */
  revokedKeyIds(): string[] {
    return rows.endedKids(this.#db, this.#o.now());
  }

  /**
   * At start, with a real interface: adds every active device's peer (idempotent) and removes
   * revoked devices' peers, so a change that failed after its commit is made now.
   */
  reconcile(): Promise<ReconcileResult> {
    return reconcilePeers({
      keys: rows.allKeys(this.#db),
      revoked: (deviceId) => this.#o.registry.get(deviceId).revokedAt !== undefined,
      concentrator: this.#o.concentrator,
      logger: this.#o.logger,
    });
  }
}
