import { KeystoreError } from './errors.js';
import { decodeKeys, encodeKeys, validateKeys, type ExchangeKeys } from './keys.js';
import type { Keystore } from './keystore.js';

/** The part of keytar's API used here, typed locally because keytar may not be installed. */
export interface KeytarModule {
  getPassword(service: string, account: string): Promise<string | null>;
  setPassword(service: string, account: string, password: string): Promise<void>;
  deletePassword(service: string, account: string): Promise<boolean>;
}

/** The keychain entry's account name under the configured service. */
export const KEYTAR_ACCOUNT = 'exchange-api';

/**
 * keytar is an optional dependency (archived upstream, and a native addon that npm drops
 * where libsecret-1-dev is missing), so it is imported by a name tsc does not resolve and
 * only when this backend is chosen.
 */
export async function loadKeytar(): Promise<KeytarModule> {
  const name = 'keytar';
  const mod = (await import(name)) as Partial<KeytarModule> & { default?: KeytarModule };
  return mod.default ?? (mod as KeytarModule);
}

export interface KeytarOptions {
  /** Service name of the keychain entry. */
  service: string;
  /** How keytar is loaded. Default loadKeytar. */
  load?: () => Promise<KeytarModule>;
}

const reason = (err: unknown): string =>
  (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 200);

/** Keys in the OS keychain (libsecret's Secret Service: gnome-keyring) for a desktop. */
export function createKeytarKeystore(opts: KeytarOptions): Keystore {
  const load = opts.load ?? loadKeytar;
  let loaded: Promise<KeytarModule> | undefined;
  const keytar = async (): Promise<KeytarModule> => {
    loaded ??= load().catch((err: unknown) => {
      loaded = undefined;
      throw new KeystoreError(
        'E_KEYSTORE_UNAVAILABLE',
        `keytar cannot be loaded (${reason(err)}): install libsecret-1-dev (apt-get install libsecret-1-dev gnome-keyring dbus) and run npm ci to build it, or set keystore.backend to systemd-creds`,
        { cause: err },
      );
    });
    return loaded;
  };
  // Every failure of a call is the keychain being out of reach (no D-Bus, no or a locked keyring).
  const call = async <T>(fn: (k: KeytarModule) => Promise<T>): Promise<T> => {
    const k = await keytar();
    try {
      return await fn(k);
    } catch (err) {
      throw new KeystoreError(
        'E_KEYSTORE_UNAVAILABLE',
        `the OS keychain cannot be reached (${reason(err)}): keytar needs a D-Bus session (dbus) with an unlocked Secret Service keyring (gnome-keyring); log in to a desktop session, or set keystore.backend to systemd-creds`,
        { cause: err },
      );
    }
  };
  const where = `the keychain entry ${opts.service}/${KEYTAR_ACCOUNT}`;

  return {
    backend: 'keytar',
    async get(): Promise<ExchangeKeys | null> {
      const blob = await call((k) => k.getPassword(opts.service, KEYTAR_ACCOUNT));
      return blob === null ? null : decodeKeys(blob, where);
    },
    async set(keys: ExchangeKeys): Promise<void> {
      const blob = encodeKeys(validateKeys(keys));
      await call((k) => k.setPassword(opts.service, KEYTAR_ACCOUNT, blob));
    },
    async remove(): Promise<void> {
      await call((k) => k.deletePassword(opts.service, KEYTAR_ACCOUNT));
    },
  };
}
