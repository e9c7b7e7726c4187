import type { ExchangeKeys } from './keys.js';

export type KeystoreBackend = 'systemd-creds' | 'keytar' | 'env';

/** Where the device keeps its exchange API keys. They are never in a message, log or file in clear. */
export interface Keystore {
  readonly backend: KeystoreBackend;
  /** The stored keys, or null when none are stored. */
  get(): Promise<ExchangeKeys | null>;
  /** Stores (or replaces) the keys. */
  set(keys: ExchangeKeys): Promise<void>;
  /** Forgets the keys; removing keys that are not there is not an error. */
  remove(): Promise<void>;
}
