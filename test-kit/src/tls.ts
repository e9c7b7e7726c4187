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

/** A throwaway certificate authority made by `makeTestCa`. */
export interface TestCa {
  /** The CA certificate, which clients trust. */
  certPem: string;
  certFile: string;
  keyFile: string;
}

/** A certificate signed by a `TestCa`, with its key apart (a TLS server's `key` and `cert`). */
export interface SignedTestCert {
  certPem: string;
  keyPem: string;
}

/**
 * A throwaway CA (P-256, one day) made with openssl in `dir`, files prefixed with `name`: for
 * tests where a client trusts a private CA rather than the server's certificate itself.
 */
export function makeTestCa(dir: string, name = 'ca'): TestCa {
  const keyFile = join(dir, `${name}.key`);
  const certFile = join(dir, `${name}.pem`);
  execFileSync(
    'openssl',
    [
      ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'],
      ...['-subj', `/CN=${name} test CA`, '-days', '1'],
      ...['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign'],
      ...['-keyout', keyFile, '-out', certFile],
    ],
    { stdio: 'ignore' },
  );
  return { certPem: readFileSync(certFile, 'utf8'), certFile, keyFile };
}

/**
 * A server certificate (P-256, one day) signed by `ca`, for the names in `subjectAltName`
 * (openssl's form: `DNS:gateway.example,IP:127.0.0.1`), made in `dir` under files prefixed `name`.
 */
export function makeSignedTestCert(
  dir: string,
  ca: TestCa,
  subjectAltName: string,
  name = 'server',
): SignedTestCert {
  const keyFile = join(dir, `${name}.key`);
  const certFile = join(dir, `${name}.pem`);
  execFileSync(
    'openssl',
    [
      ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'],
      ...['-CA', ca.certFile, '-CAkey', ca.keyFile, '-subj', `/CN=${name}`, '-days', '1'],
      ...['-addext', `subjectAltName=${subjectAltName}`, '-addext', 'basicConstraints=CA:FALSE'],
      ...['-keyout', keyFile, '-out', certFile],
    ],
    { stdio: 'ignore' },
  );
  return { certPem: readFileSync(certFile, 'utf8'), keyPem: readFileSync(keyFile, 'utf8') };
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
