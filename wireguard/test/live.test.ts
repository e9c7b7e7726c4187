// ONE real run: a hub and three devices, each in its own network namespace, joined by veths;
// WireGuard up with wg-quick (falling back to wireguard-go), confs rendered by this package. Then
// per-peer changes on the hub: revoke device 2, rotate device 3's key, and device 1 never notices.
// Everything asserted is behaviour (reachable or not, lost or not), never timing.
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import {
  connectVeth,
  createNetns,
  requireNetnsTools,
  startUdpEcho,
  startUdpStream,
  udpReachable,
  uniqueIfName,
  waitFor,
  type Netns,
} from '@appliance/test-kit';
import {
  WG_RUN_DIR,
  bringDown,
  bringUp,
  generateWgKeyPair,
  renderConcentratorConf,
  renderDeviceConf,
  type WgInterface,
} from '../src/index.js';

const SUBNET = '10.77.0.0/16';
const HUB = '10.77.0.1';
const PORT = 51820;
/** The UDP echo every namespace runs, reached through the tunnel. */
const ECHO = 7000;

const skip = requireNetnsTools({
  wg: 'wireguard-tools',
  'wg-quick': 'wireguard-tools',
  'wireguard-go': 'wireguard-go',
});
t.test('a hub and three devices over WireGuard, changed one peer at a time', { skip }, (t) => live(t));

/** wireguard-go processes serving one of `names`. */
async function daemonsFor(names: string[]): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const argv = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    const [bin, name] = argv.split('\0');
    if (bin?.endsWith('wireguard-go') && name && names.includes(name)) pids.push(Number(entry));
  }
  return pids;
}

