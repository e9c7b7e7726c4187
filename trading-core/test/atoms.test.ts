import t from 'tap';
import fc from 'fast-check';
import { formatAtoms, fromAtoms, mulDivRound, toAtoms } from '../src/atoms.js';
import { rangeError, throwsExactly } from './helpers/throws.js';

t.test('toAtoms rounds the printed decimal half away from zero at 8 decimals', async (t) => {
  const cases: [number, bigint][] = [
    [1, 100_000_000n],
    [1.005, 100_500_000n],
    [0.000000015, 2n],
    [-0.000000015, -2n],
    [0.000000005, 1n],
    [-0.000000005, -1n],
    [0.0000000049, 0n],
    [1e-7, 10n],
    [123.456789125, 12_345_678_913n],
    [0.1 + 0.2, 30_000_000n],
    [1e21, 10n ** 29n],
    [-0, 0n],
  ];
  for (const [n, atoms] of cases) t.equal(toAtoms(n), atoms, `${n}`);
});

t.test('toAtoms refuses NaN and infinities', async (t) => {
  throwsExactly(t, () => toAtoms(NaN), rangeError('toAtoms: not a finite number: NaN'));
  throwsExactly(t, () => toAtoms(-Infinity), rangeError('toAtoms: not a finite number: -Infinity'));
});

t.test('fromAtoms gives the nearest number and round-trips through toAtoms below 2e7 units', async (t) => {
  t.equal(fromAtoms(1n), 1e-8);
  t.equal(fromAtoms(12_345_678_913n), 123.45678913);
  t.equal(fromAtoms(-150_000_000n), -1.5);
  t.equal(fromAtoms(10n ** 29n), 1e21);
  t.equal(fromAtoms(-(10n ** 29n) - 1n), -1e21);
  for (const a of [0n, 1n, 99_999_999n, 123_456_789_012_345n, -7n, 1_999_999_999_999_999n]) {
    t.equal(toAtoms(fromAtoms(a)), a, `${a}`);
  }
});

t.test('formatAtoms prints the exact decimal without trailing zeros', async (t) => {
  t.equal(formatAtoms(0n), '0');
  t.equal(formatAtoms(-150_000_000n), '-1.5');
  t.equal(formatAtoms(1n), '0.00000001');
  t.equal(formatAtoms(1_200_000_000_000n), '12000');
});

t.test('mulDivRound prorates exactly, half away from zero', async (t) => {
  t.equal(mulDivRound(10n, 1n, 4n), 3n, '2.5 rounds up');
  t.equal(mulDivRound(-10n, 1n, 4n), -3n, '-2.5 rounds down');
  t.equal(mulDivRound(10n, 1n, 3n), 3n);
  t.equal(mulDivRound(100n, 3n, 3n), 100n);
});

/**
 * toAtoms rounds most numbers without printing them (a fast path); this is the printed-decimal
 * rule written out alone, which the fast path must agree with everywhere.
 */
function decimalAtoms(n: number): bigint {
  const [, whole = '0', fraction = '', exponent = '0'] = /^(\d+)(?:\.(\d+))?(?:e([+-]?\d+))?$/.exec(
    String(Math.abs(n)),
  )!;
  const digits = BigInt(whole + fraction);
  const shift = Number(exponent) - fraction.length + 8;
  let atoms = shift >= 0 ? digits * 10n ** BigInt(shift) : digits / 10n ** BigInt(-shift);
  if (shift < 0 && (digits % 10n ** BigInt(-shift)) * 2n >= 10n ** BigInt(-shift)) atoms += 1n;
  return n < 0 ? -atoms : atoms;
}

t.test('toAtoms without printing agrees with the printed decimal, half atoms included', async (t) => {
  const same = (x: number): boolean => toAtoms(x) === decimalAtoms(x);
  fc.assert(fc.property(fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e9, max: 1e9 }), same), {
    numRuns: 20_000,
  });
  // Exactly half an atom in decimal, which binary can only approximate from either side.
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2 ** 45 }), (k) => same((k + 0.5) / 1e8) && same(-(k + 0.5) / 1e8)),
    { numRuns: 20_000 },
  );
  // Prices and amounts as exchanges print them, and their products as fills make them.
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 10 ** 9 }),
      fc.integer({ min: 0, max: 10 }),
      fc.integer({ min: 1, max: 10 ** 7 }),
      (mantissa, decimals, quantity) => {
        const price = mantissa / 10 ** decimals;
        return same(price) && same(price * (quantity / 1e8)) && same(price * quantity);
      },
    ),
    { numRuns: 20_000 },
  );
  for (const x of [
    1.5e-8,
    2.5e-8,
    4.999999999e-9,
    5e-9,
    1.005,
    0.1 + 0.2,
    2 ** 52 / 1e8,
    2 ** 53 / 1e8,
    1e300,
  ])
    t.equal(toAtoms(x), decimalAtoms(x), String(x));
});
