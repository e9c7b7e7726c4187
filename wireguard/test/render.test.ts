import t from 'tap';
import { requireTool } from '@appliance/test-kit';
import {
  checkWgConf,
  generateWgKeyPair,
  parseWgConf,
  parseWgDump,
  renderConcentratorConf,
  renderDeviceConf,
  WireguardError,
  type ConcentratorInput,
  type DeviceConfInput,
  type WgConfSection,
} from '../src/index.js';

const hasTools = requireTool('wg', 'wireguard-tools') && requireTool('wg-quick', 'wireguard-tools');
const skip = hasTools ? false : 'wg or wg-quick is not installed (apt-get install wireguard-tools)';

const hub = generateWgKeyPair();
const keys = Array.from({ length: 4 }, () => generateWgKeyPair());
const hubInput = (): ConcentratorInput => ({
  subnet: '10.77.0.0/16',
  listenPort: 51820,
  privateKey: hub.privateKey,
  devices: [
    { id: 'device-001', publicKey: keys[0]!.publicKey, address: '10.77.0.2' },
    { id: 'device-002', publicKey: keys[1]!.publicKey, address: '10.77.0.3/32' },
    { id: 'device-003', publicKey: keys[2]!.publicKey, address: '10.77.1.200', revokedAt: 1_700_000_000_000 },
    { id: 'device-004', publicKey: keys[3]!.publicKey, address: '10.77.255.254' },
  ],
});
const deviceInput = (): DeviceConfInput => ({
  id: 'device-001',
  address: '10.77.0.2',
  subnet: '10.77.0.0/16',
  privateKey: keys[0]!.privateKey,
  concentrator: { publicKey: hub.publicKey, endpoint: { host: '172.31.1.1', port: 51820 } },
});

const entries = (s: WgConfSection | undefined) => s?.entries ?? [];
/** The settings of a rendered config, section by section, comments dropped. */
const sections = (text: string) => parseWgConf(text).map((s) => [s.name, entries(s)] as const);

/** The E_INVALID issues of a render, or a failure when it rendered. */
function issuesOf(render: () => string): string[] {
  try {
    render();
  } catch (err) {
    if (WireguardError.is(err, 'E_INVALID')) return err.issues;
    throw err;
  }
  return ['(rendered)'];
}

