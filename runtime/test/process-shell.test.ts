// The process shell: flag > environment > --config file > default, validated once, every
// problem naming the option's flag and variable.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import t from 'tap';
import { z } from 'zod';
import { ConfigError, EXIT, addShellOptions, resolveShellOptions, type ShellSpec } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'shell-'));
const Schema = z.object({
  port: z.coerce.number().int().min(0).max(65535),
  keys: z.array(z.string().min(2)),
  paper: z.boolean(),
  live: z.boolean(),
  name: z.string().optional(),
  token: z.string().min(4),
});
const SPEC: ShellSpec<typeof Schema> = {
  name: 'demo',
  description: 'a demo process',
  configEnv: 'DEMO_CONFIG',
  schema: Schema,
  secrets: [{ env: 'DEMO_TOKEN', key: 'token', description: 'a secret' }],
  options: [
    { flag: '--port <n>', env: 'DEMO_PORT', description: 'port', default: '8080' },
    { flag: '--key <k...>', env: 'DEMO_KEYS', key: 'keys', description: 'keys', default: [] },
    { flag: '--no-paper', env: 'DEMO_PAPER', description: 'no paper' },
    { flag: '--live', env: 'DEMO_LIVE', description: 'live', default: false },
    { flag: '--name <s>', env: 'DEMO_NAME', description: 'a name' },
  ],
};

function parse(args: string[], env: Record<string, string> = {}) {
  const command = addShellOptions(new Command('demo'), SPEC).exitOverride();
  command.parse(args, { from: 'user' });
  return resolveShellOptions(command, SPEC, { DEMO_TOKEN: 'secret', ...env });
}
const file = (body: unknown) => {
  const path = join(dir, `${Math.random()}.json`);
  writeFileSync(path, JSON.stringify(body));
  return path;
};

t.test('defaults when nothing is given', async (t) => {
  const s = parse([]);
  t.same(s.config, { port: 8080, keys: [], paper: true, live: false, token: 'secret' });
  t.same(s.source, {
    port: 'default',
    keys: 'default',
    paper: 'default',
    live: 'default',
    name: 'default',
    token: 'env',
  });
});

t.test('flag > variable > file > default', async (t) => {
  const config = file({ port: 1, keys: ['ff', 'gg'], paper: false, name: 'from-file' });
  const s = parse(['--config', config, '--port', '3'], { DEMO_PORT: '2', DEMO_NAME: 'from-env' });
  t.same(s.config, {
    port: 3,
    keys: ['ff', 'gg'],
    paper: false,
    live: false,
    name: 'from-env',
    token: 'secret',
  });
  t.same(s.source, { port: 'flag', keys: 'file', paper: 'file', live: 'default', name: 'env', token: 'env' });
  const viaEnv = parse([], { DEMO_CONFIG: config });
  t.equal(viaEnv.config.port, 1, 'the file named by DEMO_CONFIG');
});

t.test('lists split at commas from flag, variable and file; booleans from 1/true and 0/false', async (t) => {
  t.same(parse(['--key', 'aa,bb', 'cc']).config.keys, ['aa', 'bb', 'cc']);
  t.same(parse([], { DEMO_KEYS: 'aa, bb,,cc' }).config.keys, ['aa', 'bb', 'cc']);
  t.same(parse(['--config', file({ keys: 'aa,bb' })]).config.keys, ['aa', 'bb']);
  t.equal(parse([], { DEMO_PAPER: '0' }).config.paper, false);
  t.equal(parse([], { DEMO_LIVE: 'true' }).config.live, true);
  t.equal(parse(['--no-paper'], { DEMO_PAPER: '1' }).config.paper, false, 'the flag wins');
  t.equal(parse([], { DEMO_PORT: '' }).config.port, 8080, 'an empty variable is unset');
});

