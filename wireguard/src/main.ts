#!/usr/bin/env node
/**
 * `node --import tsx wireguard/src/main.ts`: render the hub's or a device's wg0.conf from JSON,
 * and check a config with the real tools. See README.md.
 */
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Command } from 'commander';
import { EXIT, exitWith, readConfigFile, usageErrorsExit2 } from '@appliance/runtime';
import { checkWgConf } from './check.js';
import { WireguardError } from './errors.js';
import { renderConcentratorConf, renderDeviceConf } from './render.js';

/** The description, read like every config file (JSON with comments, runtime's reader). */
function readInput(file: string): unknown {
  try {
    return readConfigFile(file);
  } catch (err) {
    exitWith(EXIT.config, (err as Error).message);
  }
}

/**
 * Next to the target, then renamed: wg-quick never reads half a file. Mode 0600 because a
 * config may hold a private key (and wg-quick warns about a readable one).
 */
async function writeAtomically(file: string, text: string): Promise<void> {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  try {
    await writeFile(tmp, text, { mode: 0o600 });
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

async function renderTo(
  what: string,
  render: (input: unknown) => string,
  opts: { in: string; out?: string; check?: boolean },
): Promise<void> {
  let text: string;
  try {
    text = render(readInput(opts.in));
  } catch (err) {
    if (WireguardError.is(err, 'E_INVALID')) exitWith(EXIT.config, `${opts.in}: ${what}: ${err.message}`);
    throw err;
  }
  if (opts.check) await check(text);
  if (opts.out) await writeAtomically(opts.out, text);
  else process.stdout.write(text);
}

/** checkWgConf, its refusal as exit 5 with what the tool printed. */
async function check(text: string): Promise<void> {
  try {
    await checkWgConf(text);
  } catch (err) {
    if (err instanceof WireguardError) exitWith(EXIT.refused, `${err.code}: ${err.message}`);
    throw err;
  }
}

const program = new Command('wireguard').description('wg-quick configs for the concentrator and the devices');

const render = program.command('render').description('render a wg0.conf from a JSON description (README.md)');
for (const [name, what, fn] of [
  ['concentrator', "the hub's wg0.conf: one [Peer] per active device", renderConcentratorConf],
  ['device', "a device's wg0.conf: the concentrator as its one peer", renderDeviceConf],
] as const)
  render
    .command(name)
    .description(what)
    .requiredOption('--in <file>', 'the description, JSON (README.md)')
    .option('--out <file>', 'write here (atomically, mode 0600) instead of to stdout')
    .option('--check', 'run checkWgConf (wg-quick strip, wg) on the result first; exit 5 if refused')
    .action((opts: { in: string; out?: string; check?: boolean }) => renderTo(name, fn, opts));

program
  .command('check')
  .description('check a wg-quick config with wg-quick strip and wg (no interface needed)')
  .argument('<file>', 'a wg-quick config, e.g. /etc/wireguard/wg0.conf')
  .action(async (file: string) => {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      exitWith(EXIT.config, `${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? ''})`);
    }
    await check(text);
    process.stderr.write(`${file}: ok\n`);
  });

await usageErrorsExit2(program).parseAsync();
