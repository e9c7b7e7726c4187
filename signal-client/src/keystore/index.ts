import type { Logger } from '@appliance/runtime';
import type { KeystoreConfig } from './config.js';
import { createEnvKeystore } from './env.js';
import { KeystoreError } from './errors.js';
import { fingerprint, type ExchangeKeys } from './keys.js';
import type { Keystore } from './keystore.js';
import { createKeytarKeystore, KEYTAR_ACCOUNT, type KeytarModule } from './keytar.js';
import { createSystemdCredsKeystore, credentialFile } from './systemd-creds.js';
import type { RunCommand } from './run-command.js';

export { KeystoreConfig } from './config.js';
export { KeystoreError } from './errors.js';
export { fingerprint, validateKeys, type ExchangeKeys } from './keys.js';
export type { Keystore } from './keystore.js';
export {
  createSystemdCredsKeystore,
  credentialFile,
  loadCredentialEncryptedLine,
  SYSTEMD_CREDENTIAL_NAME,
} from './systemd-creds.js';
export { createKeytarKeystore, loadKeytar, type KeytarModule } from './keytar.js';
export { envKeystoreReadonly } from './env.js';
export { runCommand, type RunCommand } from './run-command.js';

export interface KeystoreDeps {
  logger?: Logger;
  env?: NodeJS.ProcessEnv;
  /** For tests: how systemd-creds is run, and how keytar is loaded. */
  run?: RunCommand;
  loadKeytar?: () => Promise<KeytarModule>;
}

/** The backend the configuration chose. Nothing is touched until get/set/remove is called. */
export function openKeystore(config: KeystoreConfig, deps: KeystoreDeps = {}): Keystore {
  switch (config.backend) {
    case 'systemd-creds':
      return createSystemdCredsKeystore({ dir: config.dir, env: deps.env, run: deps.run });
    case 'keytar':
      return createKeytarKeystore({ service: config.service, load: deps.loadKeytar });
    case 'env':
      return createEnvKeystore({ env: deps.env, logger: deps.logger });
  }
}

/** Where the chosen backend keeps the keys, for messages. */
export function keystoreLocation(config: KeystoreConfig): string {
  switch (config.backend) {
    case 'systemd-creds':
      return `the systemd credential ${credentialFile(config.dir)}`;
    case 'keytar':
      return `the keychain entry ${config.service}/${KEYTAR_ACCOUNT}`;
    case 'env':
      return 'EXCHANGE_API_KEY / EXCHANGE_API_SECRET';
  }
}

/** The keys, or E_KEYSTORE_EMPTY saying how to store them. Logs the fingerprint only. */
export async function requireKeys(
  keystore: Keystore,
  config: KeystoreConfig,
  logger?: Logger,
): Promise<ExchangeKeys> {
  const keys = await keystore.get();
  if (!keys) {
    throw new KeystoreError(
      'E_KEYSTORE_EMPTY',
      config.backend === 'env'
        ? // The message the device printed before there was a keystore.
          'EXCHANGE_API_KEY and EXCHANGE_API_SECRET must be set (the keys stay on this device)'
        : `no exchange API keys in ${keystoreLocation(config)}: store them with \`signal-client keys set --config FILE\``,
    );
  }
  logger?.info({ backend: keystore.backend, key: fingerprint(keys.apiKey) }, 'exchange keys loaded');
  return keys;
}
