import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import {
  goodSigningKeyFile,
  requireTool,
  runCli,
  signerWithKeyFile,
  systemdAnalyze,
  unitDirectives,
  unitRoot,
} from '@appliance/test-kit';
import { readConfigFile } from '../../runtime/src/config-file.js';
import { EXIT } from '../../runtime/src/exit-codes.js';
import { kafkaSecurityFromEnv } from '../../runtime/src/kafka-security.js';

/**
 * The server units in deploy/systemd: they pass `systemd-analyze verify` silently, carry the
 * device unit's hardening, name only options their process has, load every secret as a
 * credential, and the example configs in deploy/config are accepted by their process.
 */
const DEPLOY = fileURLToPath(new URL('../', import.meta.url));
const REPO = fileURLToPath(new URL('../../', import.meta.url));
const DEVICE_UNIT = join(REPO, 'images/systemd/signal-client.service');
const SYSUSERS = join(DEPLOY, 'systemd/signal-appliance.sysusers');
const INSTALL = '/opt/signal-appliance/';
const ETC = '/etc/signal-appliance/';
const NODE = '/usr/bin/node';

interface Server {
  /** The unit file in deploy/systemd. */
  file: string;
  /** The unit name systemd-analyze checks (an instance of a template). */
  unit: string;
  instance?: string;
  /** Option keys whose example value is a placeholder for the operator, with the variable that fills it in. */
  placeholders: Record<string, string>;
  /** A variable that makes the process stop with exit 2 after its configuration is validated, and the one issue it must then print. */
  force: { env: Record<string, string>; issue: RegExp };
}

// Every process with Kafka reads its TLS/SASL settings after the options are validated: a
// refused mechanism there is reported only if everything before it (flags, variables, the config
// file, the key files) was accepted.
const AFTER_VALIDATION = {
  env: { KAFKA_SASL_MECHANISM: 'plain' },
  issue: /^KAFKA_SASL_MECHANISM: must be scram-sha-256 or scram-sha-512/,
};

const SERVERS: Server[] = [
  {
    file: 'signal-control-server.service',
    unit: 'signal-control-server.service',
    placeholders: { feedKeys: 'CONTROL_FEED_KEYS' },
    force: AFTER_VALIDATION,
  },
  {
    file: 'signal-paper-exchange.service',
    unit: 'signal-paper-exchange.service',
    placeholders: {},
    // No Kafka: its candle files are checked after the options, so an unreadable one is the probe.
    force: {
      env: { PAPER_EXCHANGE_CANDLES: '/nonexistent/binance_BTC-USDT_1h.csv' },
      issue: /^candles \(--candles, PAPER_EXCHANGE_CANDLES\): .*cannot be read \(ENOENT\)$/,
    },
  },
  {
    file: 'signal-gateway@.service',
    unit: 'signal-gateway@gw-a.service',
    instance: 'gw-a',
    placeholders: { tokenKeys: 'GATEWAY_TOKEN_KEYS', signalKeys: 'GATEWAY_SIGNAL_KEYS' },
    force: AFTER_VALIDATION,
  },
  {
    file: 'signal-datafeed@.service',
    unit: 'signal-datafeed@ema-cross-1h.service',
    instance: 'ema-cross-1h',
    placeholders: {},
    force: AFTER_VALIDATION,
  },
  {
    file: 'signal-simulator@.service',
    unit: 'signal-simulator@sim-a.service',
    instance: 'sim-a',
    placeholders: { candleKeys: 'SIMULATOR_CANDLE_KEYS' },
    // It reads KAFKA_* last in its validation, after the key file and the pinned keys.
    force: AFTER_VALIDATION,
  },
];

/**
 * Keys of the device's unit that a server unit sets differently, and why. Every other key of
 * the device's unit (its hardening) must be in each server unit with the same value.
 */
