import { ATOM_DECIMALS, ATOMS_PER_UNIT } from '@appliance/trading-core';

/**
 * Amounts on Binance's wire are decimal strings; inside, they are trading-core's atoms (integers
 * of 1e-8, Binance's finest precision), so this module is only the text border.
 */
const DECIMAL = /^(\d{1,20})(?:\.(\d{1,20}))?$/;

export type ParsedAmount = { ok: true; atoms: bigint } | { ok: false; reason: 'malformed' | 'too-precise' };

/** Parses a non-negative decimal string as sent on the wire; trailing zeros beyond 8 places are fine. */
export function parseAmount(text: string): ParsedAmount {
  const m = DECIMAL.exec(text);
  if (!m) return { ok: false, reason: 'malformed' };
  const fraction = (m[2] ?? '').replace(/0+$/, '');
  if (fraction.length > ATOM_DECIMALS) return { ok: false, reason: 'too-precise' };
  return {
    ok: true,
    atoms: BigInt(m[1] as string) * ATOMS_PER_UNIT + BigInt(fraction.padEnd(ATOM_DECIMALS, '0')),
  };
}

/** Binance's wire format: a plain decimal string with 8 places. */
export function formatAmount(atoms: bigint): string {
  const negative = atoms < 0n;
  const abs = negative ? -atoms : atoms;
  const text = `${abs / ATOMS_PER_UNIT}.${(abs % ATOMS_PER_UNIT).toString().padStart(ATOM_DECIMALS, '0')}`;
  return negative ? `-${text}` : text;
}