t.test('every problem names the option with its flag and variable', async (t) => {
  const err = t.throws(() =>
    parse(['--port', 'x', '--key', 'a'], { DEMO_LIVE: 'yes', DEMO_TOKEN: '' }),
  ) as ConfigError;
  t.type(err, ConfigError);
  t.equal(err.code, 'E_CONFIG');
  t.same(err.issues, [
    'port (--port, DEMO_PORT): Invalid input: expected number, received NaN',
    'keys.0 (--key, DEMO_KEYS): Too small: expected string to have >=2 characters',
    'live (--live, DEMO_LIVE): Invalid input: expected boolean, received string',
    'token (DEMO_TOKEN): Too small: expected string to have >=4 characters',
  ]);
  t.equal(err.message, `invalid demo configuration:\n  - ${err.issues.join('\n  - ')}`);
  t.same(parse([]).problem('port', 'in use').issues, ['port (--port, DEMO_PORT): in use']);
});

t.test('a config file that is missing, not JSON, not an object or with unknown keys is named', async (t) => {
  const issues = (path: string) => (t.throws(() => parse(['--config', path])) as ConfigError).issues;
  t.match(issues(join(dir, 'nope.json')), [
    /^config \(--config, DEMO_CONFIG\): .*nope\.json: cannot be read \(ENOENT\)$/,
  ]);
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, '{');
  t.match(issues(bad), [/bad\.json: not valid JSON at line 1 column 2: /]);
  t.match(issues(file([1])), [/: not a JSON object$/]);
  t.match(issues(file({ prot: 1, token: 'x' })), [
    /unknown option "prot" \(known: port, keys, paper, live, name\)/,
    /unknown option "token"/,
  ]);
});

t.test('a config file may carry comments and trailing commas, as the documented examples do', async (t) => {
  const commented = join(dir, 'commented.json');
  writeFileSync(commented, '// the demo\n{\n  "port": 9000, /* the API */\n  "keys": ["ab", "cd",],\n}\n');
  t.same(parse(['--config', commented]).config.keys, ['ab', 'cd']);
  t.equal(parse(['--config', commented]).config.port, 9000);
  writeFileSync(commented, '{\n  "port": 9000\n  "keys": []\n}');
  t.match((t.throws(() => parse(['--config', commented])) as ConfigError).issues, [
    /commented\.json: not valid JSON at line 3 column 3: CommaExpected$/,
  ]);
});

t.test('a secret may come from the file its _FILE variable names, not from both', async (t) => {
  const secret = join(dir, 'token');
  writeFileSync(secret, 'from-a-file\n');
  const command = () => addShellOptions(new Command('demo'), SPEC).exitOverride().parse([], { from: 'user' });
  t.equal(resolveShellOptions(command(), SPEC, { DEMO_TOKEN_FILE: secret }).config.token, 'from-a-file');
  const both = t.throws(() =>
    resolveShellOptions(command(), SPEC, { DEMO_TOKEN: 'secret', DEMO_TOKEN_FILE: secret }),
  ) as ConfigError;
  t.same(both.issues, ['token (DEMO_TOKEN, DEMO_TOKEN_FILE): set one of them, not both']);
  const missing = t.throws(() =>
    resolveShellOptions(command(), SPEC, { DEMO_TOKEN_FILE: join(dir, 'none') }),
  ) as ConfigError;
  t.same(missing.issues, [`token (DEMO_TOKEN_FILE): ${join(dir, 'none')}: cannot be read (ENOENT)`]);
  t.notMatch(both.message + missing.message, /from-a-file/, 'the secret is never in a message');
});

t.test('readSigningKey names the option', async (t) => {
  const Keyed = z.object({ keyFile: z.string() });
  const spec: ShellSpec<typeof Keyed> = {
    name: 'keyed',
    description: '',
    schema: Keyed,
    options: [{ flag: '--key-file <f>', env: 'KEYED_KEY_FILE', description: 'key' }],
  };
  const command = addShellOptions(new Command('keyed'), spec).exitOverride();
  command.parse(['--key-file', join(dir, 'nope.pem')], { from: 'user' });
  const err = t.throws(() => resolveShellOptions(command, spec, {}).readSigningKey('keyFile')) as ConfigError;
  t.same(err.issues, [`keyFile (--key-file, KEYED_KEY_FILE): ${join(dir, 'nope.pem')}: no such file`]);
});

t.test('exit codes: one meaning each', async (t) => {
  const codes = Object.values(EXIT);
  t.equal(new Set(codes).size, codes.length, 'no number has two meanings');
  t.same(EXIT, { ok: 0, failure: 1, config: 2, stateCorrupt: 3, keystore: 4, refused: 5, unreachable: 6 });
});