const DIFFERENT_FROM_DEVICE: Record<string, string> = {
  Description: 'each unit says what it runs',
  Wants: 'the same network-online.target, checked below',
  After: 'the same network-online.target, checked below',
  WantedBy: 'the same multi-user.target, checked below',
  StartLimitIntervalSec: 'a server gives up after a burst of failed starts for somebody to look at',
  Type: 'the servers have no sd_notify: Type=simple',
  NotifyAccess: 'no sd_notify',
  WatchdogSec: 'no sd_notify, so no watchdog pings',
  Restart: 'on-failure: a replay that finished (exit 0) stays stopped',
  RestartSec: 'per process',
  TimeoutStartSec: 'the device reconciles with the exchange at start; the servers do not',
  TimeoutStopSec: 'per process',
  ExecStart: 'per process',
  Environment: 'per process, checked against its --help',
  LoadCredentialEncrypted: 'per process, checked against its Environment=',
  User: 'one user per process (signal-appliance.sysusers)',
  Group: 'one group per process',
  StateDirectory: 'only the control server and the simulator nodes keep state',
  StateDirectoryMode: 'only with StateDirectory=',
  ReadWritePaths: 'only the control server and the simulator nodes write (their StateDirectory=)',
  MemoryMax: 'sized per process',
};

/** Keys only the server units have, and why. */
const SERVER_ONLY: Record<string, string> = {
  Documentation: 'deploy/README.md',
  StartLimitBurst: 'with StartLimitIntervalSec=',
  RestartPreventExitStatus: 'exit 2 (bad configuration) does not fix itself',
  WorkingDirectory: '`--import tsx` resolves from the checkout',
  LimitNOFILE: 'the gateway: one socket per device',
};

/** Variables a unit may set that are no option of the process, and why. */
const NOT_OPTIONS: Record<string, string> = {
  LOG_LEVEL: 'the log level of every process (README: variables only)',
  NODE_ENV: 'for npm packages, as the device unit sets it',
};

/** The `#   Key=value` lines of a commented drop-in example in a unit. */
function commentedDirectives(text: string): Map<string, string[]> {
  return unitDirectives(
    text
      .split('\n')
      .flatMap((line) => {
        const m = /^#\s+((?:LoadCredentialEncrypted|Environment)=.*)$/.exec(line);
        return m ? [m[1]!] : [];
      })
      .join('\n'),
  );
}

