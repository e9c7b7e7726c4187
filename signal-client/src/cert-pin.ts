import { createHash } from 'node:crypto';
import type { TLSSocket } from 'node:tls';

/**
 * SHA-256 of a TLS socket's peer certificate (DER), lowercase hex; undefined without one. The
 * one fingerprint both pinned connections compare with their pin: the enrolment endpoint's
 * (`enrolment/https.ts`) and the gateway's inside the tunnel (`gateway-connection.ts`).
 */
export function peerCertSha256(socket: TLSSocket): string | undefined {
  const cert = socket.getPeerX509Certificate();
  return cert ? createHash('sha256').update(cert.raw).digest('hex') : undefined;
}