async function live(t: Test) {
  const dir = await mkdtemp(join(tmpdir(), 'wg-live-'));
  const namespaces: Netns[] = [];
  const tunnels: { name: string; netns: string }[] = [];
  // One teardown, in order: tunnels down, then namespaces (whose destroy also ends anything left).
  t.teardown(async () => {
    for (const tunnel of tunnels) await bringDown(tunnel).catch(() => undefined);
    for (const ns of namespaces) await ns.destroy();
    await rm(dir, { recursive: true, force: true });
  });
  const netns = async (prefix: string) => {
    const ns = await createNetns(prefix);
    namespaces.push(ns);
    return ns;
  };
  const up = async (ns: Netns, name: string, conf: string): Promise<WgInterface> => {
    const confFile = join(dir, `${name}.conf`);
    await writeFile(confFile, conf, { mode: 0o600 });
    tunnels.push({ name, netns: ns.name });
    return bringUp({ confFile, netns: ns.name });
  };

  const hub = await netns('wgt-hub');
  const hubKey = generateWgKeyPair();
  const hubKeyFile = join(dir, 'hub.key');
  await writeFile(hubKeyFile, `${hubKey.privateKey}\n`, { mode: 0o600 });
  const devices = await Promise.all(
    [1, 2, 3].map(async (i) => {
      const ns = await netns(`wgt-dev${i}`);
      // One veth per device into the hub: 172.31.i.2 (device) <-> 172.31.i.1 (hub).
      await connectVeth(ns, hub, `172.31.${i}.2/24`, `172.31.${i}.1/24`);
      return { i, ns, id: `device-${i}`, address: `10.77.0.${i + 1}`, key: generateWgKeyPair() };
    }),
  );

  const hubConf = renderConcentratorConf({
    subnet: SUBNET,
    listenPort: PORT,
    privateKeyFile: hubKeyFile,
    devices: devices.map((d) => ({ id: d.id, publicKey: d.key.publicKey, address: d.address })),
  });
  t.notMatch(hubConf, hubKey.privateKey, "the hub's private key is not in its config");
  const hubIf = await up(hub, uniqueIfName('wgh'), hubConf);
  t.equal(await hubIf.publicKey(), hubKey.publicKey, 'PostUp set the key from its file');

  const deviceIfs = await Promise.all(
    devices.map((d) =>
      up(
        d.ns,
        uniqueIfName(`wgd${d.i}`),
        renderDeviceConf({
          id: d.id,
          address: d.address,
          subnet: SUBNET,
          privateKey: d.key.privateKey,
          concentrator: { publicKey: hubKey.publicKey, endpoint: { host: `172.31.${d.i}.1`, port: PORT } },
        }),
      ),
    ),
  );
  await Promise.all([hub, ...devices.map((d) => d.ns)].map((ns) => startUdpEcho(ns, ECHO)));

  for (const d of devices) {
    t.ok(await udpReachable(d.ns, HUB, ECHO), `device ${d.i} reaches the hub through the tunnel`);
    t.ok(await udpReachable(hub, d.address, ECHO), `the hub reaches device ${d.i} through the tunnel`);
  }
  const peers = await hubIf.peers();
  t.same(
    peers.map((p) => [p.publicKey, p.allowedIps]).sort(),
    devices.map((d) => [d.key.publicKey, [`${d.address}/32`]]).sort(),
    'the hub has one peer per device, each with its /32',
  );
  const d1Handshake = peers.find((p) => p.publicKey === devices[0]!.key.publicKey)!.latestHandshakeMs;
  t.not(d1Handshake, null, 'device 1 has a session');

  // Device 1 talks continuously (every 10 ms) while the hub changes the other peers.
  const stream = await startUdpStream(devices[0]!.ns, HUB, ECHO, 10);
  let streamStopped = false;
  t.teardown(async () => {
    if (!streamStopped) await stream.stop();
  });

  // Revoke device 2.
  await hubIf.removePeer(devices[1]!.key.publicKey);
  t.notOk(
    await udpReachable(devices[1]!.ns, HUB, ECHO, 1500),
    'device 2, revoked, no longer reaches the hub',
  );
  t.notOk(await udpReachable(hub, devices[1]!.address, ECHO, 1500), 'nor does the hub reach device 2');
  t.ok(await udpReachable(devices[2]!.ns, HUB, ECHO), 'device 3 still reaches the hub');

  // Rotate device 3's key: one wg set on the hub moves its /32 to the new key; then the device
  // takes the new private key (from a file: never argv).
  const newKey = generateWgKeyPair();
  await hubIf.swapPeer(devices[2]!.key.publicKey, newKey.publicKey, devices[2]!.address);
  const newKeyFile = join(dir, 'device-3.key');
  await writeFile(newKeyFile, `${newKey.privateKey}\n`, { mode: 0o600 });
  await deviceIfs[2]!.setPrivateKeyFile(newKeyFile);
  t.equal(await deviceIfs[2]!.publicKey(), newKey.publicKey, 'device 3 runs its new key');
  // A bounded wait for the new handshake, not a timing assertion.
  await waitFor(
    () => udpReachable(devices[2]!.ns, HUB, ECHO, 1000),
    'device 3 reaching the hub with its new key',
  );
  t.pass('device 3 reaches the hub again with its new key');
  t.ok(await udpReachable(hub, devices[2]!.address, ECHO), 'and the hub reaches device 3');

  // The whole map, as the registry now has it: syncConf finds nothing to change, and keeps the
  // key that PostUp set from its file (a bare `wg syncconf` of the stripped config would clear it).
  await hubIf.syncConf(
    renderConcentratorConf({
      subnet: SUBNET,
      listenPort: PORT,
      privateKeyFile: hubKeyFile,
      devices: [
        { id: devices[0]!.id, publicKey: devices[0]!.key.publicKey, address: devices[0]!.address },
        {
          id: devices[1]!.id,
          publicKey: devices[1]!.key.publicKey,
          address: devices[1]!.address,
          revokedAt: 1,
        },
        { id: devices[2]!.id, publicKey: newKey.publicKey, address: devices[2]!.address },
      ],
    }),
  );
  t.equal(await hubIf.publicKey(), hubKey.publicKey, 'syncConf kept the private key PostUp had set');

  const result = await stream.stop();
  streamStopped = true;
  t.ok(result.sent > 0 && result.received > 0, `device 1 sent ${result.sent} datagrams during the changes`);
  t.same(result.lost, [], 'device 1 lost none of them');
  const after = await hubIf.peers();
  t.equal(
    after.find((p) => p.publicKey === devices[0]!.key.publicKey)?.latestHandshakeMs,
    d1Handshake,
    "device 1's session was never renewed (its peer was never touched)",
  );
  t.same(
    after.map((p) => [p.publicKey, p.allowedIps]).sort(),
    [
      [devices[0]!.key.publicKey, [`${devices[0]!.address}/32`]],
      [newKey.publicKey, [`${devices[2]!.address}/32`]],
    ].sort(),
    'the hub now has device 1 and device 3 (new key) only',
  );

  // Several peers in one change (the control server's start-up reconcile): device 2 back, device
  // 3 out, device 1 untouched.
  await hubIf.setPeers(
    [{ publicKey: devices[1]!.key.publicKey, address: devices[1]!.address }],
    [newKey.publicKey],
  );
  t.same(
    (await hubIf.peers()).map((p) => [p.publicKey, p.allowedIps]).sort(),
    [
      [devices[0]!.key.publicKey, [`${devices[0]!.address}/32`]],
      [devices[1]!.key.publicKey, [`${devices[1]!.address}/32`]],
    ].sort(),
    'one setPeers: device 2 back with its /32, device 3 gone, device 1 kept',
  );
  await waitFor(() => udpReachable(devices[1]!.ns, HUB, ECHO, 1000), 'device 2 reaching the hub again');
  t.pass('device 2 reaches the hub again');
  t.notOk(await udpReachable(devices[2]!.ns, HUB, ECHO, 1500), 'device 3 no longer does');
  await t.rejects(
    hubIf.setPeers([{ publicKey: 'not a key', address: devices[2]!.address }], []),
    { code: 'E_INVALID' },
    'a bad key in the batch: refused before wg runs',
  );

  // Down: every interface goes, and every wireguard-go with it.
  const names = tunnels.map((x) => x.name);
  for (const tunnel of tunnels.splice(0)) await bringDown(tunnel);
  t.same(await daemonsFor(names), [], 'no wireguard-go left running');
  t.notOk(
    names.some((n) => existsSync(join(WG_RUN_DIR, `${n}.sock`))),
    'no control socket left behind',
  );
}
