import { readFileSync } from 'node:fs';
import type { CommanderError } from 'commander';
import { Command, Option } from 'commander';
import type { z } from 'zod';
import { ConfigError, exitOnConfigError } from './config.js';
import { readConfigFile } from './config-file.js';
import { EXIT } from './exit-codes.js';
import { readSigningKeyFile } from './signing-key.js';

/**
 * The process shell: every process takes its options the same way. Each option is a flag and an
 * environment variable, and may also come from a JSON file given with `--config FILE`:
 * flag > environment > file > default. The merged values are validated once by one zod schema;
 * any problem exits 2 with one message per problem naming the flag and the variable, never a
 * stack trace.
 *
 * To adopt it (a new process, e.g. paper-exchange/src/main.ts):
 *
 *   const Config = z.object({ port: z.coerce.number().int().min(0).max(65535), ... });
 *   const shell = startShell({
 *     name: 'paper-exchange', description: '...', configEnv: 'PAPER_CONFIG', schema: Config,
 *     options: [{ flag: '--port <n>', env: 'PAPER_PORT', description: 'listen port', default: '8091' }],
 *   });
 *   shell.config.port; // validated
 *
 * A check beyond the schema throws `shell.problem(key, text)`, inside `startShell`'s `finish`
 * callback so that it exits 2 as well; `shell.readSigningKey(key)` reads an Ed25519 key file
 * named by an option. Subcommands (haproxy, signal-client) use `addShellOptions` and
 * `resolveShellOptions` on their own `Command`.
 */
export interface ShellOption {
  /** Commander syntax: `--port <n>`, `--token-key <key...>` (a list), `--live` or `--no-paper` (booleans). */
  flag: string;
  /** The environment variable; a list is comma separated (or `separator`), a boolean `1`/`true` or `0`/`false`. */
  env: string;
  description: string;
  /** Shown in --help and used when neither flag, variable nor file gives a value. */
  default?: string | string[] | boolean;
  /** The key in the schema and the config file; default: the flag in camelCase (`--token-key` → `tokenKey`). */
  key?: string;
  /** Separator of a list in the environment variable (default `,`). */
  separator?: string;
}

/** A value only the environment (or a file named by `ENV_FILE`) may give: a secret that must not show in `ps` or a config file. */
export interface ShellSecret {
  env: string;
  key: string;
  description: string;
}

export interface ShellSpec<S extends z.ZodType> {
  /** The process, as in messages: `invalid NAME configuration`. */
  name: string;
  description: string;
  options: ShellOption[];
  secrets?: ShellSecret[];
  /** Environment variable naming the JSON config file (`--config FILE`); omit for no config file. */
  configEnv?: string;
  schema: S;
  /** More help after the options. */
  helpAfter?: string;
}

export type ValueSource = 'flag' | 'env' | 'file' | 'default';

export interface Shell<C> {
  config: C;
  /** Where each option's value came from. */
  source: Record<string, ValueSource>;
  /** A ConfigError naming the option (flag and variable): throw it for a check beyond the schema. */
  problem(key: string, text: string): ConfigError;
  /** Reads the Ed25519 PKCS#8 PEM key file the option `key` names (a ConfigError naming it if unusable). */
  readSigningKey(key: string): string;
}

export interface ShellIo {
  argv?: readonly string[];
  env?: NodeJS.ProcessEnv;
}

interface Resolved {
  option: ShellOption | ShellSecret;
  key: string;
  attribute: string;
  kind: 'boolean' | 'list' | 'value';
}

