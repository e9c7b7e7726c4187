#!/usr/bin/env node
import { rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Command } from 'commander';
import { z } from 'zod';
import {
  EXIT,
  addShellOptions,
  exitOnConfigError,
  exitWith,
  readConfigFile,
  resolveShellOptions,
  usageErrorsExit2,
  type ShellSpec,
} from '@appliance/runtime';
import { checkHaproxyConfig } from './check.js';
import { ClusterError, HaproxyError } from './errors.js';
import { renderHaproxy } from './render.js';

function fail(code: typeof EXIT.config | typeof EXIT.refused, message: string): never {
  exitWith(code, message);
}

/** The cluster description, read like every config file (JSON with comments, runtime's reader). */
function readCluster(file: string): unknown {
  try {
    return readConfigFile(file);
  } catch (err) {
    fail(EXIT.config, (err as Error).message);
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

interface RenderOptions {
  cluster: string;
  out?: string;
  check: boolean;
  fdLimit?: number;
}

const RENDER: ShellSpec<z.ZodType<RenderOptions>> = {
  name: 'haproxy render',
  description: 'render haproxy.cfg from a cluster description (JSON)',
  schema: z.object({
    cluster: z.string({ error: 'required: the cluster description (JSON, see README.md)' }).min(1),
    out: z.string().min(1).optional(),
    check: z.boolean(),
    fdLimit: z.coerce.number().int().min(1).optional(),
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
    {
      flag: '--fd-limit <n>',
      env: 'HAPROXY_FD_LIMIT',
      description:
        "the open-files limit HAProxy will run with (its unit's LimitNOFILE=); maxConn is checked against it, or derived from it when not given (default: this process's hard limit, or fs.nr_open with CAP_SYS_RESOURCE)",
    },
  ],
};

const program = new Command('haproxy').description('haproxy.cfg for the gateway cluster');

const render = program.command('render').description(RENDER.description);
addShellOptions(render, RENDER).action(async () => {
  let opts: RenderOptions;
  try {
    opts = resolveShellOptions(render, RENDER).config;
  } catch (err) {
    exitOnConfigError(err);
  }
  const cluster = readCluster(opts.cluster);
  let text: string;
  try {
    // Without --fd-limit, the limit is read from this process (fd-limit.ts).
    const rendered = renderHaproxy(
      cluster,
      opts.fdLimit === undefined
        ? {}
        : { fdLimit: { limit: opts.fdLimit, source: 'given with --fd-limit or HAPROXY_FD_LIMIT' } },
    );
    text = rendered.text;
    // A maxconn the description did not give is said aloud, with why (also in the config).
    if (rendered.maxConn.derived) process.stderr.write(`${rendered.maxConn.note}\n`);
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
