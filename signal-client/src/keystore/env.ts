import type { Logger } from '@appliance/runtime';
import { KeystoreError } from './errors.js';
import { validateKeys, type ExchangeKeys } from './keys.js';
import type { Keystore } from './keystore.js';

export interface EnvKeystoreOptions {
  /** Default process.env. */
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
}

/** What set and remove throw: the environment is the operator's to change. */
export function envKeystoreReadonly(): KeystoreError {
  return new KeystoreError(
    'E_KEYSTORE_READONLY',
    'the env keystore cannot store or remove keys: set EXCHANGE_API_KEY and EXCHANGE_API_SECRET in the environment, or set keystore.backend to systemd-creds (appliance) or keytar (desktop)',
  );
}

/**
 * Keys from EXCHANGE_API_KEY / EXCHANGE_API_SECRET, for development: any process of the same
 * user can read another's environment, so a device should use systemd-creds or keytar.
 */
export function createEnvKeystore(opts: EnvKeystoreOptions = {}): Keystore {
  const env = opts.env ?? process.env;
  let warned = false;
  return {
    backend: 'env',
    async get(): Promise<ExchangeKeys | null> {
      const apiKey = env.EXCHANGE_API_KEY;
      const secret = env.EXCHANGE_API_SECRET;
      if (!apiKey || !secret) return null;
      if (!warned) {
        warned = true;
        opts.logger?.warn(
          { backend: 'env' },
          'exchange keys come from the environment: for development only; use keystore.backend systemd-creds or keytar on a device',
        );
      }
      try {
        return validateKeys({ apiKey, secret });
      } catch (err) {
        throw new KeystoreError(
          'E_KEYS_INVALID',
          `EXCHANGE_API_KEY / EXCHANGE_API_SECRET: ${(err as Error).message}`,
        );
      }
    },
    async set(): Promise<void> {
      throw envKeystoreReadonly();
    },
    async remove(): Promise<void> {
      throw envKeystoreReadonly();
    },
  };
}
