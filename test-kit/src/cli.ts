import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportPrivateKeyPem, generateSigner, type Signer } from '@appliance/protocol';
import { REPO_ROOT } from './process.js';

export interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a process's entry point once (`node --import tsx ENTRY ARGS`) and waits for it: for the
 * command-line tests, which all start a process that should stop at once. `env` is laid over
 * this process's environment; a variable set to `undefined` is removed, so that the test runner's
 * own settings (KAFKA_BROKERS, ...) never leak into a row.
 */
export function runCli(entry: string, args: string[], env: Record<string, string | undefined> = {}): CliRun {
  const merged: NodeJS.ProcessEnv = { ...process.env };
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete merged[k];
    else merged[k] = v;
  }
  const r = spawnSync(process.execPath, ['--import', 'tsx', entry, ...args], {
    cwd: REPO_ROOT,
    env: merged,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** True when `text` holds a JavaScript stack frame: a CLI must never print one for a usage problem. */
export function hasStackTrace(text: string): boolean {
  return /^\s+at .+[:(]/m.test(text);
}

export interface BadKeyFile {
  name: string;
  file: string;
  /** What readSigningKeyFile says about it, after `FILE: `. */
  problem: string;
}

const NOT_PEM = 'not a PEM private key (an unencrypted Ed25519 PKCS#8 PEM key is needed)';

/**
 * Signing-key files that are not an Ed25519 private key, written under `dir`, and the problem
 * each must be reported with: the table every process with a `--signing-key-file` is tested on.
 */
export function badSigningKeyFiles(dir: string): BadKeyFile[] {
  const write = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  const folder = join(dir, 'a-folder.pem');
  mkdirSync(folder, { recursive: true });
  const ed = generateKeyPairSync('ed25519');
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return [
    { name: 'missing', file: join(dir, 'nope.pem'), problem: 'no such file' },
    { name: 'a folder', file: folder, problem: 'a folder, not a key file' },
    { name: 'not PEM', file: write('text.pem', 'hello\n'), problem: NOT_PEM },
    {
      name: 'a public key',
      file: write('public.pem', ed.publicKey.export({ type: 'spki', format: 'pem' }).toString()),
      problem: NOT_PEM,
    },
    {
      name: 'RSA',
      file: write('rsa.pem', rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()),
      problem: 'an rsa key; an Ed25519 key is needed',
    },
  ];
}

/** A usable Ed25519 signing key file under `dir`. */
export function goodSigningKeyFile(dir: string, name = 'ed25519.pem'): string {
  return signerWithKeyFile(dir, name).file;
}

/** A fresh signer and its private key as a PEM file (mode 0600) under `dir`, for a process's --signing-key-file. */
export function signerWithKeyFile(dir: string, name: string): { signer: Signer; file: string } {
  const signer = generateSigner();
  const file = join(dir, name);
  writeFileSync(file, exportPrivateKeyPem(signer), { mode: 0o600 });
  return { signer, file };
}

/** A process's options as `[flag, environment variable]` pairs, as its README lists them. */
export type CliOptions = readonly (readonly [flag: string, env: string])[];

/**
 * Runs `entry` with every one of its own environment variables unset (so the machine's
 * environment cannot leak into a test), then `fixed.env` and the `env` a row sets; `fixed.args`
 * (a subcommand) go before each row's arguments.
 */
export function cliRunner(
  entry: string,
  options: CliOptions,
  fixed: { args?: string[]; env?: Record<string, string> } = {},
) {
  const cleared = Object.fromEntries(options.map(([, env]) => [env, undefined]));
  return (args: string[], env: Record<string, string> = {}): CliRun =>
    runCli(entry, [...(fixed.args ?? []), ...args], { ...cleared, ...fixed.env, ...env });
}

/** The `--help` text, whitespace folded, and whether it names each option with its variable. */
export function helpNamesEveryOption(
  run: (args: string[]) => CliRun,
  options: CliOptions,
): { status: number | null; help: string; missing: string[] } {
  const r = run(['--help']);
  const help = r.stdout.replace(/\s+/g, ' ');
  const missing = options
    .filter(([flag, env]) => !new RegExp(`${flag} [^]*?\\(env: ${env}\\)`).test(help))
    .map(([flag, env]) => `${flag} (env: ${env})`);
  return { status: r.status, help, missing };
}
