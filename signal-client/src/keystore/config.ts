import { z } from 'zod';

/**
 * Where encrypted credentials live on the appliance: systemd's own credential store (v254+
 * finds `exchange-api.cred` here by name; 252 needs the path in LoadCredentialEncrypted=).
 */
export const DEFAULT_CREDENTIALS_DIR = '/etc/credstore.encrypted';
/** The OS keychain's service name the keys are filed under on a desktop. */
const DEFAULT_KEYTAR_SERVICE = 'signal-appliance';

/** The `keystore` section of the device configuration. */
export const KeystoreConfig = z.discriminatedUnion('backend', [
  z.strictObject({
    backend: z.literal('systemd-creds'),
    dir: z.string().startsWith('/', 'keystore.dir: an absolute path').default(DEFAULT_CREDENTIALS_DIR),
  }),
  z.strictObject({
    backend: z.literal('keytar'),
    service: z.string().min(1).max(200).default(DEFAULT_KEYTAR_SERVICE),
  }),
  z.strictObject({ backend: z.literal('env') }),
]);
export type KeystoreConfig = z.infer<typeof KeystoreConfig>;
