import t from 'tap';
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
