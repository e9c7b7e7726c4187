// The device's command line (issue #9): its one option, the configuration file, is a flag or
// SIGNAL_CLIENT_CONFIG; a bad one exits 2 naming both; and the exit codes tell a corrupt state
// file (3) from a keystore without keys (4), which once shared 3.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { EXIT } from '@appliance/runtime';
import { hasStackTrace, runCli } from '@appliance/test-kit';

const dir = mkdtempSync(join(tmpdir(), 'device-cli-'));
const KEY = 'A'.repeat(43);
const KEYS = { EXCHANGE_API_KEY: 'k'.repeat(20), EXCHANGE_API_SECRET: 's'.repeat(30) };
const run = (args: string[], env: Record<string, string> = {}) =>
  runCli('signal-client/src/main.ts', args, {
    SIGNAL_CLIENT_CONFIG: undefined,
    EXCHANGE_API_KEY: undefined,
    EXCHANGE_API_SECRET: undefined,
    CREDENTIALS_DIRECTORY: undefined,
    NOTIFY_SOCKET: undefined,
    LOG_LEVEL: 'fatal',
    ...env,
  });

function config(name: string, stateFile: string): string {
  const file = join(dir, name);
  writeFileSync(
    file,
    JSON.stringify({
      deviceId: 'dev-1',
      gatewayUrl: 'ws://127.0.0.1:1',
      token: 'not-a-real-device-token',
      signalKeys: [KEY],
      controlKeys: [KEY],
      stateFile,
      statusPort: 0,
    }),
  );
  return file;
}

t.test('--help of each command names --config and SIGNAL_CLIENT_CONFIG', async (t) => {
  for (const cmd of [['run'], ['status'], ['keys', 'test']]) {
    const r = run([...cmd, '--help']);
    t.equal(r.status, EXIT.ok, cmd.join(' '));
    t.match(
      r.stdout.replace(/\s+/g, ' '),
      /-c, --config <file> device configuration \(JSON; comments allowed\) \(env: SIGNAL_CLIENT_CONFIG\)/,
    );
  }
});

t.test('a configuration that is missing, unreadable or invalid exits 2 naming the option', async (t) => {
  const missing = run(['run']);
  t.equal(missing.status, EXIT.config, 'no --config and no SIGNAL_CLIENT_CONFIG');
  t.match(missing.stderr, /required option '-c, --config <file>' not specified/);
  const nope = join(dir, 'nope.json');
  const unreadable = run(['status', '--config', nope]);
  t.equal(unreadable.status, EXIT.config);
  t.equal(
    unreadable.stderr,
    `invalid signal-client configuration:\n  - config (--config, SIGNAL_CLIENT_CONFIG): ${nope}: cannot be read (ENOENT)\n`,
  );
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, JSON.stringify({ deviceId: 'dev-1' }));
  const invalid = run(['run'], { SIGNAL_CLIENT_CONFIG: bad });
  t.equal(invalid.status, EXIT.config, 'SIGNAL_CLIENT_CONFIG is read');
  t.match(invalid.stderr, /^invalid signal-client configuration:\n {2}- gatewayUrl: /);
  t.notOk(hasStackTrace(invalid.stderr), 'no stack trace');
});

t.test('a keystore without keys exits 4, a corrupt state file exits 3', async (t) => {
  const corrupt = join(dir, 'corrupt.json');
  writeFileSync(corrupt, '{"v":1,"deviceId":"dev-1","resu');
  const file = config('device.json', corrupt);

  const noKeys = run(['run'], { SIGNAL_CLIENT_CONFIG: file });
  t.equal(noKeys.status, EXIT.keystore);
  t.match(noKeys.stderr, /^E_KEYSTORE_EMPTY: /);
  t.notOk(hasStackTrace(noKeys.stderr));

  const state = run(['run', '--config', file], KEYS);
  t.equal(state.status, EXIT.stateCorrupt);
  t.equal(
    state.stderr,
    `E_STATE_CORRUPT: state file ${corrupt} is not valid JSON (truncated or corrupt): refusing to trade\n`,
  );
  t.not(EXIT.keystore, EXIT.stateCorrupt, 'two meanings, two codes');

  const keysTest = run(['keys', 'test'], { SIGNAL_CLIENT_CONFIG: file });
  t.equal(keysTest.status, EXIT.keystore, 'keys test says the same of the keystore');
});
