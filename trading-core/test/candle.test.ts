import fc from 'fast-check';
import t from 'tap';
import { candleProblem, type Candle } from '../src/candle.js';

/** The rule as candle.ts states it, field by field, with no fast path. */
function soundByRule(c: Candle): boolean {
  const fields = [c.time, c.open, c.high, c.low, c.close, c.volume];
  if (!fields.every((x) => typeof x === 'number' && Number.isFinite(x))) return false;
  if (!Number.isInteger(c.time) || c.time < 0) return false;
  if (c.open <= 0 || c.high <= 0 || c.low <= 0 || c.close <= 0 || c.volume < 0) return false;
  return c.low <= Math.min(c.open, c.close) && c.high >= Math.max(c.open, c.close);
}

const anyNumber = fc.oneof(
  { arbitrary: fc.double({ min: 1e-9, max: 1e9, noNaN: true }), weight: 6 },
  fc.double(),
  fc.constantFrom(0, -0, 1, -1, NaN, Infinity, -Infinity, Number.MAX_VALUE, Number.MIN_VALUE),
  fc.integer({ min: -5, max: 5 }),
);
const hostile = fc.oneof(anyNumber, fc.constantFrom('1', null, undefined, {}, [], true, 10n));

t.test('candleProblem finds a problem exactly when the rule is broken', async (t) => {
  let sound = 0;
  let unsound = 0;
  fc.assert(
    fc.property(
      fc.tuple(anyNumber, anyNumber, anyNumber, anyNumber, anyNumber, anyNumber),
      ([time, a, b, c, d, volume]) => {
        const sorted = [a, b, c, d].sort((x, y) => x - y);
        for (const [open, high, low, close] of [
          [a, b, c, d],
          [sorted[1], sorted[3], sorted[0], sorted[2]],
        ] as number[][]) {
          const candle = { time: Math.abs(Math.round(time)), open, high, low, close, volume } as Candle;
          if ((candleProblem(candle) === null) !== soundByRule(candle)) return false;
          if (soundByRule(candle)) sound++;
          else unsound++;
          const raw = { ...candle, time } as Candle;
          if ((candleProblem(raw) === null) !== soundByRule(raw)) return false;
        }
        return true;
      },
    ),
    { numRuns: 20_000 },
  );
  // The generators must reach both answers, or the property says nothing.
  t.ok(sound > 1000 && unsound > 1000, `${sound} sound and ${unsound} unsound candles checked`);
});

t.test('a field of the wrong type is a problem, named', async (t) => {
  fc.assert(
    fc.property(
      fc.constantFrom('time', 'open', 'high', 'low', 'close', 'volume'),
      hostile,
      (field, value) => {
        const candle = {
          time: 0,
          open: 2,
          high: 3,
          low: 1,
          close: 2,
          volume: 5,
          [field]: value,
        } as unknown as Candle;
        const problem = candleProblem(candle);
        return typeof value === 'number'
          ? (problem === null) === soundByRule(candle)
          : problem?.startsWith(field) === true;
      },
    ),
    { numRuns: 5_000 },
  );
  t.equal(candleProblem({ time: 0, open: 2, high: 3, low: 1, close: 2, volume: 5 }), null);
  t.equal(
    candleProblem({ time: 0, open: 2, high: 3, low: 2.5, close: 2, volume: 5 }),
    'low <= min(open, close) <= max(open, close) <= high does not hold',
  );
});
