import t from 'tap';
import {
  allocateAddress,
  cidrContains,
  hostAt,
  hostCount,
  hubAddress,
  indexOf,
  isHostOf,
  parseCidr,
  parseIpv4,
} from '../src/index.js';

const invalid = { code: 'E_INVALID', name: 'WireguardError' };

t.test('parseIpv4 and parseCidr', async (t) => {
  t.equal(parseIpv4('10.77.0.1'), 0x0a4d0001);
  t.equal(parseIpv4('255.255.255.255'), 0xffffffff);
  for (const bad of ['10.77.0', '10.77.0.256', '010.1.1.1', '1.2.3.4 ', 'a.b.c.d', '1.2.3.4/32'])
    t.equal(parseIpv4(bad), null, bad);
  t.match(parseCidr('10.77.0.0/16'), { network: 0x0a4d0000, prefix: 16, size: 65536 });
  t.throws(() => parseCidr('10.77.0.1/16'), { code: 'E_INVALID', message: /host bits set/ });
  for (const bad of ['10.77.0.0', '10.77.0.0/33', '10.77.0.0/-1', 'x/8'])
    t.throws(() => parseCidr(bad), invalid, bad);
});

t.test('contains, host, hub and index layout', async (t) => {
  const pool = parseCidr('10.77.0.0/16');
  t.ok(cidrContains(pool, '10.77.255.255'));
  t.notOk(cidrContains(pool, '10.78.0.0'));
  t.notOk(isHostOf(pool, '10.77.0.0'), 'network address');
  t.notOk(isHostOf(pool, '10.77.255.255'), 'broadcast address');
  t.ok(isHostOf(pool, '10.77.0.1'));
  t.equal(hubAddress(pool), '10.77.0.1', 'index 0 is the hub');
  t.equal(hostCount(pool), 65533, 'size - network - broadcast - hub');
  t.equal(hostAt(pool, 1), '10.77.0.2', 'first device');
  t.equal(hostAt(pool, 254), '10.77.0.255');
  t.equal(hostAt(pool, 65533), '10.77.255.254', 'last device: just below broadcast');
  t.throws(() => hostAt(pool, 65534), invalid, 'past the last device');
  t.throws(() => hostAt(pool, -1), invalid);
  t.throws(() => hostAt(pool, 1.5), invalid);
  t.equal(indexOf(pool, '10.77.0.2'), 1);
  t.equal(indexOf(pool, '10.77.255.255'), null);
  const small = parseCidr('192.168.9.0/30');
  t.equal(hostCount(small), 1);
  t.equal(hostAt(small, 1), '192.168.9.2');
  t.equal(hostCount(parseCidr('192.168.9.0/31')), 0);
  t.throws(() => hostAt(parseCidr('192.168.9.0/31'), 0), invalid, 'no hub in a /31');
});

t.test('allocateAddress: first free from the cursor, wrapping, null when full', async (t) => {
  const pool = parseCidr('10.0.0.0/29'); // hub .1, devices .2 .. .6
  t.equal(hostCount(pool), 5);
  const used = new Set<string>();
  let cursor = 1;
  const got: string[] = [];
  for (let i = 0; i < 5; i++) {
    const a = allocateAddress(pool, used, cursor)!;
    used.add(a.address);
    cursor = a.cursor;
    got.push(a.address);
  }
  t.same(got, ['10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6']);
  t.equal(allocateAddress(pool, used, cursor), null, 'full');
  used.delete('10.0.0.3');
  t.match(
    allocateAddress(pool, used, cursor),
    { address: '10.0.0.3', index: 2, cursor: 3 },
    'wraps to the freed one',
  );
  used.delete('10.0.0.5');
  t.match(allocateAddress(pool, used, 4), { address: '10.0.0.5' }, 'from the cursor, not the lowest');
  t.match(allocateAddress(pool, new Set(), 99), { address: '10.0.0.2' }, 'a cursor out of range starts over');
});
