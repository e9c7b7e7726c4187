// The tunnel pool's allocation (pure): the hub is the first host, devices get the lowest address
// never given before, an exhausted pool gives nothing.
import t from 'tap';
import { deviceAddressAt, isDeviceAddress, nextTunnelAddress, parseTunnelPool } from '../src/tunnel-pool.js';

t.test('a /29: the hub at .1, five device addresses, then nothing', async (t) => {
  const pool = parseTunnelPool('10.9.0.0/29');
  t.match(pool, { text: '10.9.0.0/29', hub: '10.9.0.1', size: 5 });
  const given = new Set<string>();
  for (;;) {
    const a = nextTunnelAddress(pool, given);
    if (a === null) break;
    given.add(a);
  }
  t.same([...given], ['10.9.0.2', '10.9.0.3', '10.9.0.4', '10.9.0.5', '10.9.0.6']);
  t.equal(nextTunnelAddress(pool, given), null, 'exhausted');
  t.notOk(isDeviceAddress(pool, '10.9.0.1'), 'the hub is not a device address');
  t.notOk(isDeviceAddress(pool, '10.9.0.7'), 'nor the broadcast');
  t.ok(isDeviceAddress(pool, '10.9.0.6'));
  t.throws(() => deviceAddressAt(pool, 5), RangeError);
});

t.test('the lowest never-given address, whatever was given out of order', async (t) => {
  const pool = parseTunnelPool('10.77.0.0/16');
  t.match(pool, { hub: '10.77.0.1', size: 65_533 });
  t.equal(nextTunnelAddress(pool, new Set()), '10.77.0.2');
  t.equal(nextTunnelAddress(pool, new Set(['10.77.0.2', '10.77.0.4'])), '10.77.0.3');
  t.equal(deviceAddressAt(pool, 254), '10.77.1.0');
  t.equal(deviceAddressAt(pool, pool.size - 1), '10.77.255.254');
});

t.test('pools that cannot work are refused with a reason', async (t) => {
  t.throws(() => parseTunnelPool('10.77.0.1/16'), /host bits set/);
  t.throws(() => parseTunnelPool('10.77.0.0/31'), /between \/8 and \/30/);
  t.throws(() => parseTunnelPool('10.0.0.0/7'), /between \/8 and \/30/);
  t.throws(() => parseTunnelPool('10.77.0/16'), /not an IPv4 CIDR/);
  t.throws(() => parseTunnelPool('010.77.0.0/16'), /not an IPv4 CIDR/);
});
