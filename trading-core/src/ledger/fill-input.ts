import { formatAtoms, fromAtoms, nearestAtoms, toAtoms } from '../atoms.js';
import type { OrderSide } from '../fill-model.js';
import { LedgerError } from '../ledger-error.js';
import { isCurrency } from './accounts.js';
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
  /**
   * The fill's quantity, notional and fee as numbers, each exactly `fromAtoms` of its atoms in
   * `fill`, worked out from the numbers the atoms were made from: a report of the fill without
   * converting the bigints back (a call into the engine's runtime each, several a fill).
   */
  units: { quantity: number; notional: number; fee: number };
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
  if (typeof asset !== 'string' || !isCurrency(asset) || asset === quote) {
    throw badFill(`fill asset must be an upper-case currency code other than ${quote}, got ${show(asset)}`);
  }
  if (side !== 'buy' && side !== 'sell') throw badFill(`fill side must be buy or sell, got ${show(side)}`);
  // Written out rather than looped over a table: this runs twice a fill in a backtest.
  if (!(typeof quantity === 'number' && quantity > 0 && quantity < Infinity))
    throw badFill(`fill quantity must be a finite number > 0, got ${show(quantity)}`);
  if (!(typeof price === 'number' && price > 0 && price < Infinity))
    throw badFill(`fill price must be a finite number > 0, got ${show(price)}`);
  if (!(typeof fee === 'number' && fee >= 0 && fee < Infinity))
    throw badFill(`fill fee must be a finite number >= 0, got ${show(fee)}`);
  if (typeof ts !== 'number' || !Number.isFinite(ts))
    throw badFill(`fill ts must be a finite number, got ${show(ts)}`);
  if (typeof ref !== 'string') throw badFill(`fill ref must be a string, got ${show(ref)}`);

  // The quantity's atoms as a number first, so the notional is computed without converting the
  // bigint back (each conversion is a call into the engine's runtime, several a fill).
  const qAtoms = nearestAtoms(quantity);
  const q = qAtoms === undefined ? toAtoms(quantity) : BigInt(qAtoms);
  if (q === 0n) throw badFill(`fill quantity ${quantity} rounds to 0 at 8 decimals`);
  const units = qAtoms === undefined ? fromAtoms(q) : qAtoms / 1e8;
  const product = units * price;
  if (!Number.isFinite(product)) throw badFill(`fill notional ${formatAtoms(q)} × ${price} is not finite`);
  const nAtoms = nearestAtoms(product);
  const notional = nAtoms === undefined ? toAtoms(product) : BigInt(nAtoms);
  if (notional === 0n) throw badFill(`fill notional ${formatAtoms(q)} × ${price} rounds to 0 at 8 decimals`);
  const fAtoms = nearestAtoms(fee);
  const feeAtoms = fAtoms === undefined ? toAtoms(fee) : BigInt(fAtoms);
  return {
    fill: { asset, side, quantity: q, price, notional, fee: feeAtoms },
    ts,
    ref,
    // nearestAtoms gives an exact integer below 2^52, the number fromAtoms would convert the
    // bigint back to, so the same division gives the same number.
    units: {
      quantity: units,
      notional: nAtoms === undefined ? fromAtoms(notional) : nAtoms / 1e8,
      fee: fAtoms === undefined ? fromAtoms(feeAtoms) : fAtoms / 1e8,
    },
  };
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
