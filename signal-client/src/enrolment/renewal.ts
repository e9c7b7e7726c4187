import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import {
  Backoff,
  RenewalGrant,
  publicKeyOf,
  signDeviceRequest,
  signerFromPem,
  type EnrolmentGrant,
  type RenewRequest,
  type RotateRequest,
  type Signer,
} from '@appliance/protocol';
import { readFileIfExists } from '@appliance/runtime';
import { parseGrant } from './enrol.js';
import {
  credentialClaims,
  fileExists,
  loadOrCreateKeys,
  readEnrolmentRecord,
  readKeyFiles,
  removeDurable,
  renameDurable,
  renderDeviceWgConf,
  statePath,
  writeEnrolmentRecord,
  writeSecretFile,
  type DeviceKeys,
  type EnrolmentRecord,
} from './files.js';
import { callEnrolment, EnrolmentClientError, type PinnedEndpoint } from './https.js';

/** Default pace of the renewal check: credentials live weeks, a check an hour is plenty. */
const DEFAULT_RENEW_CHECK_MS = 3_600_000;

export interface EnrolledDeviceOptions {
  stateDir: string;
  logger: Logger;
  /** How often the credential's remaining life is checked (and a failed renewal retried at most). */
  renewCheckMs?: number;
  /** The live WireGuard interface a rotated key is applied to; false: none (only wg0.conf is rewritten). */
  wgInterface?: string | false;
  /** Timeout of one request to the enrolment endpoint. */
  timeoutMs?: number;
  now?: () => number;
  random?: () => number;
  /** Runs `wg ARGS` (injected in tests); default: the `wg` on PATH. */
  runWg?: (args: string[]) => Promise<void>;
}

/** What the status page and telemetry can show about the credential (no secret in it). */
export interface CredentialStatus {
  deviceId: string;
  expiresAt: number;
  renewedAt: number | null;
  rotatedAt: number | null;
  /** The last renewal or rotation failure, until one succeeds. */
  lastError: string | null;
  lastErrorAt: number | null;
}

/** The live credential, read at each connection attempt. */
export interface LiveCredential {
  deviceId: string;
  credential: string;
  deviceKey: Signer;
}

const defaultRunWg = (args: string[]) =>
  new Promise<void>((resolve, reject) =>
    execFile('wg', args, { timeout: 10_000 }, (err, _stdout, stderr) =>
      err ? reject(Object.assign(err, { stderr: String(stderr).trim() })) : resolve(),
    ),
  );

/**
 * An enrolled device's identity and credential: loads the state folder, renews the credential
 * (`POST <url>/renew`, signed by the device key) when less than a third of its life is left, it
 * expired, or a gateway refused it (401), and rotates the keys when a renewal says so. Every
 * change is written durably before it is used; the gateway connection reads `current()` at each
 * attempt, so the next connection uses the new credential.
 */
export class EnrolledDevice {
  #record: EnrolmentRecord;
  #keys: DeviceKeys;
  readonly #o: EnrolledDeviceOptions;
  readonly #now: () => number;
  readonly #backoff: Backoff;
  #timer: NodeJS.Timeout | undefined;
  #stopped = true;
  #inflight: Promise<void> | undefined;
  #inflightRotation: Promise<void> | undefined;
  #refused = false;
  /** A check (renewal, rotation) is running: never two at once (they write the same files). */
  #ticking = false;
  #lastAttemptAt: number | undefined;
  #lastError: { text: string; at: number } | undefined;
  /** Called with a plain-language line when a renewal or rotation fails (telemetry's error list). */
  onProblem: ((text: string) => void) | undefined;

