import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { errorClass } from '@appliance/errors';
import { readFileIfExists, writeFileDurable } from '@appliance/runtime';
import { RequestOrigin } from './audit.js';

const epochMs = z.number().int().nonnegative();

/** Newest first is what the operator reads; older entries beyond these are dropped. */
const MAX_TOKEN_HISTORY = 50;
const MAX_PAPER_ACCOUNT_HISTORY = 20;

/** One device token as issued: when, until when, from where, and a fingerprint (never the token). */
export const TokenIssue = z.strictObject({
  issuedAt: epochMs,
  expiresAt: epochMs,
  /** First 16 hex digits of the token's SHA-256. */
  fingerprint: z.string().regex(/^[0-9a-f]{16}$/),
  from: RequestOrigin,
});
export type TokenIssue = z.infer<typeof TokenIssue>;

/** A paper-exchange account created for the device: only the API key's first 4 characters. */
export const PaperAccountIssue = z.strictObject({
  createdAt: epochMs,
  apiKeyPrefix: z.string().max(4),
  from: RequestOrigin,
});
export type PaperAccountIssue = z.infer<typeof PaperAccountIssue>;

export const Device = z.strictObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9-]{2,63}$/, 'device id: 3-64 lowercase letters, digits and -'),
  scope: z.string().regex(/^(family|mandate:[a-z0-9-]{1,32})$/, 'scope: family or mandate:<name>'),
  label: z.string().max(100).default(''),
  createdAt: epochMs,
  /** Absent for devices registered before the registry kept it. */
  createdFrom: RequestOrigin.optional(),
  /** Set once its credentials are withdrawn; a revoked device is never un-revoked (re-enrol it). */
  revokedAt: epochMs.optional(),
  revokedFrom: RequestOrigin.optional(),
  /** Every token issued for it, oldest first (the last MAX_TOKEN_HISTORY). */
  tokens: z.array(TokenIssue).max(MAX_TOKEN_HISTORY).default([]),
  paperAccounts: z.array(PaperAccountIssue).max(MAX_PAPER_ACCOUNT_HISTORY).default([]),
});
export type Device = z.infer<typeof Device>;

const RegistryFile = z.strictObject({ v: z.literal(1), devices: z.array(Device) });

const REGISTRY_ERROR_CODES = {
  E_DEVICE_EXISTS: 'a device with this id exists',
  E_DEVICE_UNKNOWN: 'no device has this id',
  E_INVALID: 'the device does not match its schema',
  E_REGISTRY_CORRUPT: 'the registry file cannot be read or parsed',
} as const;

export class RegistryError extends errorClass('RegistryError', REGISTRY_ERROR_CODES) {}

/** The devices this control plane knows, in a JSON file written durably on every change. */
export class DeviceRegistry {
  readonly #devices = new Map<string, Device>();
  /** Changes are applied and saved one at a time: two requests never write the file at once. */
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(readonly path: string | undefined) {}

  static async open(path?: string): Promise<DeviceRegistry> {
    const reg = new DeviceRegistry(path);
    const text = path ? await readFileIfExists(path) : undefined;
    if (text !== undefined) {
      let parsed;
      try {
        parsed = RegistryFile.parse(JSON.parse(text));
      } catch (err) {
        throw new RegistryError(
          'E_REGISTRY_CORRUPT',
          `device registry ${path} is unreadable: ${(err as Error).message.slice(0, 200)}`,
        );
      }
      for (const d of parsed.devices) reg.#devices.set(d.id, d);
    }
    return reg;
  }

  async create(
    input: { id: string; scope?: string; label?: string },
    now: number,
    from?: RequestOrigin,
  ): Promise<Device> {
    const parsed = Device.safeParse({
      ...input,
      scope: input.scope ?? 'family',
      label: input.label ?? '',
      createdAt: now,
      createdFrom: from,
    });
    if (!parsed.success) {
      const i = parsed.error.issues[0];
      throw new RegistryError('E_INVALID', `${i?.path.join('.')}: ${i?.message}`);
    }
    const device = parsed.data;
    return this.#change(() => {
      if (this.#devices.has(device.id))
        throw new RegistryError('E_DEVICE_EXISTS', `device ${device.id} already exists`);
      return [device];
    }).then(([d]) => d!);
  }

  /** Withdraws a device's credentials; revoking twice keeps the first time. */
  async revoke(id: string, now: number, from?: RequestOrigin): Promise<Device> {
    this.get(id);
    const { revoked, alreadyRevoked } = await this.revokeMany([id], now, from);
    return revoked[0] ?? alreadyRevoked[0]!;
  }

  /** Revokes several devices with one write; unknown ids are returned, not thrown. */
  async revokeMany(
    ids: string[],
    now: number,
    from?: RequestOrigin,
  ): Promise<{ revoked: Device[]; alreadyRevoked: Device[]; unknown: string[] }> {
    const out = { revoked: [] as Device[], alreadyRevoked: [] as Device[], unknown: [] as string[] };
    await this.#change(() => {
      const changed: Device[] = [];
      for (const id of new Set(ids)) {
        const d = this.#devices.get(id);
        if (!d) out.unknown.push(id);
        else if (d.revokedAt !== undefined) out.alreadyRevoked.push(d);
        else changed.push({ ...d, revokedAt: now, ...(from && { revokedFrom: from }) });
      }
      out.revoked = changed;
      return changed;
    });
    return out;
  }

  /** Records a token issued for a device (the last MAX_TOKEN_HISTORY are kept). */
  async recordToken(id: string, issue: TokenIssue): Promise<Device> {
    const [d] = await this.#change(() => {
      const d = this.get(id);
      return [{ ...d, tokens: [...d.tokens, issue].slice(-MAX_TOKEN_HISTORY) }];
    });
    return d!;
  }

  async recordPaperAccount(id: string, account: PaperAccountIssue): Promise<Device> {
    const [d] = await this.#change(() => {
      const d = this.get(id);
      return [{ ...d, paperAccounts: [...d.paperAccounts, account].slice(-MAX_PAPER_ACCOUNT_HISTORY) }];
    });
    return d!;
  }

  revokedIds(): string[] {
    return this.list()
      .filter((d) => d.revokedAt !== undefined)
      .map((d) => d.id);
  }

  has(id: string): boolean {
    return this.#devices.has(id);
  }

  get(id: string): Device {
    const d = this.#devices.get(id);
    if (!d) throw new RegistryError('E_DEVICE_UNKNOWN', `no device ${id}`);
    return d;
  }

  list(): Device[] {
    return [...this.#devices.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  /**
   * Applies the devices `change` returns (computed when its turn comes) and saves; if the save
   * fails, nothing changed.
   */
  #change(change: () => Device[]): Promise<Device[]> {
    const run = this.#queue.then(async () => {
      const next = change();
      if (next.length === 0) return next;
      const before = next.map((d) => [d.id, this.#devices.get(d.id)] as const);
      for (const d of next) this.#devices.set(d.id, d);
      try {
        await this.#save();
      } catch (err) {
        for (const [id, old] of before) {
          if (old) this.#devices.set(id, old);
          else this.#devices.delete(id);
        }
        throw err;
      }
      return next;
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #save(): Promise<void> {
    if (!this.path) return;
    await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
    await writeFileDurable(this.path, JSON.stringify({ v: 1, devices: this.list() }, null, 2));
  }
}