t.test('concentrator: one [Peer] per active device, each its /32 only', async (t) => {
  const text = renderConcentratorConf(hubInput());
  t.same(sections(text), [
    [
      'Interface',
      [
        ['Address', '10.77.0.1/16'],
        ['ListenPort', '51820'],
        ['PrivateKey', hub.privateKey],
      ],
    ],
    [
      'Peer',
      [
        ['PublicKey', keys[0]!.publicKey],
        ['AllowedIPs', '10.77.0.2/32'],
      ],
    ],
    [
      'Peer',
      [
        ['PublicKey', keys[1]!.publicKey],
        ['AllowedIPs', '10.77.0.3/32'],
      ],
    ],
    [
      'Peer',
      [
        ['PublicKey', keys[3]!.publicKey],
        ['AllowedIPs', '10.77.255.254/32'],
      ],
    ],
  ]);
  t.match(text, /\[Peer\]\n# device device-001\n/, 'each peer names its device');
  t.notMatch(text, /device-003|10\.77\.1\.200/, 'the revoked device is not there at all');
});

t.test('concentrator with a key file: the key is not in the text', async (t) => {
  const { privateKey: _, ...rest } = hubInput();
  const text = renderConcentratorConf({
    ...rest,
    privateKeyFile: '/etc/wireguard/hub.key',
    address: '10.77.0.9',
  });
  t.notMatch(text, hub.privateKey);
  t.notMatch(text, /PrivateKey/);
  t.same(entries(parseWgConf(text)[0]), [
    ['Address', '10.77.0.9/16'],
    ['ListenPort', '51820'],
    ['PostUp', 'wg set %i private-key /etc/wireguard/hub.key'],
  ]);
});

t.test('device: its /32, the concentrator as only peer, the subnet only', async (t) => {
  t.same(sections(renderDeviceConf(deviceInput())), [
    [
      'Interface',
      [
        ['Address', '10.77.0.2/32'],
        ['PrivateKey', keys[0]!.privateKey],
      ],
    ],
    [
      'Peer',
      [
        ['PublicKey', hub.publicKey],
        ['Endpoint', '172.31.1.1:51820'],
        ['AllowedIPs', '10.77.0.0/16'],
        ['PersistentKeepalive', '25'],
      ],
    ],
  ]);
  const v6 = renderDeviceConf({
    ...deviceInput(),
    concentrator: { publicKey: hub.publicKey, endpoint: { host: 'fd00::1', port: 443 } },
  });
  t.match(v6, /^Endpoint = \[fd00::1\]:443$/m, 'IPv6 endpoints in brackets');
  const named = renderDeviceConf({
    ...deviceInput(),
    concentrator: { publicKey: hub.publicKey, endpoint: { host: 'vpn.example.net', port: 51820 } },
  });
  t.match(named, /^Endpoint = vpn\.example\.net:51820$/m);
});

t.test('bad input is refused with E_INVALID naming the field', async (t) => {
  const hubCases: Array<[string, (c: ConcentratorInput) => unknown, RegExp]> = [
    ['not an object', () => 'x', /^\(root\)/],
    ['subnet with host bits', (c) => ({ ...c, subnet: '10.77.0.1/16' }), /^subnet: .*host bits/],
    ['subnet too small', (c) => ({ ...c, subnet: '10.77.0.0/31' }), /^subnet: .*no room/],
    ['subnet not a CIDR', (c) => ({ ...c, subnet: '10.77.0.0' }), /^subnet:/],
    ['no key', ({ privateKey: _, ...c }) => c, /^privateKey: give exactly one/],
    ['two keys', (c) => ({ ...c, privateKeyFile: '/k' }), /^privateKey: give exactly one/],
    [
      'relative key file',
      ({ privateKey: _, ...c }) => ({ ...c, privateKeyFile: 'hub.key' }),
      /^privateKeyFile:/,
    ],
    [
      'shell in the key file',
      ({ privateKey: _, ...c }) => ({ ...c, privateKeyFile: '/k; rm -rf /' }),
      /^privateKeyFile:/,
    ],
    ['bad private key', (c) => ({ ...c, privateKey: 'abc=' }), /^privateKey: not a WireGuard key/],
    ['port 0', (c) => ({ ...c, listenPort: 0 }), /^listenPort:/],
    ['port as text', (c) => ({ ...c, listenPort: '51820' }), /^listenPort:/],
    ['hub address outside', (c) => ({ ...c, address: '10.78.0.1' }), /^address: not a host address/],
    ['unknown field', (c) => ({ ...c, dns: '1.1.1.1' }), /dns/],
    [
      'bad public key',
      (c) => dev(c, 0, { publicKey: keys[0]!.publicKey.slice(1) }),
      /^devices\.0\.publicKey:/,
    ],
    ['bad id', (c) => dev(c, 1, { id: 'Device_2' }), /^devices\.1\.id:/],
    ['short id', (c) => dev(c, 1, { id: 'ab' }), /^devices\.1\.id:/],
    [
      'address outside',
      (c) => dev(c, 0, { address: '10.78.0.2' }),
      /^devices\.0\.address: .*not a host address/,
    ],
    ['a /24', (c) => dev(c, 0, { address: '10.77.0.0/24' }), /^devices\.0\.address: not a single IPv4/],
    ['network address', (c) => dev(c, 0, { address: '10.77.0.0' }), /^devices\.0\.address:/],
    ['broadcast address', (c) => dev(c, 0, { address: '10.77.255.255' }), /^devices\.0\.address:/],
    ["the hub's address", (c) => dev(c, 0, { address: '10.77.0.1' }), /^devices\.0\.address: .*hub's own/],
    ['duplicate address', (c) => dev(c, 1, { address: '10.77.0.2' }), /^devices\.1\.address: .*devices\.0/],
    [
      'duplicate key',
      (c) => dev(c, 3, { publicKey: keys[0]!.publicKey }),
      /^devices\.3\.publicKey: .*devices\.0/,
    ],
    ['duplicate id', (c) => dev(c, 3, { id: 'device-001' }), /^devices\.3\.id: .*devices\.0/],
    ["the hub's key", (c) => dev(c, 0, { publicKey: hub.publicKey }), /^devices\.0\.publicKey: is the hub's/],
    ['IPv6 address', (c) => dev(c, 0, { address: 'fd00::2' }), /^devices\.0\.address:/],
    ['newline smuggled', (c) => dev(c, 0, { id: 'dev\nPostUp=x' }), /^devices\.0\.id:/],
  ];
  for (const [what, mutate, expected] of hubCases) {
    const issues = issuesOf(() => renderConcentratorConf(mutate(hubInput())));
    t.ok(
      issues.some((i) => expected.test(i)),
      `concentrator, ${what}: ${issues.join(' | ')}`,
    );
  }
  // A revoked device may keep an address or key an active one now has: it gets no [Peer].
  t.doesNotThrow(() => renderConcentratorConf(dev(hubInput(), 2, { address: '10.77.0.2' })));

  const deviceCases: Array<[string, (d: DeviceConfInput) => unknown, RegExp]> = [
    ['address outside', (d) => ({ ...d, address: '10.1.0.2' }), /^address: not a host address/],
    ["the hub's address", (d) => ({ ...d, address: '10.77.0.1' }), /^address: .*hub's own/],
    ['a /16', (d) => ({ ...d, address: '10.77.0.2/16' }), /^address: not a single/],
    ['bad subnet', (d) => ({ ...d, subnet: '0.0.0.0/0 ' }), /^subnet:/],
    ['no key', ({ privateKey: _, ...d }) => d, /^privateKey: give exactly one/],
    [
      'bad concentrator key',
      (d) => ({ ...d, concentrator: { ...d.concentrator, publicKey: 'x' } }),
      /^concentrator\.publicKey:/,
    ],
    [
      'own key as concentrator',
      (d) => ({ ...d, concentrator: { ...d.concentrator, publicKey: keys[0]!.publicKey } }),
      /^concentrator\.publicKey: is the device's own/,
    ],
    [
      'bad endpoint host',
      (d) => ({ ...d, concentrator: { ...d.concentrator, endpoint: { host: 'a b', port: 1 } } }),
      /^concentrator\.endpoint\.host:/,
    ],
    [
      'bad endpoint port',
      (d) => ({ ...d, concentrator: { ...d.concentrator, endpoint: { host: 'a', port: 70000 } } }),
      /^concentrator\.endpoint\.port:/,
    ],
    [
      'hub address outside',
      (d) => ({ ...d, concentrator: { ...d.concentrator, address: '10.1.0.1' } }),
      /^concentrator\.address:/,
    ],
    ['keepalive', (d) => ({ ...d, persistentKeepalive: -1 }), /^persistentKeepalive:/],
    ['unknown field', (d) => ({ ...d, allowedIps: '0.0.0.0/0' }), /allowedIps/],
  ];
  for (const [what, mutate, expected] of deviceCases) {
    const issues = issuesOf(() => renderDeviceConf(mutate(deviceInput())));
    t.ok(
      issues.some((i) => expected.test(i)),
      `device, ${what}: ${issues.join(' | ')}`,
    );
  }
});

function dev(c: ConcentratorInput, i: number, change: Record<string, unknown>): ConcentratorInput {
  return { ...c, devices: c.devices.map((d, j) => (j === i ? { ...d, ...change } : d)) };
}

t.test('rendered configs pass wg-quick strip and wg', { skip }, async (t) => {
  const stripped = await checkWgConf(renderConcentratorConf(hubInput()));
  t.notMatch(stripped, /Address/, 'wg-quick strip took its own settings out');
  const { privateKey: _, ...rest } = hubInput();
  await checkWgConf(renderConcentratorConf({ ...rest, privateKeyFile: '/etc/wireguard/hub.key' }));
  await checkWgConf(renderDeviceConf(deviceInput()));
  await checkWgConf(
    renderDeviceConf({
      ...deviceInput(),
      persistentKeepalive: 0,
      concentrator: { publicKey: hub.publicKey, endpoint: { host: 'fd00::1', port: 443 } },
    }),
  );
  // A full-size hub: 1,000 devices.
  const many = Array.from({ length: 1000 }, (_, i) => ({
    id: `device-${String(i).padStart(4, '0')}`,
    publicKey: generateWgKeyPair().publicKey,
    address: `10.77.${(i + 2) >> 8}.${(i + 2) & 255}`,
  }));
  const big = renderConcentratorConf({ ...hubInput(), devices: many });
  t.equal(parseWgConf(big).filter((s) => s.name === 'Peer').length, 1000);
  await checkWgConf(big);
});

t.test('checkWgConf refuses what wg or wg-quick would, with their words', { skip }, async (t) => {
  const good = renderDeviceConf(deviceInput());
  const cases: Array<[string, string, RegExp]> = [
    ['a bad key', good.replace(hub.publicKey, 'abc='), /Key is not the correct length/],
    ['an unknown line', good.replace('[Peer]', '[Peer]\nFoo = bar'), /Line unrecognized/],
    ['a bad AllowedIPs', good.replace('10.77.0.0/16', '10.77.0.0/33'), /AllowedIP/],
    ['a bad Address', good.replace('10.77.0.2/32', 'ten'), /Address ten/],
    ['a bad section', good.replace('[Peer]', '[Pear]'), /./],
  ];
  for (const [what, text, output] of cases)
    await t.rejects(checkWgConf(text), { code: 'E_WG_INVALID', output }, what);
});

t.test('checkWgConf without the tools: E_WG_NOT_FOUND with the apt-get hint', async (t) => {
  const path = process.env.PATH;
  process.env.PATH = '/nonexistent';
  t.teardown(() => void (process.env.PATH = path));
  await t.rejects(checkWgConf(renderDeviceConf(deviceInput())), {
    code: 'E_WG_NOT_FOUND',
    message: /apt-get install wireguard-tools/,
  });
});

t.test('parseWgDump: peers of `wg show <if> dump`', async (t) => {
  const dump = [
    'PRIVATE\tPUBLIC\t51820\toff',
    'pk1=\t(none)\t172.31.1.2:40000\t10.77.0.2/32\t1700000000\t1234\t5678\t25',
    'pk2=\t(none)\t(none)\t(none)\t0\t0\t0\toff',
    '',
  ].join('\n');
  t.same(parseWgDump(dump), [
    {
      publicKey: 'pk1=',
      allowedIps: ['10.77.0.2/32'],
      endpoint: '172.31.1.2:40000',
      latestHandshakeMs: 1_700_000_000_000,
      rxBytes: 1234,
      txBytes: 5678,
    },
    { publicKey: 'pk2=', allowedIps: [], latestHandshakeMs: null, rxBytes: 0, txBytes: 0 },
  ]);
});
