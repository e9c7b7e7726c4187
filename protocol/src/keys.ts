import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';

/** A signing identity: the private key stays in the process that made it. */
export interface Signer {
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

// The DER prefix of an Ed25519 SubjectPublicKeyInfo; the raw 32-byte key follows it.
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export function generateSigner(): Signer {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { kid: keyId(publicKey), privateKey, publicKey };
}

/** Loads a signer from a PKCS#8 PEM private key (as written by `exportPrivateKeyPem`). */
export function signerFromPem(pem: string): Signer {
  const privateKey = createPrivateKey(pem);
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new TypeError('signing key must be Ed25519');
  const publicKey = createPublicKey(privateKey);
  return { kid: keyId(publicKey), privateKey, publicKey };
}

export function exportPrivateKeyPem(signer: Signer): string {
  return signer.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
}

/** The raw 32-byte public key as base64url: the form pinned in device configs. */
export function exportPublicKey(key: KeyObject): string {
  const der = key.export({ format: 'der', type: 'spki' });
  return der.subarray(ED25519_SPKI_PREFIX.length).toString('base64url');
}

export function importPublicKey(raw: string): KeyObject {
  const bytes = Buffer.from(raw, 'base64url');
  if (bytes.length !== 32) throw new TypeError('an Ed25519 public key is 32 bytes (base64url)');
  return createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, bytes]), format: 'der', type: 'spki' });
}

/** Key id: the first 12 bytes of SHA-256 over the raw public key, base64url (16 chars). */
export function keyId(publicKey: KeyObject): string {
  const raw = Buffer.from(exportPublicKey(publicKey), 'base64url');
  return createHash('sha256').update(raw).digest().subarray(0, 12).toString('base64url');
}

/** Public keys a verifier trusts, by key id. Built once from pinned config. */
export class KeyRing {
  readonly #keys = new Map<string, KeyObject>();

  static of(...publicKeys: (KeyObject | string)[]): KeyRing {
    const ring = new KeyRing();
    for (const k of publicKeys) ring.add(k);
    return ring;
  }

  add(publicKey: KeyObject | string): string {
    const key = typeof publicKey === 'string' ? importPublicKey(publicKey) : publicKey;
    const kid = keyId(key);
    this.#keys.set(kid, key);
    return kid;
  }

  get(kid: string): KeyObject | undefined {
    return this.#keys.get(kid);
  }

  get size(): number {
    return this.#keys.size;
  }
}
