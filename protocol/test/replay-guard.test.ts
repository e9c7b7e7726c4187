import t from 'tap';
import { errorOf } from '@appliance/test-kit';
import { ReplayGuard } from '../src/index.js';

t.test('a replayed id is refused until it could no longer pass the expiry check', async (t) => {
  const g = new ReplayGuard([], 5_000);
  g.admit('a', 1_000);
  t.equal(
    errorOf(() => g.admit('a', 1_000)),
    'E_REPLAYED: message a was already received',
  );
  g.prune(6_000);
  t.ok(g.has('a'), 'kept through the clock-skew allowance');
  g.prune(6_001);
  t.notOk(g.has('a'), 'forgotten once it could only be refused as expired');
});

t.test('a guard restored from its entries still refuses what it saw', async (t) => {
  const g = new ReplayGuard();
  g.admit('x', 10);
  const again = new ReplayGuard(g.entries());
  t.equal(
    errorOf(() => again.admit('x', 10)),
    'E_REPLAYED: message x was already received',
  );
  t.equal(again.size, 1);
});
