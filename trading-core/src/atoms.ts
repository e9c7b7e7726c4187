/**
 * Money and quantities inside the ledger are bigint "atoms": integers of 1e-8 of a unit (a
 * satoshi for BTC, 1e-8 USDT for the quote), so sums are exact and books balance to the atom.
 */
export const ATOM_DECIMALS = 8;
export const ATOMS_PER_UNIT = 100_000_000n;

const DECIMAL = /^(\d+)(?:\.(\d+))?(?:e([+-]?\d+))?$/;
const EXACT_LIMIT = 2 ** 53;
/** Below this an atom count and its neighbours are exact doubles. */
const FAST_LIMIT = 2 ** 52;

/**
 * A number as atoms, rounded half away from zero at the 8th decimal.
 *
 * It rounds the number's shortest round-trip decimal form (what `String(n)` prints), not its
 * binary expansion: 1.005 becomes 100500000n and 0.000000015 becomes 2n, as a person reading
 * the number expects, although the nearest doubles lie just below those values.
 * Throws a RangeError for NaN and ±Infinity.
 */
export function toAtoms(n: number): bigint {
  const fast = nearestAtoms(n);
  if (fast !== undefined) return BigInt(fast);
  if (!Number.isFinite(n)) throw new RangeError(`toAtoms: not a finite number: ${n}`);
  const match = DECIMAL.exec(String(Math.abs(n)));
  // String() of a finite number >= 0 always has this shape; the check keeps the types honest.
  if (match === null) throw new RangeError(`toAtoms: cannot read ${n}`);
  const [, whole = '0', fraction = '', exponent = '0'] = match;
  const digits = BigInt(whole + fraction);
  const shift = Number(exponent) - fraction.length + ATOM_DECIMALS;
  let atoms: bigint;
  if (shift >= 0) {
    atoms = digits * 10n ** BigInt(shift);
  } else {
    const divisor = 10n ** BigInt(-shift);
    atoms = digits / divisor;
    if ((digits % divisor) * 2n >= divisor) atoms += 1n;
  }
  return n < 0 ? -atoms : atoms;
}

/**
 * toAtoms without the decimal string, where the answer cannot depend on it: n × 1e8 rounded,
 * unless the product lies so near a half atom that the shortest decimal of n (within half an
 * ulp of n) could round the other way, or is too large to hold an integer exactly. Then
 * undefined, and toAtoms reads the decimal. The fill path calls toAtoms several times a fill.
 */
export function nearestAtoms(n: number): number | undefined {
  const y = (n < 0 ? -n : n) * 1e8;
  // Also false for NaN and Infinity.
  if (!(y < FAST_LIMIT)) return undefined;
  const floor = Math.floor(y);
  const fromHalf = y - floor - 0.5;
  // The decimal's product is within 1.5 ulp(y) of y; y * 2^-50 is at least 4 ulp(y).
  if ((fromHalf < 0 ? -fromHalf : fromHalf) <= y * 2 ** -50 + Number.MIN_VALUE) return undefined;
  const atoms = fromHalf > 0 ? floor + 1 : floor;
  return n < 0 ? -atoms : atoms;
}

/**
 * Atoms as the nearest number. Exact in the sense that `toAtoms(fromAtoms(a)) === a` for any
 * amount below about 2e7 units; above that a double cannot hold 8 decimals.
 */
export function fromAtoms(atoms: bigint): number {
  // Below 2^53 in size the conversion is exact, and both operands exact doubles, so one
  // correctly rounded division gives the nearest number. Rounding never takes a bigint of 2^53
  // or more below 2^53, so testing the converted number is enough (and cheaper than comparing
  // bigints, which the fill path would do a dozen times a fill).
  const exact = Number(atoms);
  if (exact < EXACT_LIMIT && exact > -EXACT_LIMIT) return exact / 1e8;
  const abs = atoms < 0n ? -atoms : atoms;
  const text = `${abs / ATOMS_PER_UNIT}.${(abs % ATOMS_PER_UNIT).toString().padStart(ATOM_DECIMALS, '0')}`;
  return atoms < 0n ? -Number(text) : Number(text);
}

/** a × b / divisor in atoms, rounded half away from zero, for prorating an exact amount. */
export function mulDivRound(a: bigint, b: bigint, divisor: bigint): bigint {
  const product = a * b;
  const negative = product < 0n !== divisor < 0n;
  const p = product < 0n ? -product : product;
  const d = divisor < 0n ? -divisor : divisor;
  let q = p / d;
  if ((p % d) * 2n >= d) q += 1n;
  return negative ? -q : q;
}

/** Atoms as an exact decimal string without trailing zeros, for messages and reports. */
export function formatAtoms(atoms: bigint): string {
  const abs = atoms < 0n ? -atoms : atoms;
  const fraction = (abs % ATOMS_PER_UNIT).toString().padStart(ATOM_DECIMALS, '0').replace(/0+$/, '');
  const text = `${abs / ATOMS_PER_UNIT}${fraction === '' ? '' : `.${fraction}`}`;
  return atoms < 0n ? `-${text}` : text;
}
