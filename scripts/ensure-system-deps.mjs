#!/usr/bin/env node
// Runs before `npm test`: makes sure the system tools the tests drive for real are installed.
// As root it installs what is missing with apt-get; otherwise it names the packages and fails.
import { execFileSync, spawnSync } from 'node:child_process';

/** binary -> Debian package. Keep in step with README.md ("System packages"). */
export const SYSTEM_DEPS = {
  kcat: 'kcat', // librdkafka's mock Kafka cluster
  chromium: 'chromium', // dashboard tests
  strace: 'strace', // proves the durable write path fsyncs file and folder
};

const has = (bin) => spawnSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status === 0;
const missing = Object.entries(SYSTEM_DEPS).filter(([bin]) => !has(bin));
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
const still = missing.filter(([bin]) => !has(bin));
if (still.length) {
  console.error(`Still missing after install: ${still.map(([b]) => b).join(' ')}`);
  process.exit(1);
}
