#!/usr/bin/env node
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Command } from 'commander';
import { checkHaproxyConfig } from './check.js';
import { ClusterError, HaproxyError } from './errors.js';
import { renderHaproxyConfig } from './render.js';

/** Exit codes, as documented in README.md. */
const EXIT = { usage: 2, refused: 3 } as const;

function fail(code: number, message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

async function readCluster(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    fail(EXIT.usage, `cannot read ${file}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    fail(EXIT.usage, `${file} is not valid JSON: ${(err as Error).message}`);
  }
}

/** Write next to the target and rename, so HAProxy never reloads a half-written file. */
async function writeAtomically(file: string, text: string): Promise<void> {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  try {
    await writeFile(tmp, text, { mode: 0o644 });
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

const program = new Command('haproxy').description('haproxy.cfg for the gateway cluster');

program
  .command('render')
  .description('render haproxy.cfg from a cluster description (JSON)')
  .requiredOption('--cluster <file>', 'cluster description, JSON (see README.md)')
  .option('--out <file>', 'write haproxy.cfg here (atomically) instead of to stdout')
  .option('--check', 'run `haproxy -c` on the result first; nothing is written if it fails', false)
  .action(async (opts: { cluster: string; out?: string; check: boolean }) => {
    const cluster = await readCluster(opts.cluster);
    let text: string;
    try {
      text = renderHaproxyConfig(cluster);
    } catch (err) {
      if (err instanceof ClusterError) fail(EXIT.usage, `${opts.cluster}: ${err.message}`);
      throw err;
    }
    if (opts.check) {
      try {
        await checkHaproxyConfig(text);
      } catch (err) {
        if (err instanceof HaproxyError) fail(EXIT.refused, `${err.code}: ${err.message}`);
        throw err;
      }
    }
    if (opts.out) await writeAtomically(opts.out, text);
    else process.stdout.write(text);
  });

await program.parseAsync();
