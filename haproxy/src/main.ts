#!/usr/bin/env node
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Command } from 'commander';
import { z } from 'zod';
import {
  EXIT,
  addShellOptions,
  exitOnConfigError,
  exitWith,
  resolveShellOptions,
  usageErrorsExit2,
  type ShellSpec,
} from '@appliance/runtime';
import { checkHaproxyConfig } from './check.js';
import { ClusterError, HaproxyError } from './errors.js';
import { renderHaproxyConfig } from './render.js';

function fail(code: typeof EXIT.config | typeof EXIT.refused, message: string): never {
  exitWith(code, message);
}

async function readCluster(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    fail(EXIT.config, `cannot read ${file}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    fail(EXIT.config, `${file} is not valid JSON: ${(err as Error).message}`);
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

const RENDER: ShellSpec<z.ZodType<{ cluster: string; out?: string; check: boolean }>> = {
  name: 'haproxy render',
  description: 'render haproxy.cfg from a cluster description (JSON)',
  schema: z.object({
    cluster: z.string({ error: 'required: the cluster description (JSON, see README.md)' }).min(1),
    out: z.string().min(1).optional(),
    check: z.boolean(),
  }),
  options: [
    {
      flag: '--cluster <file>',
      env: 'HAPROXY_CLUSTER',
      description: 'cluster description, JSON (see README.md)',
    },
    {
      flag: '--out <file>',
      env: 'HAPROXY_OUT',
      description: 'write haproxy.cfg here (atomically) instead of to stdout',
    },
    {
      flag: '--check',
      env: 'HAPROXY_CHECK',
      description: 'run `haproxy -c` on the result first; nothing is written if it fails (exit 5)',
      default: false,
    },
  ],
};

const program = new Command('haproxy').description('haproxy.cfg for the gateway cluster');

const render = program.command('render').description(RENDER.description);
addShellOptions(render, RENDER).action(async () => {
  let opts: { cluster: string; out?: string; check: boolean };
  try {
    opts = resolveShellOptions(render, RENDER).config;
  } catch (err) {
    exitOnConfigError(err);
  }
  const cluster = await readCluster(opts.cluster);
  let text: string;
  try {
    text = renderHaproxyConfig(cluster);
  } catch (err) {
    if (err instanceof ClusterError) fail(EXIT.config, `${opts.cluster}: ${err.message}`);
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

await usageErrorsExit2(program).parseAsync();
