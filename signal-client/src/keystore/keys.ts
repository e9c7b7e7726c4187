import { KeystoreError } from './errors.js';

export interface ExchangeKeys {
  apiKey: string;
  secret: string;
}

// Printable ASCII without spaces: the key goes into an HTTP header and the secret is an HMAC
// key; Binance's are 64 characters, the paper exchange's 32 to 43.
const KEY_SHAPE = /^[\x21-\x7e]{16,128}$/;

/**
 * Checks that both values look like exchange credentials, so that a paste with a stray
 * character or an empty line is refused before it is stored. Never echoes the values.
 */
export function validateKeys(keys: { apiKey?: unknown; secret?: unknown }): ExchangeKeys {
  const { apiKey, secret } = keys;
  if (typeof apiKey !== 'string' || !KEY_SHAPE.test(apiKey)) {
    throw new KeystoreError(
      'E_KEYS_INVALID',
      'the API key must be 16 to 128 printable characters without spaces',
    );
  }
  if (typeof secret !== 'string' || !KEY_SHAPE.test(secret)) {
    throw new KeystoreError(
      'E_KEYS_INVALID',
      'the API secret must be 16 to 128 printable characters without spaces',
    );
  }
  if (apiKey === secret) {
    throw new KeystoreError('E_KEYS_INVALID', 'the API key and the secret are the same: paste each once');
  }
  return { apiKey, secret };
}

/** What may be logged or printed about a key: its first 4 characters. */
export function fingerprint(apiKey: string): string {
  return `${apiKey.slice(0, 4)}…`;
}

/** Both values as one blob, so a backend stores and loses them together. */
export function encodeKeys(keys: ExchangeKeys): string {
  return JSON.stringify({ apiKey: keys.apiKey, secret: keys.secret });
}

/** The blob back; `where` names the store for the error, never the content. */
export function decodeKeys(blob: string, where: string): ExchangeKeys {
  let parsed: unknown;
  try {
    parsed = JSON.parse(blob);
  } catch {
    throw new KeystoreError(
      'E_KEYSTORE_CORRUPT',
      `${where} does not hold the keys as JSON: store them again with \`signal-client keys set\``,
    );
  }
  try {
    return validateKeys((parsed ?? {}) as Record<string, unknown>);
  } catch (err) {
    throw new KeystoreError(
      'E_KEYSTORE_CORRUPT',
      `${where} holds malformed keys (${(err as Error).message}): store them again with \`signal-client keys set\``,
    );
  }
}
