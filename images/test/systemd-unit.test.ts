import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { requireTool, systemdAnalyze, unitDirectives, unitRoot } from '@appliance/test-kit';
import { DEFAULT_CREDENTIALS_DIR } from '../../signal-client/src/keystore/config.js';
import { loadCredentialEncryptedLine } from '../../signal-client/src/keystore/systemd-creds.js';

const UNIT = fileURLToPath(new URL('../systemd/signal-client.service', import.meta.url));
const SYSUSERS = fileURLToPath(new URL('../systemd/signal-client.sysusers', import.meta.url));
const EXEC_START = '/opt/signal-client/signal-client';
/** A root folder as the image will have it: the unit, byte for byte, and an executable at the ExecStart path. */
function imageRoot(t: Test, unitText = readFileSync(UNIT, 'utf8')): string {
  return unitRoot(t, { 'signal-client.service': unitText }, [EXEC_START]);
}
const skip = requireTool('systemd-analyze', 'systemd')
  ? false
  : 'systemd-analyze is not installed (apt-get install systemd)';

t.test('signal-client.service passes systemd-analyze verify without a warning', { skip }, async (t) => {
  const root = imageRoot(t);
  // verify exits 0 even for unknown keys and bad values (it only warns), so silence is the test.
  const r = systemdAnalyze(['verify', '--man=no', `--root=${root}`, 'signal-client.service']);
  t.equal(r.status, 0, r.out);
  t.equal(r.out, '', 'no warnings');
});

t.test('the check is real: a misspelt or bad option is reported', { skip }, async (t) => {
  const broken = readFileSync(UNIT, 'utf8')
    .replace('NoNewPrivileges=yes', 'NoNewPrivilege=yes')
    .replace('ProtectSystem=strict', 'ProtectSystem=strcit');
  const root = imageRoot(t, broken);
  const r = systemdAnalyze(['verify', '--man=no', `--root=${root}`, 'signal-client.service']);
  t.match(r.out, /Unknown key 'NoNewPrivilege'/);
  t.match(r.out, /Failed to parse protect system value, ignoring: strcit/);
  const noExe = imageRoot(t);
  rmSync(join(noExe, EXEC_START));
  const r2 = systemdAnalyze(['verify', '--man=no', `--root=${noExe}`, 'signal-client.service']);
  t.not(r2.status, 0);
  t.match(r2.out, `Command ${EXEC_START} is not executable`);
});

t.test('its hardening rates as OK in systemd-analyze security', { skip }, async (t) => {
  const root = imageRoot(t);
  const r = systemdAnalyze([
    'security',
    '--offline=true',
    `--root=${root}`,
    '--no-pager',
    'signal-client.service',
  ]);
  const m = /Overall exposure level for signal-client\.service: ([\d.]+) (\w+)/.exec(r.out);
  if (!m) t.fail(`no overall exposure in:\n${r.out.slice(-1000)}`);
  t.comment(`exposure ${m?.[1]} ${m?.[2]} (0 = fully locked down, 10 = unprotected)`);
  t.ok(Number(m?.[1]) <= 2.0, `exposure ${m?.[1]} is at most 2.0`);
});

t.test('the unit says what the device needs', async (t) => {
  const d = unitDirectives(readFileSync(UNIT, 'utf8'));
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

t.test(
  'the first-boot and tunnel units pass systemd-analyze verify without a warning',
  { skip },
  async (t) => {
    const dir = fileURLToPath(new URL('../systemd/', import.meta.url));
    const units = ['signal-client-enrol.service', 'signal-client-wg.path', 'signal-client-wg.service'];
    const root = unitRoot(
      t,
      {
        ...Object.fromEntries(units.map((u) => [u, readFileSync(join(dir, u), 'utf8')])),
        'signal-client.service': readFileSync(UNIT, 'utf8'),
        'wg-quick@.service':
          '[Unit]\nDescription=stand-in\n[Service]\nType=oneshot\nExecStart=/usr/bin/wg-quick up %i\n',
      },
      [EXEC_START, '/usr/bin/wg-quick', '/usr/bin/install', '/usr/bin/rm', '/bin/sh'],
    );
    for (const unit of units) {
      const r = systemdAnalyze(['verify', '--man=no', `--root=${root}`, unit]);
      t.equal(r.status, 0, r.out);
      t.equal(r.out, '', `${unit}: no warnings`);
    }
    const enrol = unitDirectives(readFileSync(join(dir, 'signal-client-enrol.service'), 'utf8'));
    t.same(
      enrol.get('ConditionPathExists'),
      ['!/var/lib/signal-client/enrolment.json', '/etc/signal-client/enrolment-token'],
      'runs only before the device has enrolled, and only with a token',
    );
    t.match(
      enrol.get('ExecStart')?.[0] ?? '',
      /signal-client enrol --token @\/etc\/signal-client\/enrolment-token --state-dir \/var\/lib\/signal-client$/,
    );
    const wg = readFileSync(join(dir, 'signal-client-wg.service'), 'utf8');
    t.match(
      wg,
      /wg-quick strip \/var\/lib\/signal-client\/wg0\.conf/,
      'hooks in the client-written file never run as root',
    );
    t.notMatch(wg, /wg-quick up/, 'never wg-quick up on a file the client writes');
  },
);
