#!/usr/bin/env node
import { Command, Option } from 'commander';
import { runAdminCli } from '@appliance/control-server/cli-admin';
import { ConfigError, exitOnConfigError, readSigningKeyFile } from '@appliance/runtime';
import { registerBundleCommand } from './bundle.js';
import { registerDeviceCommands, registerTokenCommands } from './device-cli.js';
import { PINNED_BY, describeKey, generateKeyFile, type KeyRole, type PublicKeyInfo } from './keygen.js';

/**
 * `npm run provision -- <command>`: the admin's commands. `keygen` makes the control plane's
 * signing keys; `device …` and `token …` enrol devices through the control server
 * (docs/enrolment.md). Documented in provisioning/README.md.
 */
const program = new Command('provision')
  .description(
    "The admin's commands: signing keys for the control plane (keygen), device enrolment (device, token)",
  )
  .exitOverride()
  .showHelpAfterError();

function print(
  info: PublicKeyInfo & { file: string; written: boolean },
  role: KeyRole | undefined,
  json: boolean,
) {
  if (json) {
    process.stdout.write(
      `${JSON.stringify({ ...info, role: role ?? null, pinnedBy: role ? PINNED_BY[role] : null })}\n`,
    );
    return;
  }
  const lines = [
    info.written ? `wrote ${info.file} (Ed25519 private key, PKCS#8 PEM, mode 0600)` : `${info.file}`,
    `public key: ${info.publicKey}`,
    `key id:     ${info.keyId}`,
    ...(role
      ? ['pin the public key in:', ...PINNED_BY[role].map((p) => `  - ${p}`)]
      : ['pin the public key where its signatures are checked (--role datafeed|control-server lists where)']),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

program
  .command('keygen')
  .description(
    'generate an Ed25519 signing key (for a datafeed or the control server) and print the public key to pin; or, with --public, print the public key of an existing one',
  )
  .addOption(
    new Option('--out <file>', 'write the new private key here (mode 0600; refuses an existing file)'),
  )
  .addOption(
    new Option('--public <file>', 'print the public key and key id of this existing private key instead'),
  )
  .addOption(
    new Option('--role <role>', 'who signs with it: says who must pin it').choices([
      'datafeed',
      'control-server',
    ]),
  )
  .option('--force', 'overwrite --out if it exists (every pin of the old key stops working)', false)
  .option('--json', 'print {file, publicKey, keyId, role, pinnedBy} as JSON', false)
  .addHelpText(
    'after',
    '\nExamples:\n  npm run keygen -- --out /etc/signal-appliance/keys/datafeed.pem --role datafeed\n  npm run keygen -- --public /etc/signal-appliance/keys/datafeed.pem\nExit codes: 0 done, 2 bad usage, an existing --out, or a --public file that is not an Ed25519 private key.',
  )
  .action((opts: { out?: string; public?: string; role?: KeyRole; force: boolean; json: boolean }) => {
    const issue = (text: string) => new ConfigError(`keygen: ${text}`, [text]);
    try {
      if ((opts.out === undefined) === (opts.public === undefined))
        throw issue('give exactly one of --out FILE (a new key) or --public FILE (an existing key)');
      if (opts.public !== undefined) {
        const pem = readSigningKeyFile('keygen', { name: 'public', flag: '--public' }, opts.public);
        print({ ...describeKey(pem), file: opts.public, written: false }, opts.role, opts.json);
        return;
      }
      const out = opts.out!;
      let info: PublicKeyInfo;
      try {
        info = generateKeyFile(out, opts.force);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        throw issue(
          code === 'EEXIST'
            ? `--out ${out}: exists; a key in use is not overwritten (--force replaces it, and every pin of it)`
            : `--out ${out}: cannot be written (${code ?? (err as Error).message})`,
        );
      }
      print({ ...info, file: out, written: true }, opts.role, opts.json);
    } catch (err) {
      exitOnConfigError(err);
    }
  });

registerDeviceCommands(program);
registerBundleCommand(program.commands.find((c) => c.name() === 'device')!);
registerTokenCommands(program);

await runAdminCli(program, 'provision');
