import { formatAtoms, fromAtoms, toAtoms } from '../atoms.js';
import type { OrderSide } from '../fill-model.js';
import { LedgerError } from '../ledger-error.js';
import { CURRENCY } from './accounts.js';
import type { RecordedFill } from './transaction.js';

export interface FillInput {
  asset: string;
  side: OrderSide;
  /** Base-asset units, > 0; rounded to 8 decimals. */
  quantity: number;
  /** Quote per unit, > 0. */
  price: number;
  /** In quote, >= 0; rounded to 8 decimals. */
  fee: number;
  /** Time of the fill in ms; the ledger has no clock of its own. */
  ts: number;
  /** Caller's reference (order or signal id), kept for the audit trail. */
  ref: string;
}

export interface NormalisedFill {
  fill: RecordedFill;
  ts: number;
  ref: string;
}

const badFill = (detail: string): LedgerError => new LedgerError('E_BAD_FILL', detail);

/** A value as it appears in an error message. */
export function show(x: unknown): string {
  return typeof x === 'number' ? String(x) : (JSON.stringify(x) ?? String(x));
}

/** A caller's fill checked and converted to the atoms the ledger records; throws E_BAD_FILL. */
export function normaliseFill(input: FillInput, quote: string): NormalisedFill {
  if (typeof input !== 'object' || input === null) throw badFill('fill must be an object');
  const { asset, side, quantity, price, fee, ts, ref } = input;
  if (typeof asset !== 'string' || !CURRENCY.test(asset) || asset === quote) {
    throw badFill(`fill asset must be an upper-case currency code other than ${quote}, got ${show(asset)}`);
  }
  if (side !== 'buy' && side !== 'sell') throw badFill(`fill side must be buy or sell, got ${show(side)}`);
  for (const [name, x, min] of [
    ['quantity', quantity, '> 0'],
    ['price', price, '> 0'],
    ['fee', fee, '>= 0'],
  ] as const) {
    const ok = typeof x === 'number' && Number.isFinite(x) && (min === '> 0' ? x > 0 : x >= 0);
    if (!ok) throw badFill(`fill ${name} must be a finite number ${min}, got ${show(x)}`);
  }
  if (typeof ts !== 'number' || !Number.isFinite(ts))
    throw badFill(`fill ts must be a finite number, got ${show(ts)}`);
  if (typeof ref !== 'string') throw badFill(`fill ref must be a string, got ${show(ref)}`);

  const q = toAtoms(quantity);
  if (q === 0n) throw badFill(`fill quantity ${quantity} rounds to 0 at 8 decimals`);
  const product = fromAtoms(q) * price;
  if (!Number.isFinite(product)) throw badFill(`fill notional ${formatAtoms(q)} × ${price} is not finite`);
  const notional = toAtoms(product);
  if (notional === 0n) throw badFill(`fill notional ${formatAtoms(q)} × ${price} rounds to 0 at 8 decimals`);
  return { fill: { asset, side, quantity: q, price, notional, fee: toAtoms(fee) }, ts, ref };
}

/** The checks normaliseFill makes on numbers, made on a stored fill's atoms. */
export function checkRecordedFill(fill: RecordedFill, quote: string): void {
  if (fill.asset === quote) throw badFill(`fill asset must be other than ${quote}`);
  if (fill.quantity <= 0n) throw badFill('fill quantity must be > 0');
  if (fill.fee < 0n) throw badFill('fill fee must be >= 0');
  if (!Number.isFinite(fill.price) || fill.price <= 0)
    throw badFill('fill price must be a finite number > 0');
  if (fill.notional <= 0n) throw badFill('fill notional must be > 0');
  if (fill.notional !== toAtoms(fromAtoms(fill.quantity) * fill.price)) {
    throw badFill('fill notional is not quantity × price');
  }
}
