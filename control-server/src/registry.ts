import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { readFileIfExists, writeFileDurable } from '@appliance/runtime';

export const Device = z.strictObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9-]{2,63}$/, 'device id: 3-64 lowercase letters, digits and -'),
  scope: z.string().regex(/^(family|mandate:[a-z0-9-]{1,32})$/, 'scope: family or mandate:<name>'),
  label: z.string().max(100).default(''),
  createdAt: z.number().int(),
  /** Set once its credentials are withdrawn; a revoked device is never un-revoked (re-enrol it). */
  revokedAt: z.number().int().optional(),
});
export type Device = z.infer<typeof Device>;

const RegistryFile = z.strictObject({ v: z.literal(1), devices: z.array(Device) });

export class RegistryError extends Error {
  override readonly name = 'RegistryError';
  constructor(
    readonly code: 'E_DEVICE_EXISTS' | 'E_DEVICE_UNKNOWN' | 'E_INVALID' | 'E_REGISTRY_CORRUPT',
    message: string,
  ) {
    super(message);
  }
}

/** The devices this control plane knows, in a JSON file written durably on every change. */
export class DeviceRegistry {
  readonly #devices = new Map<string, Device>();

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

  async create(input: { id: string; scope?: string; label?: string }, now: number): Promise<Device> {
    const parsed = Device.safeParse({
      ...input,
      scope: input.scope ?? 'family',
      label: input.label ?? '',
      createdAt: now,
    });
    if (!parsed.success) {
      const i = parsed.error.issues[0];
      throw new RegistryError('E_INVALID', `${i?.path.join('.')}: ${i?.message}`);
    }
    if (this.#devices.has(parsed.data.id))
      throw new RegistryError('E_DEVICE_EXISTS', `device ${parsed.data.id} already exists`);
    this.#devices.set(parsed.data.id, parsed.data);
    try {
      await this.#save();
    } catch (err) {
      this.#devices.delete(parsed.data.id); // not saved: not created
      throw err;
    }
    return parsed.data;
  }

  /** Withdraws a device's credentials; revoking twice keeps the first time. */
  async revoke(id: string, now: number): Promise<Device> {
    const device = this.get(id);
    if (device.revokedAt !== undefined) return device;
    const revokedDevice = { ...device, revokedAt: now };
    this.#devices.set(id, revokedDevice);
    try {
      await this.#save();
    } catch (err) {
      this.#devices.set(id, device); // not saved: not revoked
      throw err;
    }
    return revokedDevice;
  }

  revokedIds(): string[] {
    return this.list()
      .filter((d) => d.revokedAt !== undefined)
      .map((d) => d.id);
  }

  get(id: string): Device {
    const d = this.#devices.get(id);
    if (!d) throw new RegistryError('E_DEVICE_UNKNOWN', `no device ${id}`);
    return d;
  }

  list(): Device[] {
    return [...this.#devices.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  async #save(): Promise<void> {
    if (!this.path) return;
    await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
    await writeFileDurable(this.path, JSON.stringify({ v: 1, devices: this.list() }, null, 2));
  }
}
