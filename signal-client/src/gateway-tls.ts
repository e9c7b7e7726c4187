import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { z } from 'zod';
import { ConfigError } from '@appliance/runtime';

/** Where the device configuration's `gatewayTls` is explained; named in every TLS error's fix. */
const GATEWAY_TLS_DOC = 'docs/device-config.md#gatewaytls';

/** A SHA-256 fingerprint as openssl prints it (`AB:CD:…`), colons optional, any case. */
const SHA256_FINGERPRINT = /^[0-9A-Fa-f]{2}(:?[0-9A-Fa-f]{2}){31}$/;
const DNS_NAME =
  /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/**
 * `gatewayTls` in the device configuration: how the device checks HAProxy's TLS endpoint
 * (gatewayUrl must be wss://). Without it the system's roots are trusted and the URL's host is
 * the name checked.
 */
export const GatewayTlsConfig = z
  .strictObject({
    /** PEM file of the CA that signed HAProxy's certificate, or that certificate itself: the ONLY trust anchor. */
    caFile: z.string().startsWith('/', 'an absolute path').optional(),
    /** SHA-256 fingerprint the server's certificate must have, on top of the normal verification. */
    certSha256: z
      .string()
      .regex(SHA256_FINGERPRINT, 'a SHA-256 fingerprint: 32 bytes in hex, as AB:CD:… (colons optional)')
      .transform((f) => normaliseFingerprint(f))
      .optional(),
    /** The name HAProxy's certificate is checked against (and sent as SNI) instead of the URL's host. */
    serverName: z
      .string()
      .regex(DNS_NAME, 'a DNS name (no port, no IP address)')
      .refine((n) => isIP(n) === 0, 'a DNS name, not an IP address (TLS sends no IP address as SNI)')
      .transform((n) => n.toLowerCase())
      .optional(),
  })
  .refine(
    (c) => c.caFile !== undefined || c.certSha256 !== undefined || c.serverName !== undefined,
    'name at least one of caFile, certSha256, serverName (or leave gatewayTls out)',
  );
export type GatewayTlsConfig = z.infer<typeof GatewayTlsConfig>;

/** `AB:CD:…` in upper case with colons: the form of Node's `fingerprint256`. */
function normaliseFingerprint(f: string): string {
  return f
    .replace(/:/g, '')
    .toUpperCase()
    .replace(/(..)(?!$)/g, '$1:');
}

/** TLS options for the `ws` client, from `gatewayTls` with the CA file read. */
export interface GatewayTlsOptions {
  ca?: string;
  servername?: string;
  checkServerIdentity?: (host: string, cert: PeerCertificate) => Error | undefined;
}

/** The code of the error a certificate pin mismatch fails the connection with. */
const CERT_PIN_MISMATCH = 'E_GATEWAY_CERT_PIN';

const CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * Reads `gatewayTls.caFile` and builds the client's TLS options. A file that cannot be read,
 * holds no certificate, a certificate that does not parse, or a private key is a ConfigError
 * naming the field (exit 2 at start).
 */
export function loadGatewayTls(tls: GatewayTlsConfig | undefined): GatewayTlsOptions {
  if (!tls) return {};
  const options: GatewayTlsOptions = {};
  if (tls.caFile !== undefined) options.ca = readCaFile(tls.caFile);
  if (tls.serverName !== undefined) options.servername = tls.serverName;
  const pin = tls.certSha256;
  if (pin !== undefined)
    options.checkServerIdentity = (host, cert) => {
      const err = checkServerIdentity(host, cert);
      if (err) return err;
      if (cert.fingerprint256?.toUpperCase() === pin) return undefined;
      return Object.assign(
        new Error(`the gateway's certificate has SHA-256 ${cert.fingerprint256}, not the pinned ${pin}`),
        { code: CERT_PIN_MISMATCH },
      );
    };
  return options;
}

function readCaFile(file: string): string {
  const bad = (text: string): never => {
    const issue = `gatewayTls.caFile: ${file}: ${text}`;
    throw new ConfigError(`invalid signal-client configuration:\n  - ${issue}`, [issue]);
  };
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (err) {
    return bad(`cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  // HAProxy's own PEM is certificate then key: the device must never hold HAProxy's key.
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem))
    bad("holds a private key: give the certificate only (the device must not hold HAProxy's key)");
  const blocks = pem.match(CERTIFICATE) ?? [];
  if (!blocks.length) bad('no PEM certificate in it (-----BEGIN CERTIFICATE-----)');
  for (const [i, block] of blocks.entries()) {
    try {
      new X509Certificate(block);
    } catch {
      bad(`certificate ${i + 1} does not parse`);
    }
  }
  return blocks.join('\n') + '\n';
}

/** Node's TLS error codes a person can fix on the device or at HAProxy, with the fix. */
const TLS_FIXES: Record<string, string> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: `HAProxy's certificate is self-signed: set gatewayTls.caFile to that certificate (${GATEWAY_TLS_DOC})`,
  SELF_SIGNED_CERT_IN_CHAIN: `HAProxy's certificate is issued by a CA this device does not trust: set gatewayTls.caFile to HAProxy's CA or certificate (${GATEWAY_TLS_DOC})`,
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: `HAProxy's certificate cannot be verified: set gatewayTls.caFile to HAProxy's CA or certificate, or have HAProxy send its intermediate certificates (${GATEWAY_TLS_DOC})`,
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: `HAProxy's certificate is issued by a CA this device does not trust: set gatewayTls.caFile to HAProxy's CA or certificate (${GATEWAY_TLS_DOC})`,
  UNABLE_TO_GET_ISSUER_CERT: `HAProxy's certificate is issued by a CA this device does not trust: set gatewayTls.caFile to HAProxy's CA or certificate (${GATEWAY_TLS_DOC})`,
  ERR_TLS_CERT_ALTNAME_INVALID: `HAProxy's certificate does not name the gateway's host: use a gatewayUrl with a name the certificate carries, or set gatewayTls.serverName to it (${GATEWAY_TLS_DOC})`,
  CERT_HAS_EXPIRED: `HAProxy's certificate has expired: renew it on HAProxy (check this device's clock too)`,
  CERT_NOT_YET_VALID: `HAProxy's certificate is not valid yet: check this device's clock (NTP), or the certificate's start date`,
  [CERT_PIN_MISMATCH]: `HAProxy's certificate is not the pinned one: if HAProxy's certificate was replaced, set gatewayTls.certSha256 to the new one's fingerprint (openssl x509 -noout -fingerprint -sha256); otherwise something between this device and HAProxy is intercepting (${GATEWAY_TLS_DOC})`,
};

/** The codes of a certificate no trust anchor vouches for. */
const UNTRUSTED = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
]);

/**
 * What to do about a TLS failure, or undefined when `code` is not a certificate problem.
 * `caPinned`: gatewayTls.caFile is set, so an untrusted certificate means the file is the wrong one.
 */
export function tlsFix(code: string | undefined, caPinned = false): string | undefined {
  if (code === undefined || !Object.hasOwn(TLS_FIXES, code)) return undefined;
  if (caPinned && UNTRUSTED.has(code))
    return `HAProxy's certificate is not signed by the certificate in gatewayTls.caFile: set gatewayTls.caFile to HAProxy's CA or certificate (${GATEWAY_TLS_DOC}), or have HAProxy send its intermediate certificates`;
  return TLS_FIXES[code];
}