/** `A=1 B=2` (no quoting is used in these units) as pairs. */
function environment(values: string[] = []): [string, string][] {
  return values.flatMap((v) => {
    if (/["'\\]/.test(v)) throw new Error(`quoting in Environment=${v}: extend the parser`);
    return v.split(/\s+/).map((pair) => {
      const i = pair.indexOf('=');
      return [pair.slice(0, i), pair.slice(i + 1)] as [string, string];
    });
  });
}

/** `name:path` of LoadCredentialEncrypted= as a map. */
function credentials(values: string[] = []): Map<string, string> {
  return new Map(values.map((v) => [v.slice(0, v.indexOf(':')), v.slice(v.indexOf(':') + 1)]));
}

const unitText = (s: Server) => readFileSync(join(DEPLOY, 'systemd', s.file), 'utf8');

interface ExecStart {
  nodeArgs: string[];
  /** The entry point in this checkout that the installed path runs. */
  entry: string;
  args: string[];
}

function execStart(s: Server): ExecStart {
  const values = unitDirectives(unitText(s)).get('ExecStart') ?? [];
  if (values.length !== 1) throw new Error(`${s.file}: one ExecStart= expected, got ${values.length}`);
  const [node, ...rest] = values[0]!.split(/\s+/);
  if (node !== NODE) throw new Error(`${s.file}: ExecStart runs ${node}, not ${NODE}`);
  const at = rest.findIndex((a) => a.startsWith(INSTALL));
  const installed = rest[at]!.slice(INSTALL.length);
  // The compiled gateway is gateway/src/main.ts bundled (npm run build:gateway): same options.
  const entry = installed === 'gateway/dist/gateway.mjs' ? 'gateway/src/main.ts' : installed;
  return { nodeArgs: rest.slice(0, at), entry: join(REPO, entry), args: rest.slice(at + 1) };
}

/** The flags and variables a process's --help names. */
function helpNames(entry: string): { flags: Set<string>; vars: Set<string>; text: string } {
  const r = runCli(entry, ['--help']);
  if (r.status !== 0) throw new Error(`${entry} --help exited ${r.status}: ${r.stderr}`);
  // Commander wraps the descriptions: "(env:\n   CONTROL_DATA_DIR)".
  const text = r.stdout.replace(/\s+/g, ' ');
  const flags = new Set([...text.matchAll(/(?:^|[\s,])(--[a-z][a-z-]*)/g)].map((m) => m[1]!));
  const vars = new Set([
    ...[...text.matchAll(/\(env: ([A-Z0-9_]+)\)/g)].map((m) => m[1]!),
    ...[...text.matchAll(/ ([A-Z0-9_]+) \(or ([A-Z0-9_]+) naming a file\)/g)].flatMap((m) => [m[1]!, m[2]!]),
  ]);
  return { flags, vars, text };
}

const help = new Map(SERVERS.map((s) => [s.file, helpNames(execStart(s).entry)]));

/** Variables to unset for a run, so that the test runner's environment cannot leak in. */
function cleared(s: Server): Record<string, undefined> {
  const names = [
    ...help.get(s.file)!.vars,
    ...Object.keys(process.env).filter((k) => k.startsWith('KAFKA_')),
    'CREDENTIALS_DIRECTORY',
    'LOG_LEVEL',
  ];
  return Object.fromEntries(names.map((n) => [n, undefined]));
}

function tempDir(t: Test, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The value systemd gives `%d` and `%i` in this unit, as this test lays them out. */
function expand(s: Server, value: string, credsDir: string): string {
  const out = value.replaceAll('%d', credsDir).replaceAll('%i', s.instance ?? '');
  if (out.includes('%')) throw new Error(`unexpected specifier in ${value}`);
  return out;
}

/** The example config file for an installed config path. */
const exampleConfig = (installed: string) => join(DEPLOY, 'config', installed.slice(ETC.length));

/**
 * Runs the process as its unit would: its ExecStart arguments (the config path mapped to
 * deploy/config), its Environment= with `%d` a folder holding each credential, and `env` over it.
 */
function runAsUnit(s: Server, credsDir: string, env: Record<string, string> = {}, config?: string) {
  const { entry, args } = execStart(s);
  const mapped = args.map((a) => {
    const v = expand(s, a, credsDir);
    return v.startsWith(ETC) ? (config ?? exampleConfig(v)) : v;
  });
  const unitEnv = Object.fromEntries(
    environment(unitDirectives(unitText(s)).get('Environment')).map(([k, v]) => [k, expand(s, v, credsDir)]),
  );
  return runCli(entry, mapped, { ...cleared(s), ...unitEnv, ...env });
}

/** A folder with every credential the unit loads, each a usable value of its kind. */
function credentialsDir(t: Test, s: Server): string {
  const dir = tempDir(t, 'creds-');
  for (const name of credentials(unitDirectives(unitText(s)).get('LoadCredentialEncrypted')).keys()) {
    if (name === 'signing-key') goodSigningKeyFile(dir, name);
    else writeFileSync(join(dir, name), `${randomBytes(24).toString('base64url')}\n`, { mode: 0o600 });
  }
  return dir;
}

/** The issue lines (`  - ...`) a process printed when it stopped with exit 2. */
const issues = (stderr: string) =>
  stderr
    .split('\n')
    .filter((l) => l.startsWith('  - '))
    .map((l) => l.slice(4));

/**
 * A root folder as the server will have it: the units, byte for byte, in /etc/systemd/system,
 * an executable at /usr/bin/node, and the host's targets. `systemd-analyze --root=` then checks
 * the units unmodified.
 */
function serverRoot(t: Test, replace?: { file: string; text: string }): string {
  const units = Object.fromEntries(
    readdirSync(join(DEPLOY, 'systemd'))
      .filter((f) => f.endsWith('.service'))
      .map((f) => [f, replace?.file === f ? replace.text : readFileSync(join(DEPLOY, 'systemd', f))]),
  );
  return unitRoot(t, units, [NODE]);
}

const skipAnalyze = requireTool('systemd-analyze', 'systemd')
  ? false
  : 'systemd-analyze is not installed (apt-get install systemd)';

t.test('every unit in deploy/systemd is tested', async (t) => {
  const files = readdirSync(join(DEPLOY, 'systemd')).filter((f) => f.endsWith('.service'));
  t.same(files.sort(), SERVERS.map((s) => s.file).sort());
});

t.test('each unit passes systemd-analyze verify without a warning', { skip: skipAnalyze }, async (t) => {
  const root = serverRoot(t);
  for (const s of SERVERS) {
    // verify exits 0 even for unknown keys, bad values and unknown specifiers (it only warns),
    // so silence is the test.
    const r = systemdAnalyze(['verify', '--man=no', `--root=${root}`, s.unit]);
    t.equal(r.status, 0, `${s.unit}: ${r.out}`);
    t.equal(r.out, '', `${s.unit}: no warnings`);
  }
});

t.test(
  'the check is real: a misspelt key or a bad specifier is reported',
  { skip: skipAnalyze },
  async (t) => {
    const s = SERVERS.find((x) => x.instance === 'ema-cross-1h')!;
    const text = unitText(s)
      .replace('NoNewPrivileges=yes', 'NoNewPrivilege=yes')
      .replace('DATAFEED_SIGNING_KEY_FILE=%d/', 'DATAFEED_SIGNING_KEY_FILE=%Q/');
    const r = systemdAnalyze([
      'verify',
      '--man=no',
      `--root=${serverRoot(t, { file: s.file, text })}`,
      s.unit,
    ]);
    t.match(r.out, /Unknown key 'NoNewPrivilege'/);
    t.match(r.out, /Failed to resolve specifiers in DATAFEED_SIGNING_KEY_FILE=%Q\/signing-key/);
  },
);

t.test('their hardening rates as OK in systemd-analyze security', { skip: skipAnalyze }, async (t) => {
  const root = serverRoot(t);
  for (const s of SERVERS) {
    const r = systemdAnalyze(['security', '--offline=true', `--root=${root}`, '--no-pager', s.unit]);
    const m = /Overall exposure level for \S+: ([\d.]+) (\w+)/.exec(r.out);
    if (!m) t.fail(`${s.unit}: no overall exposure in:\n${r.out.slice(-1000)}`);
    t.ok(Number(m?.[1]) <= 2.0, `${s.unit}: exposure ${m?.[1]} is at most 2.0 (as the device's)`);
  }
});

t.test("each unit has the device unit's hardening, differing only where documented", async (t) => {
  const device = unitDirectives(readFileSync(DEVICE_UNIT, 'utf8'));
  t.notOk(device.has('MemoryDenyWriteExecute'), 'the device leaves MemoryDenyWriteExecute off too');
  for (const s of SERVERS) {
    const unit = unitDirectives(unitText(s));
    for (const [key, value] of device) {
      if (key in DIFFERENT_FROM_DEVICE) continue;
      t.same(unit.get(key), value, `${s.file}: ${key}= as on the device`);
    }
    for (const key of unit.keys())
      t.ok(
        device.has(key) || key in SERVER_ONLY,
        `${s.file}: ${key}= is the device's or a documented server-only key`,
      );
    t.notOk(unit.has('MemoryDenyWriteExecute'), `${s.file}: no MemoryDenyWriteExecute (V8's JIT)`);
    t.same(unit.get('Type'), ['simple'], `${s.file}: Type=simple (no sd_notify)`);
    t.same(unit.get('Restart'), ['on-failure'], `${s.file}: Restart=on-failure`);
    t.same(
      unit.get('RestartPreventExitStatus'),
      [String(EXIT.config)],
      `${s.file}: bad configuration is not restarted`,
    );
    t.ok(Number(unit.get('StartLimitBurst')?.[0]) > 0, `${s.file}: StartLimitBurst=`);
    t.ok(Number(unit.get('StartLimitIntervalSec')?.[0]) > 0, `${s.file}: StartLimitIntervalSec=`);
    t.same(unit.get('After'), device.get('After'), `${s.file}: After=network-online.target`);
    t.same(unit.get('Wants'), device.get('Wants'), `${s.file}: Wants=network-online.target`);
    t.same(unit.get('WantedBy'), device.get('WantedBy'), `${s.file}: WantedBy=multi-user.target`);
    t.match(unit.get('MemoryMax')?.[0], /^\d+[MG]$/, `${s.file}: MemoryMax= is set`);
    t.same(unit.get('WorkingDirectory'), ['/opt/signal-appliance'], `${s.file}: WorkingDirectory=`);
    t.same(unit.get('Group'), unit.get('User'), `${s.file}: its own group`);
  }
  const gateway = unitDirectives(unitText(SERVERS.find((s) => s.file === 'signal-gateway@.service')!));
  t.ok(Number(gateway.get('LimitNOFILE')?.[0]) >= 65536, 'the gateway may hold a socket per device');
  const control = unitDirectives(unitText(SERVERS[0]!));
  t.same(control.get('StateDirectory'), ['signal-control-server']);
  t.same(control.get('ReadWritePaths'), ['/var/lib/signal-control-server']);
  t.ok(
    environment(control.get('Environment')).some(
      ([k, v]) => k === 'CONTROL_DATA_DIR' && v === '/var/lib/signal-control-server',
    ),
    'the control server keeps its registry in its StateDirectory=',
  );
  const simulator = unitDirectives(unitText(SERVERS.find((s) => s.file === 'signal-simulator@.service')!));
  t.same(simulator.get('StateDirectory'), ['signal-simulator/%i'], 'a state folder per simulator node');
  t.same(simulator.get('ReadWritePaths'), ['/var/lib/signal-simulator/%i']);
  t.ok(
    environment(simulator.get('Environment')).some(
      ([k, v]) => k === 'SIMULATOR_DATA_DIR' && v === '/var/lib/signal-simulator/%i',
    ),
    'a simulator node keeps its candle store in its StateDirectory=',
  );
  t.ok(
    environment(simulator.get('Environment')).some(([k, v]) => k === 'SIMULATOR_NODE' && v === '%i'),
    'the instance name is the node name',
  );
  for (const s of SERVERS.filter(
    (x) => !['signal-control-server.service', 'signal-simulator@.service'].includes(x.file),
  )) {
    const d = unitDirectives(unitText(s));
    t.notOk(d.has('StateDirectory') || d.has('ReadWritePaths'), `${s.file}: no state, nothing writable`);
  }
});

t.test("every flag and variable a unit gives is one its process's --help names", async (t) => {
  for (const s of SERVERS) {
    const names = help.get(s.file)!;
    const { nodeArgs, entry, args } = execStart(s);
    t.ok(existsSync(entry), `${s.file}: ${entry} exists`);
    t.same(
      nodeArgs,
      s.file === 'signal-gateway@.service' ? [] : ['--import', 'tsx'],
      `${s.file}: node arguments (the gateway runs its bundle)`,
    );
    for (const a of args.filter((x) => x.startsWith('--')))
      t.ok(names.flags.has(a), `${s.file}: ${a} is an option of ${entry}`);
    const text = unitText(s);
    for (const [name] of environment(unitDirectives(text).get('Environment')))
      t.ok(
        names.vars.has(name) || name in NOT_OPTIONS,
        `${s.file}: ${name} is a variable of ${entry}${name in NOT_OPTIONS ? ` (${NOT_OPTIONS[name]})` : ''}`,
      );
    // The commented drop-in examples: their variables are the process's too, and the Kafka
    // ones (a family --help names as KAFKA_SASL_*) really configure SASL with the credential.
    const dropIn = commentedDirectives(text);
    const dir = tempDir(t, 'drop-in-creds-');
    for (const name of credentials(dropIn.get('LoadCredentialEncrypted')).keys())
      writeFileSync(join(dir, name), 'a-kafka-password\n');
    const env = environment(dropIn.get('Environment')).map(([k, v]) => [k, expand(s, v, dir)] as const);
    for (const [name] of env)
      t.ok(
        names.vars.has(name) || (name.startsWith('KAFKA_SASL_') && names.text.includes('KAFKA_SASL_*')),
        `${s.file}: ${name} in the commented drop-in is a variable of ${entry}`,
      );
    if (env.some(([k]) => k.startsWith('KAFKA_')))
      t.match(
        kafkaSecurityFromEnv(Object.fromEntries(env), (p) => readFileSync(p, 'utf8')).sasl,
        { mechanism: /^scram-sha-/, username: /./, password: 'a-kafka-password' },
        `${s.file}: its commented Kafka SASL drop-in configures SASL with the credential`,
      );
  }
});

t.test('every secret comes from a credential, each loaded credential is used', async (t) => {
  for (const s of SERVERS) {
    const d = unitDirectives(unitText(s));
    const loaded = credentials(d.get('LoadCredentialEncrypted'));
    const used = environment(d.get('Environment')).flatMap(([, v]) =>
      v.startsWith('%d/') ? [v.slice(3)] : [],
    );
    t.same([...loaded.keys()].sort(), used.sort(), `${s.file}: credentials loaded = credentials used`);
    for (const [name, path] of loaded)
      t.match(
        path,
        /^\/etc\/credstore\.encrypted\/[a-z%-]+-[a-z-]+\.cred$/,
        `${s.file}: ${name} from the credstore`,
      );
    // A secret variable (named "(or X_FILE naming a file)" in --help) is only ever given as its file.
    const secrets = [
      ...help.get(s.file)!.text.matchAll(/ ([A-Z0-9_]+) \(or [A-Z0-9_]+ naming a file\)/g),
    ].map((m) => m[1]!);
    for (const [name, value] of environment(d.get('Environment'))) {
      t.notOk(secrets.includes(name), `${s.file}: the secret ${name} is not in the unit`);
      if (name.endsWith('_FILE')) t.match(value, /^%d\//, `${s.file}: ${name} points into the credentials`);
    }
  }
});

t.test('the example configs are accepted by their process', async (t) => {
  for (const s of SERVERS) {
    const { args } = execStart(s);
    const installed = expand(
      s,
      args.find((a) => a.startsWith(ETC))!,
      '',
    );
    const file = exampleConfig(installed);
    t.ok(existsSync(file), `${s.file}: an example for ${installed}`);
    const config = readConfigFile(file);
    const creds = credentialsDir(t, s);
    const dir = tempDir(t, 'config-');

    // The option keys the process knows, from its own refusal of an unknown one.
    const probe = join(dir, 'probe.json');
    writeFileSync(probe, JSON.stringify({ ...config, notAnOption: 1 }));
    const refused = runAsUnit(s, creds, {}, probe);
    t.equal(refused.status, EXIT.config, `${s.file}: an unknown key exits 2`);
    const known = /unknown option "notAnOption" \(known: ([^)]*)\)/.exec(refused.stderr)?.[1]?.split(', ');
    if (!known) {
      t.fail(`${s.file}: no list of known options in: ${refused.stderr}`);
      continue;
    }
    for (const key of Object.keys(config)) t.ok(known.includes(key), `${s.file}: "${key}" is an option`);
    t.notMatch(refused.stderr, /unknown option "(?!notAnOption")/, `${s.file}: only the probe is unknown`);

    // The placeholders the operator must fill in stop the start, naming exactly those keys.
    const placeholders = Object.keys(config).filter((k) => JSON.stringify(config[k]).includes('<'));
    t.same(placeholders.sort(), Object.keys(s.placeholders).sort(), `${s.file}: the placeholders`);
    const fill: Record<string, string> = {};
    if (placeholders.length) {
      const unfilled = runAsUnit(s, creds, s.force.env);
      t.equal(unfilled.status, EXIT.config, `${s.file}: a placeholder left in exits 2`);
      t.same(
        [...new Set(issues(unfilled.stderr).map((i) => i.split(/[ .]/)[0]))].sort(),
        placeholders.sort(),
        `${s.file}: only the placeholders are refused`,
        { stderr: unfilled.stderr },
      );
      // A public key as `npm run keygen` prints it: base64url of the raw 32 bytes (the JWK's x).
      const key = String(signerWithKeyFile(dir, 'pinned.pem').signer.publicKey.export({ format: 'jwk' }).x);
      for (const v of Object.values(s.placeholders)) fill[v] = key;
    }

    // Filled in, with the unit's variables and credentials, every value passes validation: the
    // process gets as far as the check the test makes fail on purpose, and that is the only issue.
    const r = runAsUnit(s, creds, { ...fill, ...s.force.env });
    t.equal(r.status, EXIT.config, `${s.file}: stopped by the deliberate problem`);
    const found = issues(r.stderr);
    t.equal(found.length, 1, `${s.file}: one issue`, { stderr: r.stderr });
    t.match(found[0], s.force.issue, `${s.file}: the configuration and credentials were accepted`);
  }
});

const skipCreds = (() => {
  if (!requireTool('systemd-creds', 'systemd'))
    return 'systemd-creds is not installed (apt-get install systemd)';
  if (process.getuid?.() === 0) return false;
  if (process.env.CI === 'true')
    throw new Error('CI runs as root, and this test needs root for the host key');
  return 'systemd-creds needs root to use the host key';
})();

t.test(
  'a signing key encrypted with systemd-creds decrypts to a key the datafeed takes',
  { skip: skipCreds },
  async (t) => {
    const s = SERVERS.find((x) => x.instance === 'ema-cross-1h')!;
    const dir = tempDir(t, 'credstore-');
    const pem = goodSigningKeyFile(dir, 'key.pem');
    const cred = join(dir, 'datafeed-ema-cross-1h-signing-key.cred');
    // As deploy/README.md says: the credential's name is the one LoadCredentialEncrypted= gives.
    const enc = spawnSync('systemd-creds', ['encrypt', '--name=signing-key', pem, cred], {
      encoding: 'utf8',
    });
    t.equal(enc.status, 0, 'systemd-creds encrypt', { stderr: enc.stderr });
    t.notMatch(readFileSync(cred, 'utf8'), /PRIVATE KEY/, 'the credential file is encrypted');
    // What systemd does at start, into the service's credentials folder (%d).
    const creds = tempDir(t, 'creds-');
    const dec = spawnSync(
      'systemd-creds',
      ['decrypt', '--name=signing-key', cred, join(creds, 'signing-key')],
      {
        encoding: 'utf8',
      },
    );
    t.equal(dec.status, 0, 'systemd-creds decrypt', { stderr: dec.stderr });
    t.equal(
      readFileSync(join(creds, 'signing-key'), 'utf8'),
      readFileSync(pem, 'utf8'),
      'decrypted as written',
    );
    const wrongName = spawnSync('systemd-creds', ['decrypt', '--name=admin-token', cred, join(dir, 'x')], {
      encoding: 'utf8',
    });
    t.not(wrongName.status, 0, 'a credential decrypts only under its own name');
    const r = runAsUnit(s, creds, s.force.env);
    t.equal(r.status, EXIT.config);
    t.equal(issues(r.stderr).length, 1, 'one issue', { stderr: r.stderr });
    t.match(issues(r.stderr)[0], s.force.issue, 'the decrypted key was read and accepted');
  },
);

t.test(
  'signal-appliance.sysusers creates the user and group of each unit',
  { skip: requireTool('systemd-sysusers', 'systemd') ? false : 'systemd-sysusers is not installed' },
  async (t) => {
    const root = tempDir(t, 'sysusers-');
    mkdirSync(join(root, 'etc'));
    const r = spawnSync('systemd-sysusers', [`--root=${root}`, SYSUSERS], { encoding: 'utf8' });
    t.equal(r.status, 0, 'systemd-sysusers', { stderr: r.stderr });
    const passwd = readFileSync(join(root, 'etc/passwd'), 'utf8');
    const group = readFileSync(join(root, 'etc/group'), 'utf8');
    for (const s of SERVERS) {
      const d = unitDirectives(unitText(s));
      const user = d.get('User')![0]!;
      t.match(
        passwd,
        new RegExp(`^${user}:x:\\d+:\\d+:[^:]*:[^:]*:/usr/sbin/nologin$`, 'm'),
        `${s.file}: user ${user}`,
      );
      t.match(group, new RegExp(`^${d.get('Group')![0]!}:x:\\d+:`, 'm'), `${s.file}: group`);
    }
    t.match(passwd, /^signal-control-server:x:\d+:\d+:[^:]*:\/var\/lib\/signal-control-server:/m);
  },
);
