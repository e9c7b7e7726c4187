// Donchian channels against the window scanned afresh (no library has them): on the real
// candles, on random series with many ties (fast-check), with forming candles peeked and
// replaced, and through snapshots.
import fc from 'fast-check';
import t from 'tap';
import { Donchian, type HighLow } from '../src/indicators/donchian.js';
import { loadCandles } from './helpers/ohlcv.js';
import { rangeError, throwsExactly } from './helpers/throws.js';

function naive(bars: HighLow[], period: number, i: number) {
  if (i + 1 < period) return undefined;
  let upper = -Infinity;
  let lower = Infinity;
  for (let j = i + 1 - period; j <= i; j++) {
    upper = Math.max(upper, bars[j]!.high);
    lower = Math.min(lower, bars[j]!.low);
  }
  return { upper, lower, middle: (upper + lower) / 2 };
}

/** Whether the getters, the value object and what update/replace returned (the middle) all say `want`. */
function agrees(d: Donchian, returned: number | undefined, want: ReturnType<typeof naive>): boolean {
  return (
    JSON.stringify(d.value) === JSON.stringify(want) &&
    Object.is(returned, want?.middle) &&
    Object.is(d.upper, want?.upper) &&
    Object.is(d.lower, want?.lower) &&
    Object.is(d.middle, want?.middle)
  );
}

t.test('the real candles: every value equals the window scanned afresh', async (t) => {
  for (const base of ['BTC', 'ADA']) {
    const bars = loadCandles(base);
    for (const period of [1, 20, 55]) {
      const d = new Donchian(period);
      let wrong = 0;
      for (let i = 0; i < bars.length; i++)
        if (!agrees(d, d.update(bars[i]!), naive(bars, period, i))) wrong++;
      t.equal(wrong, 0, `${base} Donchian(${period})`);
    }
  }
});

const bar = fc
  .tuple(fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 6 }))
  .map(([a, b]) => ({ high: Math.max(a, b), low: Math.min(a, b) }));

t.test('random series with ties, each candle peeked and replaced while it forms', async () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 6 }),
      fc.array(fc.tuple(bar, bar, bar), { maxLength: 60 }),
      (period, steps) => {
        const live = new Donchian(period);
        const finals: HighLow[] = [];
        for (const [first, second, final] of steps) {
          const peeked = live.peek(first);
          if (!agrees(live, live.update(first), peeked)) return false;
          live.peek(second);
          live.replace(second);
          const got = live.replace(final);
          finals.push(final);
          if (!agrees(live, got, naive(finals, period, finals.length - 1))) return false;
          const resumed = Donchian.fromJSON(JSON.parse(JSON.stringify(live.toJSON())));
          if (JSON.stringify(resumed.value) !== JSON.stringify(live.value)) return false;
        }
        return true;
      },
    ),
    { numRuns: 2000 },
  );
});

t.test('bad input is refused and changes nothing', async (t) => {
  throwsExactly(t, () => new Donchian(0), rangeError('Donchian: period must be a positive integer, got 0'));
  const d = new Donchian(2);
  d.update({ high: 2, low: 1 });
  throwsExactly(t, () => d.update({ high: 1, low: 2 }), rangeError('Donchian: low 2 is above high 1'));
  throwsExactly(
    t,
    () => d.peek({ high: NaN, low: 1 }),
    rangeError('Donchian.peek: value must be a finite number, got NaN'),
  );
  throwsExactly(
    t,
    () => new Donchian(2).replace({ high: 1, low: 1 }),
    rangeError('Donchian.replace: no bar to replace yet'),
  );
  throwsExactly(
    t,
    () => Donchian.fromJSON({ period: 2, highs: [1, 2, 3], lows: [1, 2, 3] }),
    rangeError('Donchian.fromJSON: highs and lows must be equally long, at most 2'),
  );
  t.same(d.toJSON(), { period: 2, highs: [2], lows: [1] }, 'unchanged');
});
