import t from 'tap';
import { canonicalize } from '../src/canonical.js';

t.test('canonical JSON sorts keys at every depth and drops undefined', async (t) => {
  t.equal(
    canonicalize({ b: 1, a: { d: [1, 'x', null], c: true }, u: undefined }),
    '{"a":{"c":true,"d":[1,"x",null]},"b":1}',
  );
});

t.test('canonical JSON refuses values that have no single encoding', async (t) => {
  t.throws(() => canonicalize({ a: Number.NaN }), { message: 'canonicalize: non-finite number at $.a' });
  t.throws(() => canonicalize({ a: [1, 10n] }), { message: 'canonicalize: cannot encode bigint at $.a[1]' });
});

t.test('numbers use the shortest round-trip form', async (t) => {
  t.equal(canonicalize([1e21, 0.1, -0, 5e-7]), '[1e+21,0.1,0,5e-7]');
});