  private constructor(o: EnrolledDeviceOptions, record: EnrolmentRecord, keys: DeviceKeys) {
    this.#o = o;
    this.#record = record;
    this.#keys = keys;
    this.#now = o.now ?? Date.now;
    const check = this.#checkMs;
    this.#backoff = new Backoff(
      { initialMs: Math.min(check, 30_000), maxMs: check, jitter: 'equal' },
      o.random ?? Math.random,
    );
  }

  /**
   * Reads `enrolment.json` and the keys; throws an Error saying what is wrong (not enrolled: run
   * `signal-client enrol`). A rotation interrupted by a crash is finished or retried by `prepare`.
   */
  static async open(o: EnrolledDeviceOptions): Promise<EnrolledDevice> {
    const dir = o.stateDir;
    const record = await readEnrolmentRecord(dir);
    if (!record)
      throw new Error(
        `${statePath(dir, 'enrolment')} does not exist: this device is not enrolled; run \`signal-client enrol --token <token> --state-dir ${dir}\``,
      );
    const keys = await readKeyFiles(statePath(dir, 'deviceKey'), statePath(dir, 'wgKey'));
    if (!keys)
      throw new Error(
        `${statePath(dir, 'deviceKey')} and ${statePath(dir, 'wgKey')} are missing: the device's identity is lost; re-enrol it as a new device`,
      );
    return new EnrolledDevice(o, record, keys);
  }

  get #checkMs(): number {
    return this.#o.renewCheckMs ?? DEFAULT_RENEW_CHECK_MS;
  }

  get #endpoint(): PinnedEndpoint {
    const r = this.#record;
    return {
      url: r.enrolUrl,
      pin: r.pin,
      ...(r.serverName !== undefined ? { serverName: r.serverName } : {}),
    };
  }

  get record(): EnrolmentRecord {
    return this.#record;
  }

  get grant(): EnrolmentGrant {
    return this.#record.grant;
  }

  current(): LiveCredential {
    return {
      deviceId: this.#record.grant.deviceId,
      credential: this.#record.grant.credential,
      deviceKey: this.#keys.deviceKey,
    };
  }

  status(): CredentialStatus {
    const r = this.#record;
    return {
      deviceId: r.grant.deviceId,
      expiresAt: this.#expiry().exp,
      renewedAt: r.renewedAt ?? null,
      rotatedAt: r.rotatedAt ?? null,
      lastError: this.#lastError?.text ?? null,
      lastErrorAt: this.#lastError?.at ?? null,
    };
  }

  /** The credential's issue and expiry times (its claims; the grant's expiry if unreadable). */
  #expiry(): { iat: number; exp: number } {
    const r = this.#record;
    const claims = credentialClaims(r.grant.credential);
    return {
      exp: claims?.exp ?? r.grant.credentialExpiresAt,
      iat: claims?.iat ?? r.renewedAt ?? r.enrolledAt,
    };
  }

  /** Why a renewal is due now, or undefined. */
  #due(): string | undefined {
    const { iat, exp } = this.#expiry();
    const now = this.#now();
    if (now >= exp) return 'expired';
    if (this.#refused) return 'refused by the gateway';
    if (now >= exp - (exp - iat) / 3) return 'less than a third of its life left';
    return undefined;
  }

  /**
   * Before the first connection: finishes or retries a rotation a crash interrupted, and renews
   * an expired credential. A failure is logged and left to the loop's retries (never thrown).
   */
  async prepare(): Promise<void> {
    try {
      await this.#resumeRotation();
      const why = this.#due();
      if (why === 'expired') await this.renew(why);
      else if (this.#record.grant.rotateKeys) await this.rotate();
    } catch {
      // recorded and logged by renew/rotate; the loop retries
    }
  }

  /** Starts the loop: a check now, then every `renewCheckMs`; failures retried with backoff. */
  start(): void {
    this.#stopped = false;
    this.#schedule(0);
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  /** The gateway refused a connection: with 401 the credential is renewed (at once unless just tried). */
  refused(status: number): void {
    if (status !== 401 || this.#refused) return;
    this.#refused = true;
    if (this.#stopped || this.#ticking || this.#inflight || this.#inflightRotation) return;
    const since = this.#lastAttemptAt === undefined ? Infinity : this.#now() - this.#lastAttemptAt;
    if (this.#backoff.attempt === 0 && since >= Math.min(this.#checkMs, 60_000)) this.#schedule(0);
  }

  #schedule(delayMs: number): void {
    clearTimeout(this.#timer);
    if (this.#stopped) return;
    this.#timer = setTimeout(() => void this.#tick(), delayMs);
    this.#timer.unref();
  }

  async #tick(): Promise<void> {
    if (this.#ticking) return;
    this.#ticking = true;
    let delay = this.#checkMs;
    try {
      await this.#resumeRotation();
      const why = this.#due();
      if (why) await this.renew(why);
      else if (this.#record.grant.rotateKeys) await this.rotate();
      this.#backoff.reset();
    } catch {
      delay = this.#backoff.next();
    } finally {
      this.#ticking = false;
    }
    this.#schedule(delay);
  }

  /** Renews the credential now (and rotates the keys if the answer says so). Throws on failure. */
  renew(reason = 'asked'): Promise<void> {
    this.#inflight ??= this.#renew(reason).finally(() => (this.#inflight = undefined));
    return this.#inflight;
  }

  async #renew(reason: string): Promise<void> {
    this.#lastAttemptAt = this.#now();
    let grant: RenewalGrant;
    try {
      grant = await this.#renewWith(this.#keys.deviceKey);
    } catch (err) {
      throw this.#failed('credential renewal failed', err);
    }
    // Durable first: the connection reads the new credential only once it is on disk.
    const record: EnrolmentRecord = {
      ...this.#record,
      grant: {
        ...this.#record.grant,
        credential: grant.credential,
        credentialExpiresAt: grant.credentialExpiresAt,
        rotateKeys: grant.rotateKeys,
      },
      renewedAt: this.#now(),
    };
    await writeEnrolmentRecord(this.#o.stateDir, record);
    this.#record = record;
    this.#refused = false;
    this.#lastError = undefined;
    this.#o.logger.info(
      { reason, expiresAt: new Date(grant.credentialExpiresAt).toISOString(), rotateKeys: grant.rotateKeys },
      'device credential renewed',
    );
    if (grant.rotateKeys) await this.rotate();
  }

  async #renewWith(key: Signer): Promise<RenewalGrant> {
    const deviceId = this.#record.grant.deviceId;
    const request = signDeviceRequest<RenewRequest>({ typ: 'renew', deviceId }, key, this.#now());
    const answer = await callEnrolment(this.#endpoint, '/renew', request, this.#o.timeoutMs);
    const parsed = RenewalGrant.safeParse(answer);
    if (!parsed.success || parsed.data.deviceId !== deviceId)
      throw new Error(
        parsed.success
          ? `the renewal answer is for ${parsed.data.deviceId}, not ${deviceId}`
          : `the renewal answer is not a RenewalGrant: ${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}`,
      );
    return parsed.data;
  }

  #failed(what: string, err: unknown): Error {
    const detail = err instanceof Error ? err.message : String(err);
    const code = (err as { code?: unknown }).code;
    const text = `${what}: ${typeof code === 'string' && !detail.startsWith(code) ? `${code}: ` : ''}${detail}`;
    this.#lastError = { text, at: this.#now() };
    this.#o.logger.warn({ code }, text);
    this.onProblem?.(text);
    return err instanceof Error ? err : new Error(text);
  }

  #path(file: Parameters<typeof statePath>[1]): string {
    return statePath(this.#o.stateDir, file);
  }

  /**
   * Key rotation: new keys written durably under `.next` names first (reused if a crash left
   * them), `POST <url>/rotate` signed by the old key and the new one, then the new grant, the
   * tunnel config and the key files replaced, and the new WireGuard key applied to the interface.
   */
  async rotate(): Promise<void> {
    this.#inflightRotation ??= this.#rotate().finally(() => (this.#inflightRotation = undefined));
    return this.#inflightRotation;
  }

  async #rotate(): Promise<void> {
    try {
      await this.#dropHalfMadeNextKeys();
      const { keys: next, reused } = await loadOrCreateKeys(
        this.#path('nextDeviceKey'),
        this.#path('nextWgKey'),
      );
      const request = signDeviceRequest<RotateRequest>(
        {
          typ: 'rotate',
          deviceId: this.#record.grant.deviceId,
          wgPublicKey: next.wg.publicKey,
          devicePublicKey: publicKeyOf(next.deviceKey),
        },
        this.#keys.deviceKey,
        this.#now(),
        next.deviceKey,
      );
      let grant: EnrolmentGrant;
      try {
        grant = parseGrant(
          await callEnrolment(this.#endpoint, '/rotate', request, this.#o.timeoutMs),
          'rotate',
        );
      } catch (err) {
        // A retry after a crash: the server may have switched to the new key already and refuse
        // the repeat; a renewal signed by the new key then tells, and completes the rotation.
        if (!(reused && err instanceof EnrolmentClientError && err.code === 'E_ENROL_REFUSED')) throw err;
        const renewed = await this.#renewWith(next.deviceKey).catch(() => undefined);
        if (!renewed) throw err;
        grant = { ...this.#record.grant, ...renewed };
      }
      // enrolment.json first: from here on, its credential bound to the new key says the
      // rotation happened, and a restart finishes it locally (see #resumeRotation).
      const record = { ...this.#record, grant, renewedAt: this.#now(), rotatedAt: this.#now() };
      await writeEnrolmentRecord(this.#o.stateDir, record);
      // The credential and the key it is bound to change together, for the next proof.
      this.#record = record;
      this.#keys = next;
      await this.#finishRotation();
      this.#lastError = undefined;
      this.#o.logger.info({ kid: next.deviceKey.kid }, 'device keys rotated');
    } catch (err) {
      throw this.#failed('key rotation failed', err);
    }
  }

  /** `wg-private.next.key` alone: a crash while the new keys were made, before anything was sent. */
  async #dropHalfMadeNextKeys(): Promise<void> {
    if (!(await fileExists(this.#path('nextDeviceKey'))) && (await fileExists(this.#path('nextWgKey'))))
      await removeDurable(this.#o.stateDir, this.#path('nextWgKey'));
  }

  /**
   * After a crash in a rotation: `device-key.next.pem` with enrolment.json's credential bound to
   * it means the server answered and only the local files are left to replace; without that,
   * the rotation is sent again with the same new keys (a server that already took it and
   * refuses the repeat is asked for a renewal signed by the new key instead: see #rotate).
   */
  async #resumeRotation(): Promise<void> {
    let next: Signer | undefined;
    try {
      const nextPem = await readFileIfExists(this.#path('nextDeviceKey'));
      if (nextPem === undefined) return await this.#dropHalfMadeNextKeys();
      next = signerFromPem(nextPem);
    } catch (err) {
      throw this.#failed(`reading ${this.#path('nextDeviceKey')} failed`, err);
    }
    if (credentialClaims(this.#record.grant.credential)?.cnf === publicKeyOf(next)) {
      this.#o.logger.info('finishing a key rotation interrupted by a restart');
      try {
        await this.#finishRotation();
      } catch (err) {
        throw this.#failed('finishing a key rotation failed', err);
      }
    } else {
      this.#o.logger.info('retrying a key rotation interrupted by a restart');
      await this.rotate();
    }
  }

  /** enrolment.json holds the new grant: rewrite wg0.conf, replace the key files, apply the key. */
  async #finishRotation(): Promise<void> {
    const dir = this.#o.stateDir;
    const wgNext = await readFileIfExists(this.#path('nextWgKey'));
    const wgPrivate = (wgNext ?? (await readFile(this.#path('wgKey'), 'utf8'))).trim();
    await writeSecretFile(this.#path('wgConf'), renderDeviceWgConf(this.#record.grant, wgPrivate));
    // The WireGuard key first, then the device key: `device-key.next.pem` is the last to go, so
    // while it exists a restart knows to come here.
    if (wgNext !== undefined) await renameDurable(dir, this.#path('nextWgKey'), this.#path('wgKey'));
    if (await fileExists(this.#path('nextDeviceKey')))
      await renameDurable(dir, this.#path('nextDeviceKey'), this.#path('deviceKey'));
    const keys = await readKeyFiles(this.#path('deviceKey'), this.#path('wgKey'));
    if (keys) this.#keys = keys;
    await this.#applyWg();
  }

  async #applyWg(): Promise<void> {
    const iface = this.#o.wgInterface ?? 'wg0';
    const conf = this.#path('wgConf');
    if (iface === false) {
      this.#o.logger.warn(
        { conf },
        'the tunnel configuration was rewritten with the new WireGuard key; no interface is configured (enrolment.wgInterface is false): apply it',
      );
      return;
    }
    try {
      await (this.#o.runWg ?? defaultRunWg)(['set', iface, 'private-key', this.#path('wgKey')]);
      this.#o.logger.info({ iface }, 'new WireGuard private key applied to the interface');
    } catch (err) {
      const e = err as NodeJS.ErrnoException & { stderr?: string };
      this.#o.logger.warn(
        { iface, conf, err: e.code === 'ENOENT' ? 'wg not found' : (e.stderr ?? e.message) },
        `the tunnel configuration was rewritten with the new WireGuard key but could not be applied: run \`wg set ${iface} private-key ${this.#path('wgKey')}\` (or restart the tunnel)`,
      );
    }
  }
}
