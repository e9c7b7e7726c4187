import type { Command } from 'commander';
import { pino } from 'pino';
import { EXIT, createLogger, type Logger } from '@appliance/runtime';
import {
  envKeystoreReadonly,
  fingerprint,
  keystoreLocation,
  KeystoreError,
  openKeystore,
  requireKeys,
  validateKeys,
  type Keystore,
} from '../keystore/index.js';
import type { DeviceConfigFile } from '../config.js';
import { checkKeys, KeyCheckError } from './check-keys.js';
import { configOption, readClientConfig } from './config-file.js';
import { readKeys } from './read-keys.js';

/** Exit codes of `signal-client keys ...`: the repository's one table (docs/errors.md, "Exit codes"). */
const KEYS_EXIT = {
  ok: EXIT.ok,
  invalidInput: EXIT.config,
  keystore: EXIT.keystore,
  refused: EXIT.refused,
  unreachable: EXIT.unreachable,
} as const;

interface KeysContext {
  config: DeviceConfigFile;
  keystore: Keystore;
  logger: Logger;
}

function open(file: string): KeysContext {
  const config = readClientConfig(file);
  // Logs go to stderr so that stdout carries only the command's answer.
  const logger = createLogger({
    name: `keys:${config.deviceId}`,
    level: process.env.LOG_LEVEL ?? 'warn',
    destination: pino.destination({ fd: 2, sync: true }),
  });
  return { config, keystore: openKeystore(config.keystore, { logger }), logger };
}

function fail(code: string, message: string, exit: number): number {
  process.stderr.write(`${code}: ${message}\n`);
  return exit;
}

/** Typed failures become a line on stderr and an exit code; anything else is a bug and is thrown. */
async function guarded(fn: () => Promise<number>): Promise<void> {
  try {
    process.exitCode = await fn();
  } catch (err) {
    if (err instanceof KeystoreError) {
      process.exitCode = fail(
        err.code,
        err.message,
        err.code === 'E_KEYS_INVALID' ? KEYS_EXIT.invalidInput : KEYS_EXIT.keystore,
      );
    } else if (err instanceof KeyCheckError) {
      process.exitCode = fail(
        err.code,
        err.message,
        err.code === 'E_UNREACHABLE' || err.code === 'E_EXCHANGE' ? KEYS_EXIT.unreachable : KEYS_EXIT.refused,
      );
    } else {
      throw err;
    }
  }
}

async function keysSet(file: string): Promise<number> {
  const { config, keystore, logger } = open(file);
  // Refuse before asking for a secret that could not be stored.
  if (keystore.backend === 'env') throw envKeystoreReadonly();
  const keys = validateKeys(await readKeys());
  await keystore.set(keys);
  logger.info({ backend: keystore.backend, key: fingerprint(keys.apiKey) }, 'exchange keys stored');
  process.stdout.write(
    `stored key ${fingerprint(keys.apiKey)} in ${keystoreLocation(config.keystore)}; check it with: signal-client keys test --config ${file}\n`,
  );
  return KEYS_EXIT.ok;
}

async function keysTest(file: string): Promise<number> {
  const { config, keystore, logger } = open(file);
  const keys = await requireKeys(keystore, config.keystore, logger);
  await checkKeys(keys, { paperUrl: config.exchange.paperUrl, timeoutMs: config.exchange.timeoutMs });
  process.stdout.write(
    `key ${fingerprint(keys.apiKey)} from ${keystoreLocation(config.keystore)} works: it reads balances and trades spot, and cannot withdraw\n`,
  );
  return KEYS_EXIT.ok;
}

async function keysRemove(file: string): Promise<number> {
  const { config, keystore } = open(file);
  await keystore.remove();
  process.stdout.write(`removed the exchange keys from ${keystoreLocation(config.keystore)}\n`);
  return KEYS_EXIT.ok;
}

/** `signal-client keys set|test|remove --config FILE`. */
export function registerKeysCommand(program: Command): void {
  const keys = program
    .command('keys')
    .description('store, check or remove the exchange API keys kept on this device (keystore in the config)');
  keys
    .command('set')
    .description(
      'store the API key and secret: asked for without echo on a terminal, else read as two lines of stdin',
    )
    .addOption(configOption())
    .action((opts: { config: string }) => guarded(() => keysSet(opts.config)));
  keys
    .command('test')
    .description('check that the stored keys authenticate on the exchange and cannot withdraw')
    .addOption(configOption())
    .action((opts: { config: string }) => guarded(() => keysTest(opts.config)));
  keys
    .command('remove')
    .description('forget the stored keys')
    .addOption(configOption())
    .action((opts: { config: string }) => guarded(() => keysRemove(opts.config)));
}
