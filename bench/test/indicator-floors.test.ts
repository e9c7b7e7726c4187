// The indicator bench's bare streaming objects (`floor` in bench/indicator-ours.ts) stand for the least an `update`
// could do per bar; that only means something if they compute what ours computes. On the real
// candles, each floor's checksum must equal our streaming checksum exactly (same operations in
// the same order, 0 where ours is still warming up and returns undefined).
import { readdirSync, readFileSync } from 'node:fs';
import t from 'tap';
import type { Columns, IndicatorName } from '../indicator-data.js';
import { OURS } from '../indicator-ours.js';

const OHLCV_DIR = new URL('../../../shared/data/ohlcv/', import.meta.url);

/** Every recorded file, concatenated, with times renumbered hour by hour as the bench does. */
function columns(): Columns {
  const rows: number[][] = [];
  for (const file of readdirSync(OHLCV_DIR)
    .filter((f) => f.endsWith('.csv'))
    .sort()) {
    const [header, ...lines] = readFileSync(new URL(file, OHLCV_DIR), 'utf8').trim().split('\n');
    if (header !== 'time,open,high,low,close,volume') throw new Error(`${file}: unexpected header ${header}`);
    for (const line of lines) rows.push(line.split(',').map(Number));
  }
  const n = rows.length;
  const c: Columns = {
    n,
    time: new Float64Array(n),
    high: new Float64Array(n),
    low: new Float64Array(n),
    close: new Float64Array(n),
    volume: new Float64Array(n),
  };
  rows.forEach((r, i) => {
    c.time[i] = i * 3_600_000;
    c.high[i] = r[2]!;
    c.low[i] = r[3]!;
    c.close[i] = r[4]!;
    c.volume[i] = r[5]!;
  });
  return c;
}

/** The EMA's floor seeds with the first close instead of warming up on an SMA: other values. */
const SEEDED_OTHERWISE = new Set<IndicatorName>(['EMA(20)']);

t.test(
  'every bare streaming object computes what our update computes (the sum of all its values, to the bit)',
  async (t) => {
    const d = columns();
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
