// The CLI against the real control server (in this process, on loopback, with a temporary data
// folder and a concentrator that records instead of running wg): the contract both sides follow.
import { mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import t from 'tap';
import { startControlServer } from '@appliance/control-server';
import { EmbeddedBus, decodeEnrolmentTicket, exportPublicKey, generateSigner } from '@appliance/protocol';
import { generateWgKeyPair } from '@appliance/wireguard';
import { ADMIN_TOKEN, provision } from './enrolment-fake.js';

const PIN = 'ab'.repeat(32);
const server = await startControlServer({
  bus: new EmbeddedBus(),
  signer: generateSigner(),
  adminToken: ADMIN_TOKEN,
  logger: pino({ level: 'silent' }),
  eligibility: { 'ema.1h': ['BTC/USDT'] },
  onlineWindowMs: 60_000,
  dataDir: mkdtempSync(join(tmpdir(), 'provision-real-')),
  paper: false,
  enrolment: {
    url: 'https://enrol.example.net:8443',
    certSha256: PIN,
    tunnelPool: '10.77.0.0/16',
    tunnelEndpoint: 'vpn.example.net:51820',
    tunnelPublicKey: generateWgKeyPair().publicKey,
    tunnelGatewayUrl: 'ws://10.77.0.1:8080/',
    signalKeys: [exportPublicKey(generateSigner().publicKey)],
  },
});
const url = await server.listen(0);
t.teardown(() => server.close());
const run = (...args: string[]) => provision([...args, '--url', url]);
const dir = mkdtempSync(join(tmpdir(), 'provision-real-out-'));

t.test('device add, list, show, token, token list/revoke, rotate-keys, revoke', async (t) => {
  const tokenFile = join(dir, 'kitchen-01.token');
  const add = await run(
    'device',
    'add',
    '--name',
    'kitchen-01',
    '--profile',
    'family',
    '--token-ttl',
    '2d',
    '--out',
    tokenFile,
  );
  t.equal(add.status, 0, add.stderr);
  t.equal(statSync(tokenFile).mode & 0o777, 0o600);
  const added = await run(
    'device',
    'add',
    '--name',
    'lab-02',
    '--profile',
    'mandate:acme',
    '--token-uses',
    '3',
    '--json',
  );
  t.equal(added.status, 0, added.stderr);
  const a = JSON.parse(added.stdout) as { token: string; enrolmentToken: { id: string; maxUses: number } };
  const ticket = decodeEnrolmentTicket(a.token);
  t.match(ticket, {
    url: 'https://enrol.example.net:8443',
    pin: PIN,
    device: 'lab-02',
    profile: 'mandate:acme',
    id: a.enrolmentToken.id,
  });
  t.equal(a.enrolmentToken.maxUses, 3);

  const dup = await run('device', 'add', '--name', 'lab-02', '--profile', 'family');
  t.equal(dup.status, 5);
  t.match(dup.stderr, /^provision: E_DEVICE_EXISTS: /);

  const list = await run('device', 'list');
  t.equal(list.status, 0, list.stderr);
  t.match(list.stdout, /^ID +PROFILE +TUNNEL +ENROLLED +CREDENTIAL EXPIRES +RENEWAL +REVOKED\n/);
  t.match(list.stdout, /^kitchen-01 +family +— +no +— +never-enrolled +no$/m);
  t.match(list.stdout, /^lab-02 +mandate:acme +— +no +— +never-enrolled +no$/m);

  const again = await run('device', 'token', 'kitchen-01', '--token-uses', '2', '--json');
  t.equal(again.status, 0, again.stderr);
  const second = (JSON.parse(again.stdout) as { enrolmentToken: { id: string } }).enrolmentToken.id;

  const tokens = await run('token', 'list', '--device', 'kitchen-01');
  t.equal(tokens.status, 0, tokens.stderr);
  t.match(tokens.stdout, new RegExp(`^${second} +kitchen-01 +active +0/2 `, 'm'));
  t.equal(tokens.stdout.trimEnd().split('\n').length, 3, 'a header and two tokens');

  const rv = await run('token', 'revoke', second);
  t.equal(rv.status, 0, rv.stderr);
  const show = await run('device', 'show', 'kitchen-01');
  t.equal(show.status, 0, show.stderr);
  t.match(show.stdout, /^device +kitchen-01$/m);
  t.match(show.stdout, /^renewal +never-enrolled; 0 renewals/m);
  t.match(show.stdout, new RegExp(`^${second} +revoked +0/2 `, 'm'));
  t.notMatch(show.stdout, /sa-enrol-1/);

  const rotate = await run('device', 'rotate-keys', 'kitchen-01');
  t.equal(rotate.status, 5, 'a device that never enrolled has nothing to rotate');
  t.match(rotate.stderr, /E_NOT_ENROLLED: /);

  const revoke = await run('device', 'revoke', 'lab-02', '--yes');
  t.equal(revoke.status, 0, revoke.stderr);
  const after = await run('device', 'list', '--json');
  const lab = (JSON.parse(after.stdout) as { devices: { id: string; revoked: boolean }[] }).devices.find(
    (d) => d.id === 'lab-02',
  );
  t.equal(lab?.revoked, true);
  const refused = await run('device', 'token', 'lab-02');
  t.equal(refused.status, 5);
  t.match(refused.stderr, /E_DEVICE_REVOKED: /);
});

t.test('device bundle registers the keys and writes the folder', async (t) => {
  const add = await run('device', 'add', '--name', 'shop-07', '--profile', 'beta');
  t.equal(add.status, 0, add.stderr);
  const out = mkdtempSync(join(dir, 'bundles-'));
  const r = await run(
    'device',
    'bundle',
    '--name',
    'shop-07',
    '--profile',
    'beta',
    '--out',
    out,
    '--enrol-url',
    'https://enrol.example.net:8443',
    '--enrol-pin',
    PIN,
    '--json',
  );
  t.equal(r.status, 0, r.stderr);
  if (r.status !== 0) return;
  const b = JSON.parse(r.stdout) as { tunnelAddress: string; wgPublicKey: string };
  t.same(readdirSync(join(out, 'shop-07')).sort(), [
    'README.txt',
    'device-key.pem',
    'enrolment.json',
    'wg-private.key',
    'wg0.conf',
  ]);
  const show = await run('device', 'show', 'shop-07');
  t.match(show.stdout, new RegExp(`^tunnel address +${b.tunnelAddress.replace(/\./g, '\\.')}$`, 'm'));
  t.match(show.stdout, `wireguard public key  ${b.wgPublicKey}`);
});