const camel = (flag: string) =>
  flag
    .replace(/^--(no-)?/, '')
    .split(/[ <[]/)[0]!
    .replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

function resolve(o: ShellOption): Resolved {
  const option = new Option(o.flag);
  return {
    option: o,
    key: o.key ?? camel(o.flag),
    attribute: option.attributeName(),
    kind: option.variadic ? 'list' : !option.required && !option.optional ? 'boolean' : 'value',
  };
}

/** `--port, PORT`: how a message names an option. */
export function optionLabel(o: ShellOption | ShellSecret): string {
  return 'flag' in o ? `${o.flag.split(' ')[0]!}, ${o.env}` : o.env;
}

/** Adds the options to `command`, each described with its variable, and `--config` if the spec has one. */
export function addShellOptions(command: Command, spec: Omit<ShellSpec<z.ZodType>, 'schema'>): Command {
  for (const o of spec.options) {
    const key = o.key ?? camel(o.flag);
    const option = new Option(
      o.flag,
      `${o.description} (env: ${o.env})${spec.configEnv ? ` (config: ${key})` : ''}`,
    );
    if (o.default !== undefined) option.default(o.default);
    command.addOption(option);
  }
  if (spec.configEnv)
    command.option(
      '--config <file>',
      `JSON file of options (keys as in the schema, e.g. {"port": 8080}) (env: ${spec.configEnv})`,
    );
  const lines = [
    ...(spec.secrets ?? []).map((s) => `  ${s.env} (or ${s.env}_FILE naming a file)  ${s.description}`),
    ...(spec.secrets?.length ? [''] : []),
    spec.configEnv
      ? 'Each option is a flag, an environment variable or a key of the --config file: flag > env > file > default.'
      : 'Each option is a flag or an environment variable: flag > env > default.',
    'LOG_LEVEL sets the log level (fatal, error, warn, info, debug, trace; default info).',
    'Exit codes: 0 ok, 1 failure while running, 2 bad configuration (see docs/errors.md).',
  ];
  command.addHelpText(
    'after',
    `${spec.secrets?.length ? '\nEnvironment only:\n' : '\n'}${lines.join('\n')}${spec.helpAfter ? `\n${spec.helpAfter}` : ''}`,
  );
  return command;
}

/** A list is split at its separator wherever it comes from: `--token-key a,b` is two keys, as in the variable. */
function splitList(r: Resolved, value: unknown): unknown {
  const separator = (r.option as ShellOption).separator ?? ',';
  const items = Array.isArray(value) ? (value as unknown[]) : typeof value === 'string' ? [value] : undefined;
  if (items === undefined) return value;
  return items.flatMap((v) =>
    typeof v === 'string'
      ? v
          .split(separator)
          .map((p) => p.trim())
          .filter((p) => p !== '')
      : [v],
  );
}

function fromEnv(r: Resolved, raw: string): unknown {
  if (r.kind === 'list') return splitList(r, raw);
  if (r.kind === 'boolean')
    return raw === '1' || raw === 'true' ? true : raw === '0' || raw === 'false' ? false : raw;
  return raw;
}

function configError(name: string, issues: string[]): ConfigError {
  return new ConfigError(`invalid ${name} configuration:\n  - ${issues.join('\n  - ')}`, issues);
}

/**
 * A secret comes from its variable or, under systemd credentials or container secrets, from the
 * file its `_FILE` variable names (`CONTROL_ADMIN_TOKEN_FILE=%d/admin-token`); one trailing
 * newline is dropped. Both set is refused: which one is meant cannot be guessed.
 */
function readSecret(name: string, s: ShellSecret, env: NodeJS.ProcessEnv): string {
  const direct = env[s.env];
  const fileVar = `${s.env}_FILE`;
  const file = env[fileVar];
  if (!file) return direct ?? '';
  if (direct) throw configError(name, [`${s.key} (${s.env}, ${fileVar}): set one of them, not both`]);
  try {
    return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    throw configError(name, [
      `${s.key} (${fileVar}): ${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    ]);
  }
}

/** Merges flag, environment, file and default for `command` (already parsed) and validates once. */
export function resolveShellOptions<S extends z.ZodType>(
  command: Command,
  spec: ShellSpec<S>,
  env: NodeJS.ProcessEnv = process.env,
): Shell<z.infer<S>> {
  const opts = command.opts<Record<string, unknown>>();
  const resolved = spec.options.map(resolve);
  const byKey = new Map<string, Resolved>(resolved.map((r) => [r.key, r]));
  for (const s of spec.secrets ?? [])
    byKey.set(s.key, { option: s, key: s.key, attribute: s.key, kind: 'value' });
  const label = (path: PropertyKey[]) => {
    const r = byKey.get(String(path[0]));
    const name = path.map(String).join('.') || '(root)';
    return r ? `${name} (${optionLabel(r.option)})` : name;
  };
  const problem = (key: string, text: string) => configError(spec.name, [`${label([key])}: ${text}`]);

  const configFlag = opts.config as string | undefined;
  const configFile = configFlag ?? (spec.configEnv && env[spec.configEnv] ? env[spec.configEnv] : undefined);
  let file: Record<string, unknown> = {};
  if (configFile)
    try {
      file = readConfigFile(configFile);
    } catch (err) {
      throw configError(spec.name, [`config (--config, ${spec.configEnv ?? ''}): ${(err as Error).message}`]);
    }
  const unknown = Object.keys(file).filter((k) => !resolved.some((r) => r.key === k));
  if (unknown.length)
    throw configError(
      spec.name,
      unknown.map(
        (k) =>
          `config (--config, ${spec.configEnv ?? ''}): ${configFile}: unknown option "${k}" (known: ${resolved.map((r) => r.key).join(', ')})`,
      ),
    );

  const input: Record<string, unknown> = {};
  const source: Record<string, ValueSource> = {};
  for (const r of resolved) {
    const o = r.option as ShellOption;
    const fromCli = command.getOptionValueSource(r.attribute) === 'cli';
    const envValue = env[o.env];
    if (fromCli) {
      input[r.key] = r.kind === 'list' ? splitList(r, opts[r.attribute]) : opts[r.attribute];
      source[r.key] = 'flag';
    } else if (envValue !== undefined && envValue !== '') {
      input[r.key] = fromEnv(r, envValue);
      source[r.key] = 'env';
    } else if (r.key in file) {
      input[r.key] = r.kind === 'list' ? splitList(r, file[r.key]) : file[r.key];
      source[r.key] = 'file';
    } else {
      input[r.key] = opts[r.attribute];
      source[r.key] = 'default';
    }
  }
  for (const s of spec.secrets ?? []) {
    input[s.key] = readSecret(spec.name, s, env);
    source[s.key] = 'env';
  }
  const result = spec.schema.safeParse(input);
  if (!result.success)
    throw configError(
      spec.name,
      result.error.issues.map((i) => `${label(i.path)}: ${i.message}`),
    );
  return {
    config: result.data as z.infer<S>,
    source,
    problem,
    readSigningKey: (key) => {
      const r = byKey.get(key);
      const file = (result.data as Record<string, unknown>)[key];
      if (!r || typeof file !== 'string') throw new TypeError(`readSigningKey: ${key} is not a file option`);
      const o = r.option;
      return readSigningKeyFile(
        spec.name,
        { name: key, flag: 'flag' in o ? o.flag.split(' ')[0]! : '', env: o.env },
        file,
      );
    },
  };
}

/** Commander's own usage errors (an unknown flag, a missing value) exit 2 too; --help exits 0. */
function exitOverride(command: Command): void {
  command.exitOverride((err: CommanderError) => {
    if (
      err.code === 'commander.helpDisplayed' ||
      err.code === 'commander.version' ||
      err.code === 'commander.help'
    )
      process.exit(EXIT.ok);
    process.exit(err.exitCode === 0 ? EXIT.ok : EXIT.config);
  });
  for (const sub of command.commands) exitOverride(sub);
}

/** For CLIs built on subcommands: usage errors exit 2 like every other configuration problem. */
export function usageErrorsExit2(command: Command): Command {
  exitOverride(command);
  return command;
}

/**
 * Parses the command line and environment for a single-command process and validates them once;
 * `finish` may read files and run further checks. Any ConfigError exits 2 with its message.
 */
export function startShell<S extends z.ZodType, R = Shell<z.infer<S>>>(
  spec: ShellSpec<S>,
  finish?: (shell: Shell<z.infer<S>>) => R,
  io: ShellIo = {},
): R {
  const command = addShellOptions(new Command(spec.name).description(spec.description), spec);
  exitOverride(command);
  command.parse(io.argv ?? process.argv);
  try {
    const shell = resolveShellOptions(command, spec, io.env ?? process.env);
    return finish ? finish(shell) : (shell as R);
  } catch (err) {
    return exitOnConfigError(err);
  }
}
