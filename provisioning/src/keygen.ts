import { chmodSync, writeFileSync } from 'node:fs';
import { exportPrivateKeyPem, exportPublicKey, generateSigner, signerFromPem } from '@appliance/protocol';

/** Which process signs with the key, and so who must pin its public key. */
export type KeyRole = 'datafeed' | 'control-server';

/** Who pins a role's public key, in the words of their options. */
export const PINNED_BY: Record<KeyRole, string[]> = {
  datafeed: [
    'gateways: --signal-key (GATEWAY_SIGNAL_KEYS, "signalKeys")',
    'devices: "signalKeys" in the device configuration',
    'control server: --feed-key (CONTROL_FEED_KEYS, "feedKeys")',
  ],
  'control-server': [
    'gateways: --token-key (GATEWAY_TOKEN_KEYS, "tokenKeys")',
    'devices: "controlKeys" in the device configuration',
  ],
};

export interface PublicKeyInfo {
  /** The raw 32-byte Ed25519 public key, base64url: the form every pin takes. */
  publicKey: string;
  /** The key id carried in every signed message (`kid`) and logged by the signer at start. */
  keyId: string;
}

/** The public key and key id of an Ed25519 PKCS#8 PEM private key. */
export function describeKey(pem: string): PublicKeyInfo {
  const signer = signerFromPem(pem);
  return { publicKey: exportPublicKey(signer.publicKey), keyId: signer.kid };
}

/**
 * Generates an Ed25519 signing key and writes it to `out` as PKCS#8 PEM, mode 0600. An existing
 * file is kept (EEXIST) unless `force`: overwriting a key in use would cut off every pin of it.
 */
export function generateKeyFile(out: string, force = false): PublicKeyInfo {
  const signer = generateSigner();
  const pem = exportPrivateKeyPem(signer);
  writeFileSync(out, pem, { mode: 0o600, flag: force ? 'w' : 'wx' });
  // A file overwritten with --force keeps its old mode; a private key is never readable by others.
  chmodSync(out, 0o600);
  return { publicKey: exportPublicKey(signer.publicKey), keyId: signer.kid };
}
