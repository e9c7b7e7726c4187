// The indicator bench's bare streaming objects (`floor` in bench/indicator-ours.ts) stand for the
// least an `update` could do per bar; that only means something if they compute what ours
// computes. On the real candles, each floor's checksum must equal our streaming checksum exactly
// (same operations in the same order, 0 where ours is still warming up and returns undefined).
// The push forms (`push` in bench/indicator-ours.ts) must read the same values as `update` returns.
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { type Columns, type IndicatorName, loadColumns } from '../indicator-data.js';
import { OURS } from '../indicator-ours.js';

const OHLCV_DIR = fileURLToPath(new URL('../../../shared/data/ohlcv/', import.meta.url));

/** The EMA's floor seeds with the first close instead of warming up on an SMA: other values. */
const SEEDED_OTHERWISE = new Set<IndicatorName>(['EMA(20)']);

t.test(
  'every bare streaming object computes what our update computes (the sum of all its values, to the bit)',
  async (t) => {
    const d: Columns = loadColumns(OHLCV_DIR).columns;
    t.ok(d.n > 100_000, `${d.n} real bars`);
    const floors = Object.entries(OURS).filter(([, c]) => c.floor !== undefined);
    t.ok(floors.length >= 4, `${floors.length} indicators have a floor`);
    for (const [name, c] of floors) {
      if (SEEDED_OTHERWISE.has(name as IndicatorName)) continue;
      const ours = c.stream(d);
      t.ok(Number.isFinite(ours) && ours !== 0, `${name}: ours sums to ${ours}`);
      t.equal(c.floor!(d), ours, `${name}: the floor's sum is ours, to the bit`);
    }
  },
);

t.test('every push form (push, ready, value) sums to what update sums, to the bit', async (t) => {
  const d: Columns = loadColumns(OHLCV_DIR).columns;
  const pushes = Object.entries(OURS).filter(([, c]) => c.push !== undefined);
  t.ok(pushes.length >= 6, `${pushes.length} indicators have a push form`);
  for (const [name, c] of pushes) {
    const ours = c.stream(d);
    t.ok(Number.isFinite(ours) && ours !== 0, `${name}: update sums to ${ours}`);
    t.equal(c.push!(d), ours, `${name}: push sums to the same`);
  }
});
