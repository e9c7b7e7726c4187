import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { requireTool } from '@appliance/test-kit';
import { DEFAULT_CREDENTIALS_DIR } from '../../signal-client/src/keystore/config.js';
import { loadCredentialEncryptedLine } from '../../signal-client/src/keystore/systemd-creds.js';

const UNIT = fileURLToPath(new URL('../systemd/signal-client.service', import.meta.url));
const SYSUSERS = fileURLToPath(new URL('../systemd/signal-client.sysusers', import.meta.url));
const EXEC_START = '/opt/signal-client/signal-client';
/** The host's unit folder, copied into the test root so After=/Wants=/WantedBy= targets resolve. */
const HOST_UNITS = '/usr/lib/systemd/system';

/**
 * A root folder as the image will have it: the unit, byte for byte, in /etc/systemd/system and
 * an executable at the ExecStart path (systemd-analyze checks that it exists and may be run),
 * with the host's targets. `systemd-analyze --root=` then checks the unit unmodified.
 */
function imageRoot(t: Test, unitText = readFileSync(UNIT, 'utf8')): string {
  const root = mkdtempSync(join(tmpdir(), 'unit-root-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'etc/systemd/system'), { recursive: true });
  writeFileSync(join(root, 'etc/systemd/system/signal-client.service'), unitText);
  mkdirSync(join(root, 'opt/signal-client'), { recursive: true });
  writeFileSync(join(root, EXEC_START), '#!/bin/sh\n');
  chmodSync(join(root, EXEC_START), 0o755);
  cpSync(HOST_UNITS, join(root, HOST_UNITS), { recursive: true });
  return root;
}

function analyze(args: string[]) {
  const r = spawnSync('systemd-analyze', args, { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}`.trim() };
}

/** `Key=value` lines of the unit, comments and sections dropped. */
function directives(text: string): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (m) map.set(m[1]!, [...(map.get(m[1]!) ?? []), m[2]!]);
  }
  return map;
}

const skip = requireTool('systemd-analyze', 'systemd')
  ? false
  : 'systemd-analyze is not installed (apt-get install systemd)';

t.test('signal-client.service passes systemd-analyze verify without a warning', { skip }, async (t) => {
  const root = imageRoot(t);
  // verify exits 0 even for unknown keys and bad values (it only warns), so silence is the test.
  const r = analyze(['verify', '--man=no', `--root=${root}`, 'signal-client.service']);
  t.equal(r.status, 0, r.out);
  t.equal(r.out, '', 'no warnings');
});

t.test('the check is real: a misspelt or bad option is reported', { skip }, async (t) => {
  const broken = readFileSync(UNIT, 'utf8')
    .replace('NoNewPrivileges=yes', 'NoNewPrivilege=yes')
    .replace('ProtectSystem=strict', 'ProtectSystem=strcit');
  const root = imageRoot(t, broken);
  const r = analyze(['verify', '--man=no', `--root=${root}`, 'signal-client.service']);
  t.match(r.out, /Unknown key 'NoNewPrivilege'/);
  t.match(r.out, /Failed to parse protect system value, ignoring: strcit/);
  const noExe = imageRoot(t);
  rmSync(join(noExe, EXEC_START));
  const r2 = analyze(['verify', '--man=no', `--root=${noExe}`, 'signal-client.service']);
  t.not(r2.status, 0);
  t.match(r2.out, `Command ${EXEC_START} is not executable`);
});

t.test('its hardening rates as OK in systemd-analyze security', { skip }, async (t) => {
  const root = imageRoot(t);
  const r = analyze(['security', '--offline=true', `--root=${root}`, '--no-pager', 'signal-client.service']);
  const m = /Overall exposure level for signal-client\.service: ([\d.]+) (\w+)/.exec(r.out);
  if (!m) t.fail(`no overall exposure in:\n${r.out.slice(-1000)}`);
  t.comment(`exposure ${m?.[1]} ${m?.[2]} (0 = fully locked down, 10 = unprotected)`);
  t.ok(Number(m?.[1]) <= 2.0, `exposure ${m?.[1]} is at most 2.0`);
});

t.test('the unit says what the device needs', async (t) => {
  const d = directives(readFileSync(UNIT, 'utf8'));
  const expect: [string, string][] = [
    ['Type', 'notify'],
    ['NotifyAccess', 'main'],
    ['WatchdogSec', '30'],
    ['Restart', 'always'],
    ['ExecStart', `${EXEC_START} run --config /etc/signal-client/config.json`],
    ['User', 'signal-client'],
    ['StateDirectory', 'signal-client'],
    ['ReadWritePaths', '/var/lib/signal-client'],
    ['NoNewPrivileges', 'yes'],
    ['ProtectSystem', 'strict'],
    ['ProtectHome', 'yes'],
    ['PrivateTmp', 'yes'],
    ['PrivateDevices', 'yes'],
    ['ProtectKernelTunables', 'yes'],
    ['ProtectKernelModules', 'yes'],
    ['ProtectKernelLogs', 'yes'],
    ['ProtectControlGroups', 'yes'],
    ['RestrictAddressFamilies', 'AF_UNIX AF_INET AF_INET6'],
    ['RestrictNamespaces', 'yes'],
    ['LockPersonality', 'yes'],
    ['SystemCallFilter', '@system-service'],
    ['CapabilityBoundingSet', ''],
    ['LimitCORE', '0'],
  ];
  for (const [key, value] of expect) t.same(d.get(key), [value], `${key}=${value}`);
  t.notOk(d.has('MemoryDenyWriteExecute'), "MemoryDenyWriteExecute is off: V8's JIT needs W^X pages");
  // The keystore writes the credential where the unit loads it from.
  t.same(
    d.get('LoadCredentialEncrypted')?.map((v) => `LoadCredentialEncrypted=${v}`),
    [loadCredentialEncryptedLine(DEFAULT_CREDENTIALS_DIR)],
    'LoadCredentialEncrypted= matches `signal-client keys set`',
  );
});

t.test(
  'signal-client.sysusers creates the service user',
  { skip: requireTool('systemd-sysusers', 'systemd') ? false : 'systemd-sysusers is not installed' },
  async (t) => {
    const root = mkdtempSync(join(tmpdir(), 'sysusers-'));
    t.teardown(() => rmSync(root, { recursive: true, force: true }));
    mkdirSync(join(root, 'etc'));
    const r = spawnSync('systemd-sysusers', [`--root=${root}`, SYSUSERS], { encoding: 'utf8' });
    t.equal(r.status, 0, r.stderr);
    t.match(
      readFileSync(join(root, 'etc/passwd'), 'utf8'),
      /^signal-client:x:\d+:\d+:Signal appliance client:\/var\/lib\/signal-client:\/usr\/sbin\/nologin$/m,
    );
  },
);
