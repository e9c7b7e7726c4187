#!/usr/bin/env node
// Runs before `npm test`: makes sure the system tools the tests drive for real are installed.
// As root it installs what is missing with apt-get; otherwise it names the packages and fails.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * What must be there -> Debian package. Keep in step with README.md ("System packages").
 * A plain name is a binary on PATH; `pkg-config:NAME` is a library to compile against, which
 * has no binary to look for.
 */
export const SYSTEM_DEPS = {
  kcat: 'kcat', // librdkafka's mock Kafka cluster
  chromium: 'chromium', // dashboard tests
  strace: 'strace', // proves the durable write path fsyncs file and folder
  'systemd-creds': 'systemd', // keys on the appliance: systemd credentials
  'dbus-run-session': 'dbus', // a private session bus for the keytar tests
  'gnome-keyring-daemon': 'gnome-keyring', // the Secret Service keytar stores the keys in
  'pkg-config:libsecret-1': 'libsecret-1-dev', // npm ci builds the optional keytar addon against it
  'systemd-analyze': 'systemd', // images/: verifies the unit files and rates their hardening
  cc: 'gcc', // builds the sd_notify addon (signal-client/src/systemd/native/) from source
  python3: 'python3', // the notify tests' stand-in for PID 1 on a unix datagram socket
  haproxy: 'haproxy', // haproxy/: every rendered config passes `haproxy -c`, and one runs for real
  openssl: 'openssl', // haproxy/: a throwaway self-signed certificate for each test run
  curl: 'curl', // docs/deploy.md: the guide's checks, run by e2e/test/deploy-guide.test.ts
  jq: 'jq', // docs/deploy.md: the guide reads the API's JSON answers with it
  wg: 'wireguard-tools', // wireguard/: wg, wg-quick (syncconf, set, strip) drive the tunnels
  'wireguard-go': 'wireguard-go', // wireguard/: the userspace WireGuard in the tests' namespaces
  ip: 'iproute2', // wireguard/: ip netns and veth for the tests' hosts
};

const ROOT = fileURLToPath(new URL('..', import.meta.url));

const has = (dep) => {
  const [check, name] = dep.startsWith('pkg-config:')
    ? ['pkg-config --exists', dep.slice(11)]
    : ['command -v', dep];
  return spawnSync('sh', ['-c', `${check} ${name}`], { stdio: 'ignore' }).status === 0;
};
const missing = Object.entries(SYSTEM_DEPS).filter(([dep]) => !has(dep));
if (missing.length === 0) process.exit(0);

const pkgs = [...new Set(missing.map(([, pkg]) => pkg))];
if (process.getuid?.() !== 0) {
  console.error(
    `Missing system packages: ${pkgs.join(' ')}\nInstall them with: sudo apt-get install -y ${pkgs.join(' ')}`,
  );
  process.exit(1);
}
console.log(`Installing system packages: ${pkgs.join(' ')}`);
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...pkgs], {
  stdio: 'inherit',
  env,
});
const still = missing.filter(([dep]) => !has(dep));
if (still.length) {
  console.error(`Still missing after install: ${still.map(([b]) => b).join(' ')}`);
  process.exit(1);
}

// On a new machine `npm ci` ran before this and dropped keytar (an optional native addon) for
// want of libsecret-1-dev; now that it is there, install again so keytar gets built.
const keytarBuilt = existsSync(`${ROOT}node_modules/keytar/build/Release/keytar.node`);
if (pkgs.includes('libsecret-1-dev') && existsSync(`${ROOT}node_modules`) && !keytarBuilt) {
  console.log('Running npm ci again to build keytar against libsecret-1-dev');
  execFileSync('npm', ['ci'], { cwd: ROOT, stdio: 'inherit' });
}
