/**
 * Amounts are integers of 1e-8 (Binance's finest precision) so that balances add up exactly
 * and step and tick checks are exact; floats only come in from the fill model and candles,
 * and are rounded to 8 decimals at that border.
 */
export type Units = bigint;

export const DECIMALS = 8;
export const ONE: Units = 10n ** BigInt(DECIMALS);

const DECIMAL = /^(\d{1,20})(?:\.(\d{1,20}))?$/;

export type ParsedDecimal = { ok: true; units: Units } | { ok: false; reason: 'malformed' | 'too-precise' };

/** Parses a non-negative decimal string as sent on the wire; trailing zeros beyond 8 places are fine. */
export function parseDecimal(text: string): ParsedDecimal {
  const m = DECIMAL.exec(text);
  if (!m) return { ok: false, reason: 'malformed' };
  const fraction = (m[2] ?? '').replace(/0+$/, '');
  if (fraction.length > DECIMALS) return { ok: false, reason: 'too-precise' };
  return { ok: true, units: BigInt(m[1] as string) * ONE + BigInt(fraction.padEnd(DECIMALS, '0')) };
}

/** Rounds a float to the nearest 1e-8. */
export function toUnits(x: number): Units {
  if (!Number.isFinite(x) || Math.abs(x) >= 1e12) throw new RangeError(`amount out of range: ${x}`);
  const text = x.toFixed(DECIMALS);
  const negative = text.startsWith('-');
  const units = BigInt(text.replace('-', '').replace('.', ''));
  return negative ? -units : units;
}

/** Binance's wire format: a plain decimal string with 8 places. */
export function formatUnits(u: Units): string {
  const negative = u < 0n;
  const abs = negative ? -u : u;
  const text = `${abs / ONE}.${(abs % ONE).toString().padStart(DECIMALS, '0')}`;
  return negative ? `-${text}` : text;
}

export function unitsToNumber(u: Units): number {
  return Number(formatUnits(u));
}

/** quantity × price, both in units, rounded down to units. */
export function mulUnits(a: Units, b: Units): Units {
  return (a * b) / ONE;
}
