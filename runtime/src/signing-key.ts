import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError } from './config.js';

/**
 * Reads a process's Ed25519 signing key (PKCS#8 PEM) at start-up. Anything else (no file, a
 * folder, not PEM, an RSA or EC key) is a ConfigError naming the option, so the shell exits 2
 * with one line instead of a stack trace. `what` is the process, as for parseConfig.
 */
export function readSigningKeyFile(
  what: string,
  option: { name: string; flag: string; env?: string },
  file: string,
): string {
  const fail = (problem: string) => {
    // Named as the process shell names every option: key (flag, variable).
    const issue =
      option.env === undefined
        ? `${option.name}: ${option.flag} ${file}: ${problem}`
        : `${option.name} (${option.flag}, ${option.env}): ${file}: ${problem}`;
    return new ConfigError(`invalid ${what} configuration:\n  - ${issue}`, [issue]);
  };
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const problem =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EISDIR'
          ? 'a folder, not a key file'
          : code === 'EACCES'
            ? 'permission denied'
            : `cannot be read (${code ?? (err as Error).message})`;
    throw fail(problem);
  }
  let type: string | undefined;
  try {
    type = createPrivateKey(pem).asymmetricKeyType;
  } catch {
    throw fail('not a PEM private key (an unencrypted Ed25519 PKCS#8 PEM key is needed)');
  }
  if (type !== 'ed25519') throw fail(`an ${type ?? 'unknown'} key; an Ed25519 key is needed`);
  return pem;
}
