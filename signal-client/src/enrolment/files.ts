import { chmod, mkdir, open, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import {
  DeviceTokenClaims,
  EnrolmentGrant,
  exportPrivateKeyPem,
  generateSigner,
  grantWgConf,
  signerFromPem,
  type Signer,
} from '@appliance/protocol';
import { readFileIfExists, writeFileDurable } from '@appliance/runtime';
import { generateWgKeyPair, wgPublicKeyOf, type WgKeyPair } from '@appliance/wireguard/keys';

/**
 * The device's enrolment state folder (`enrolment.stateDir`), every file mode 0600:
 *
 * - `device-key.pem`: the Ed25519 device key (PKCS#8 PEM): the device's identity
 * - `wg-private.key`: the WireGuard private key, as `wg genkey` prints it
 * - `enrolment.json`: the grant (tunnel, gateway, pinned keys, the credential: a bearer secret
 *   bound to the device key) and where to renew it (the enrolment URL, pin and server name)
 * - `wg0.conf`: the device's WireGuard configuration (it holds the private key)
 * - `device-key.next.pem`, `wg-private.next.key`: only during a key rotation
 *
 * Private keys are written before anything is sent, so a crash after the server answered never
 * loses the identity the server registered.
 */
export const STATE_FILES = {
  deviceKey: 'device-key.pem',
  wgKey: 'wg-private.key',
  enrolment: 'enrolment.json',
  wgConf: 'wg0.conf',
  nextDeviceKey: 'device-key.next.pem',
  nextWgKey: 'wg-private.next.key',
} as const;

export const statePath = (dir: string, file: keyof typeof STATE_FILES): string =>
  join(dir, STATE_FILES[file]);

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/);

/** `enrolment.json`: what the server granted, and where to go back for renewals and rotations. */
export const EnrolmentRecord = z.strictObject({
  v: z.literal(1),
  /** The enrolment endpoint (the ticket's `url`), for /renew and /rotate. */
  enrolUrl: z.string().regex(/^https:\/\/[^/?#]+\/?$/),
  /** SHA-256 of the enrolment endpoint's certificate (the ticket's `pin`): its only trust anchor. */
  pin: sha256Hex,
  /** The ticket's `serverName`, if it had one (SNI for the enrolment endpoint). */
  serverName: z.string().min(1).max(253).optional(),
  grant: EnrolmentGrant,
  enrolledAt: z.number().int().nonnegative(),
  /** Last successful renewal (or rotation). */
  renewedAt: z.number().int().nonnegative().optional(),
  rotatedAt: z.number().int().nonnegative().optional(),
});
export type EnrolmentRecord = z.infer<typeof EnrolmentRecord>;

/** Writes `data` durably (temporary file, fsync, rename, fsync of the folder), mode 0600. */
export async function writeSecretFile(path: string, data: string): Promise<void> {
  await writeFileDurable(path, data);
  await chmod(path, 0o600); // made 0600 already; said again so that no umask or older file decides
}

/** Renames `from` over `to` and makes the rename durable (fsync of the folder). */
export async function renameDurable(dir: string, from: string, to: string): Promise<void> {
  await rename(from, to);
  const dh = await open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}

export async function removeDurable(dir: string, path: string): Promise<void> {
  await unlink(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
  const dh = await open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}

/** The state folder, created if missing, and made 0700 (it holds the device's private keys). */
export async function ensureStateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const s = await stat(dir);
  if (!s.isDirectory()) throw new Error(`${dir} is not a folder`);
  await chmod(dir, 0o700);
}

export async function fileExists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

// ---- WireGuard keys ---------------------------------------------------------------------------
// From @appliance/wireguard's keys subpath alone (node:crypto, no templates), so the device's
// single-file executable carries no Handlebars.
export { generateWgKeyPair, wgPublicKeyOf as wgPublicKey };

// ---- the device's keys ------------------------------------------------------------------------

export interface DeviceKeys {
  deviceKey: Signer;
  wg: WgKeyPair;
}

/** Reads a device key and a WireGuard key from their files; undefined when neither exists. */
export async function readKeyFiles(
  deviceKeyFile: string,
  wgKeyFile: string,
): Promise<DeviceKeys | undefined> {
  const pem = await readFileIfExists(deviceKeyFile);
  const wg = await readFileIfExists(wgKeyFile);
  if (pem === undefined && wg === undefined) return undefined;
  if (pem === undefined || wg === undefined)
    throw new Error(
      `${pem === undefined ? deviceKeyFile : wgKeyFile} is missing while ${pem === undefined ? wgKeyFile : deviceKeyFile} exists`,
    );
  const privateKey = wg.trim();
  return { deviceKey: signerFromPem(pem), wg: { privateKey, publicKey: wgPublicKeyOf(privateKey) } };
}

/**
 * The keys in `deviceKeyFile` and `wgKeyFile`: read when both exist (a retry after a crash),
 * else made here and written durably (0600) before they are used for anything.
 */
export async function loadOrCreateKeys(
  deviceKeyFile: string,
  wgKeyFile: string,
): Promise<{ keys: DeviceKeys; reused: boolean }> {
  const existing = await readKeyFiles(deviceKeyFile, wgKeyFile);
  if (existing) return { keys: existing, reused: true };
  const keys: DeviceKeys = { deviceKey: generateSigner(), wg: generateWgKeyPair() };
  await writeSecretFile(wgKeyFile, `${keys.wg.privateKey}\n`);
  await writeSecretFile(deviceKeyFile, exportPrivateKeyPem(keys.deviceKey));
  return { keys, reused: false };
}

// ---- enrolment.json ---------------------------------------------------------------------------

export async function readEnrolmentRecord(dir: string): Promise<EnrolmentRecord | undefined> {
  const text = await readFileIfExists(statePath(dir, 'enrolment'));
  if (text === undefined) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new Error(`${statePath(dir, 'enrolment')} is not JSON`);
  }
  const parsed = EnrolmentRecord.safeParse(raw);
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    throw new Error(`${statePath(dir, 'enrolment')}: ${i?.path.join('.') || '(root)'}: ${i?.message}`);
  }
  return parsed.data;
}

export async function writeEnrolmentRecord(dir: string, record: EnrolmentRecord): Promise<void> {
  await writeSecretFile(
    statePath(dir, 'enrolment'),
    `${JSON.stringify(EnrolmentRecord.parse(record), null, 2)}\n`,
  );
}

/** The claims of the device's own credential, signature unchecked (for its times only). */
export function credentialClaims(credential: string): DeviceTokenClaims | undefined {
  const head = credential.split('.')[0];
  if (!head) return undefined;
  try {
    const parsed = DeviceTokenClaims.safeParse(JSON.parse(Buffer.from(head, 'base64url').toString('utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

// ---- wg0.conf ---------------------------------------------------------------------------------

/** The device's WireGuard configuration (wg-quick format), from its grant and private key. */
export function renderDeviceWgConf(grant: EnrolmentGrant, privateKey: string): string {
  return grantWgConf(grant, privateKey, 'signal-client enrol');
}
