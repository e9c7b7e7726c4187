import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

export interface TestCert {
  /** Certificate then key, the one PEM file HAProxy loads. */
  pemFile: string;
  /** The certificate alone, which clients trust as their CA. */
  certPem: string;
}

/**
 * A throwaway self-signed certificate for localhost, made with openssl in `dir` (the caller's
 * temp folder, removed at teardown): keys are made per run, never committed. The SAN lets
 * clients verify it by name or by address.
 */
export function makeTestCert(dir: string): TestCert {
  const keyFile = join(dir, 'key.pem');
  const certFile = join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    [
      ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '1'],
      ...['-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'],
      ...['-keyout', keyFile, '-out', certFile],
    ],
    { stdio: 'ignore' },
  );
  const certPem = readFileSync(certFile, 'utf8');
  const pemFile = join(dir, 'site.pem');
  writeFileSync(pemFile, certPem + readFileSync(keyFile, 'utf8'), { mode: 0o600 });
  return { pemFile, certPem };
}

/**
 * A free loopback TCP port, for programs (HAProxy) that cannot take port 0 and report it: bind
 * one, note it and let it go. Another process could take it in between; on a test box it does not.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}
