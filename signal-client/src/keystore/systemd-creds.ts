import { chmod, mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { readFileIfExists, writeFileDurable } from '@appliance/runtime';
import { KeystoreError } from './errors.js';
import { decodeKeys, encodeKeys, validateKeys, type ExchangeKeys } from './keys.js';
import type { Keystore } from './keystore.js';
import { runCommand, type CommandResult, type RunCommand } from './run-command.js';

/** The credential's name: embedded in the encrypted file, and its file name under $CREDENTIALS_DIRECTORY. */
export const SYSTEMD_CREDENTIAL_NAME = 'exchange-api';
/** Where systemd-creds keeps the host key it encrypts with when there is no TPM2. */
const SYSTEMD_HOST_KEY = '/var/lib/systemd/credential.secret';

export interface SystemdCredsOptions {
  /** Folder of the encrypted credential file `exchange-api.cred` (made 0700). */
  dir: string;
  /** Environment to find $CREDENTIALS_DIRECTORY in. Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** The systemd-creds program. Default 'systemd-creds' on PATH. */
  bin?: string;
  /** How programs are run; tests wrap it to see every argv. */
  run?: RunCommand;
}

/** The encrypted credential file for `dir`. */
export function credentialFile(dir: string): string {
  return join(dir, `${SYSTEMD_CREDENTIAL_NAME}.cred`);
}

/** The unit line that hands the decrypted keys to the service as $CREDENTIALS_DIRECTORY/exchange-api. */
export function loadCredentialEncryptedLine(dir: string): string {
  return `LoadCredentialEncrypted=${SYSTEMD_CREDENTIAL_NAME}:${credentialFile(dir)}`;
}

// systemd-creds may warn first (host key not on encrypted media); its last line says why it failed.
const lastLine = (s: string): string => s.trim().split('\n').at(-1)?.trim() || '(no message)';

/**
 * Keys encrypted with systemd-creds (host key, or TPM2 and host key where the machine has a
 * TPM2), for the appliance. A service gets them decrypted by systemd in
 * $CREDENTIALS_DIRECTORY; from a root shell (`keys test`) the file is decrypted directly.
 */
export function createSystemdCredsKeystore(opts: SystemdCredsOptions): Keystore {
  const env = opts.env ?? process.env;
  const bin = opts.bin ?? 'systemd-creds';
  const run = opts.run ?? runCommand;
  const file = credentialFile(opts.dir);

  const creds = async (args: string[], stdin?: string): Promise<CommandResult> => {
    try {
      return await run(bin, args, stdin);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new KeystoreError(
          'E_KEYSTORE_UNAVAILABLE',
          `systemd-creds is not installed (${bin}): install systemd 250 or later (apt-get install systemd), or set keystore.backend to keytar on a desktop`,
          { cause: err },
        );
      }
      throw err;
    }
  };
  // systemd-creds needs to read the host key, which only root can.
  const notRoot = (stderr: string): KeystoreError | undefined =>
    /permission denied|operation not permitted/i.test(stderr)
      ? new KeystoreError(
          'E_KEYSTORE_UNAVAILABLE',
          `systemd-creds cannot use the host key ${SYSTEMD_HOST_KEY} as this user (${lastLine(stderr)}): run as root (sudo), or run the service with ${loadCredentialEncryptedLine(opts.dir)}`,
        )
      : undefined;

  return {
    backend: 'systemd-creds',

    async get(): Promise<ExchangeKeys | null> {
      const credentialsDir = env.CREDENTIALS_DIRECTORY;
      if (credentialsDir) {
        // Under systemd: already decrypted by the service manager into a private folder.
        const blob = await readFileIfExists(join(credentialsDir, SYSTEMD_CREDENTIAL_NAME));
        if (blob !== undefined) return decodeKeys(blob, `$CREDENTIALS_DIRECTORY/${SYSTEMD_CREDENTIAL_NAME}`);
      }
      try {
        // Read once to tell "none stored" (and "not root") apart from a failed decryption.
        await (await open(file, 'r')).close();
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') return null;
        if (code === 'EACCES') {
          throw new KeystoreError(
            'E_KEYSTORE_UNAVAILABLE',
            `${file} is readable by root only: run as root (sudo), or run the service with ${loadCredentialEncryptedLine(opts.dir)}`,
          );
        }
        throw err;
      }
      // --name: the file is exchange-api.cred, and systemd-creds checks the embedded name
      // against the file name unless told which name to expect.
      const r = await creds(['decrypt', `--name=${SYSTEMD_CREDENTIAL_NAME}`, file, '-']);
      if (r.code !== 0) {
        throw (
          notRoot(r.stderr) ??
          new KeystoreError(
            'E_KEYSTORE_CORRUPT',
            `systemd-creds cannot decrypt ${file} (${lastLine(r.stderr)}): it was made with another machine's key or is damaged; store the keys again with \`signal-client keys set\``,
          )
        );
      }
      return decodeKeys(r.stdout.toString('utf8'), file);
    },

    async set(keys: ExchangeKeys): Promise<void> {
      const blob = encodeKeys(validateKeys(keys));
      await mkdir(opts.dir, { recursive: true, mode: 0o700 });
      await chmod(opts.dir, 0o700);
      // Output to stdout rather than to the file: we then write it ourselves with mode 0600
      // from the start and durably (fsync, rename), so a crash leaves the old file or the new.
      const r = await creds(['encrypt', `--name=${SYSTEMD_CREDENTIAL_NAME}`, '-', '-'], blob);
      if (r.code !== 0 || r.stdout.length === 0) {
        throw (
          notRoot(r.stderr) ??
          new KeystoreError(
            'E_KEYSTORE_UNAVAILABLE',
            `systemd-creds could not encrypt the keys (${lastLine(r.stderr)}): run \`systemd-creds setup\` as root to create the host key`,
          )
        );
      }
      await writeFileDurable(file, r.stdout);
      await chmod(file, 0o600);
    },

    async remove(): Promise<void> {
      await rm(file, { force: true });
      // The removal lives in the folder's entry: sync it, so removed keys stay removed after power loss.
      const dh = await open(opts.dir, 'r').catch(() => undefined);
      if (!dh) return;
      try {
        await dh.sync();
      } finally {
        await dh.close();
      }
    },
  };
}
