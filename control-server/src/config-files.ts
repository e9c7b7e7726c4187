import { X509Certificate, createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { importPublicKey, keyId } from '@appliance/protocol';
import { ConfigError } from '@appliance/runtime';
import { Breaker, type BreakerConfigInput } from '@appliance/trading-core';
import type { ControlServerConfig } from './config.js';
import { EnrolmentConfigError } from './enrolment-error.js';
import { checkEnrolmentConfig, type EnrolmentConfig } from './enrolment-model.js';

/**
 * What the control server reads from the files its options name, each checked as it is read:
 * a certificate's pin, a simulator node's public key, the breaker's settings. Each throws an
 * Error whose message names the file and what is wrong with it; main.ts hands the message to
 * the process shell, which names the option.
 */

/** The enrolment flags that must all be given for enrolment to be on. */
const ENROLMENT_FLAGS = [
  ['enrolUrl', '--enrol-url'],
  ['enrolCert', '--enrol-cert'],
  ['tunnelPool', '--tunnel-pool'],
  ['tunnelEndpoint', '--tunnel-endpoint'],
  ['tunnelPublicKey', '--tunnel-public-key'],
  ['tunnelGatewayUrl', '--tunnel-gateway-url'],
] as const;

/** A file's text; an Error naming the file and the reason when it cannot be read. */
function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`, {
      cause: err,
    });
  }
}

/** A PEM certificate file's pin (SHA-256 of its DER, lowercase hex). */
function readCertificatePin(file: string): string {
  const pem = readText(file);
  if (pem.includes('PRIVATE KEY')) throw new Error(`${file}: holds a private key; give the certificate only`);
  try {
    return new X509Certificate(pem).fingerprint256.replace(/:/g, '').toLowerCase();
  } catch {
    throw new Error(`${file}: not a PEM certificate`);
  }
}

/**
 * A simulator node's public key from its file: base64url (as keygen prints it) or an SPKI PEM.
 * The KID it is given under must be the key's own, so a typo cannot pin another key.
 */
export function readSimulatorKey(spec: string): KeyObject {
  const eq = spec.indexOf('=');
  const kid = spec.slice(0, eq);
  const file = spec.slice(eq + 1);
  const text = readText(file).trim();
  if (text.includes('PRIVATE KEY'))
    throw new Error(`${file}: a private key; give the simulator node's public key only`);
  let key: KeyObject;
  try {
    key = text.startsWith('-----BEGIN') ? createPublicKey(text) : importPublicKey(text);
  } catch {
    throw new Error(`${file}: not an Ed25519 public key (base64url, 43 characters, or a PEM public key)`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`${file}: not an Ed25519 key`);
  if (keyId(key) !== kid) throw new Error(`${file}: its kid is ${keyId(key)}, not ${kid}`);
  return key;
}

/** The breaker's settings file: JSON, any field of trading-core's BreakerConfig, checked whole now. */
export function readBreakerConfig(file: string): BreakerConfigInput | undefined {
  if (file === '') return undefined;
  const text = readText(file);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new Error(`${file}: not JSON (${(err as Error).message})`, { cause: err });
  }
  try {
    new Breaker(parsed as BreakerConfigInput);
  } catch (err) {
    throw new Error(`${file}: ${(err as Error).message}`, { cause: err });
  }
  return parsed as BreakerConfigInput;
}

/**
 * Enrolment's settings from the options: undefined when no enrolment flag is given (enrolment
 * off), else all of them, checked (`problem` names the option at fault).
 */
export function enrolmentFromConfig(
  c: ControlServerConfig,
  problem: (key: string, text: string) => Error,
): EnrolmentConfig | undefined {
  const given = ENROLMENT_FLAGS.filter(([key]) => c[key] !== '');
  if (given.length === 0) return undefined;
  const missing = ENROLMENT_FLAGS.filter(([key]) => c[key] === '').map(([, flag]) => flag);
  if (missing.length > 0)
    throw problem(
      given[0]![0],
      `enrolment needs ${missing.join(', ')} as well (or none of the enrolment flags: enrolment off)`,
    );
  const pin = (key: 'enrolCert' | 'tunnelGatewayCert') => {
    try {
      return readCertificatePin(c[key]);
    } catch (err) {
      throw problem(key, (err as Error).message);
    }
  };
  const out: EnrolmentConfig = {
    url: c.enrolUrl,
    certSha256: pin('enrolCert'),
    tunnelPool: c.tunnelPool,
    tunnelEndpoint: c.tunnelEndpoint,
    tunnelPublicKey: c.tunnelPublicKey,
    tunnelGatewayUrl: c.tunnelGatewayUrl,
    ...(c.tunnelGatewayCert !== '' && { tunnelGatewayCertSha256: pin('tunnelGatewayCert') }),
    signalKeys: c.feedKeys,
  };
  try {
    checkEnrolmentConfig(out);
  } catch (err) {
    if (!(err instanceof EnrolmentConfigError)) throw err;
    throw new ConfigError(
      `invalid control-server configuration:\n  - ${err.issues.join('\n  - ')}`,
      err.issues,
    );
  }
  return out;
}
