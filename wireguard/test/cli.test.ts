// The CLI: render both kinds of config, check one; bad input exits 2, a refused config 5.
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { EXIT } from '@appliance/runtime';
import { hasStackTrace, requireTool, runCli } from '@appliance/test-kit';
import { generateWgKeyPair } from '../src/index.js';

const skip = requireTool('wg-quick', 'wireguard-tools')
  ? false
  : 'wg-quick is not installed (apt-get install wireguard-tools)';
const cli = (...args: string[]) => runCli('wireguard/src/main.ts', args);
const dir = mkdtempSync(join(tmpdir(), 'wireguard-cli-'));
t.teardown(() => import('node:fs').then((fs) => fs.rmSync(dir, { recursive: true, force: true })));

const hub = generateWgKeyPair();
const file = (name: string, value: unknown) => {
  const f = join(dir, name);
  writeFileSync(f, typeof value === 'string' ? value : JSON.stringify(value));
  return f;
};
const hubJson = file('hub.json', {
  subnet: '10.77.0.0/16',
  privateKeyFile: '/etc/wireguard/hub.key',
  devices: [{ id: 'device-001', publicKey: generateWgKeyPair().publicKey, address: '10.77.0.2' }],
});
const deviceJson = file('device.json', {
  id: 'device-001',
  address: '10.77.0.2',
  subnet: '10.77.0.0/16',
  privateKey: generateWgKeyPair().privateKey,
  concentrator: { publicKey: hub.publicKey, endpoint: { host: '192.0.2.1', port: 51820 } },
});

t.test('render concentrator and device, checked', { skip }, async (t) => {
  const r = cli('render', 'concentrator', '--in', hubJson, '--check');
  t.equal(r.status, EXIT.ok, r.stderr);
  t.match(r.stdout, /^AllowedIPs = 10\.77\.0\.2\/32$/m);
  const out = join(dir, 'wg0.conf');
  const d = cli('render', 'device', '--in', deviceJson, '--out', out, '--check');
  t.equal(d.status, EXIT.ok, d.stderr);
  t.equal(d.stdout, '');
  t.match(readFileSync(out, 'utf8'), /^Endpoint = 192\.0\.2\.1:51820$/m);
  t.equal(statSync(out).mode & 0o777, 0o600, 'written 0600: it holds a private key');
  const c = cli('check', out);
  t.equal(c.status, EXIT.ok, c.stderr);
});

t.test('bad input exits 2 naming the field; a refused config 5', { skip }, async (t) => {
  const bad = cli('render', 'device', '--in', hubJson);
  t.equal(bad.status, EXIT.config);
  t.match(bad.stderr, /hub\.json: device: invalid WireGuard description:\n {2}- id: /);
  t.notOk(hasStackTrace(bad.stderr));
  const missing = cli('render', 'concentrator', '--in', join(dir, 'nope.json'));
  t.equal(missing.status, EXIT.config);
  t.match(missing.stderr, /cannot be read \(ENOENT\)/);
  const refused = cli('check', file('bad.conf', '[Interface]\nFoo = 1\n'));
  t.equal(refused.status, EXIT.refused);
  t.match(refused.stderr, /E_WG_INVALID: wg refused the configuration:\nLine unrecognized/);
  t.equal(cli('render', 'concentrator').status, EXIT.config, 'no --in: a usage error');
});
