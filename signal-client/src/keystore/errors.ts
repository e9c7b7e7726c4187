import { errorClass } from '@appliance/errors';

/** Why the device has no usable exchange keys. Each message says what to install or do. */
const KEYSTORE_ERROR_CODES = {
  E_KEYSTORE_UNAVAILABLE: 'the configured keystore cannot be used on this machine',
  E_KEYSTORE_EMPTY: 'the keystore holds no exchange API keys',
  E_KEYSTORE_CORRUPT: 'the stored keys cannot be decrypted or read',
  E_KEYSTORE_READONLY: 'the keystore cannot be written (the env backend)',
  E_KEYS_INVALID: 'the API key or secret does not have the shape of one',
} as const;
export type KeystoreErrorCode = keyof typeof KEYSTORE_ERROR_CODES;

export class KeystoreError extends errorClass<KeystoreErrorCode>('KeystoreError', KEYSTORE_ERROR_CODES) {}
