import { fromAtoms, nearestAtoms, toAtoms } from './atoms.js';
import type { Candle } from './candle.js';
import { fillableQuantity, marketFill } from './fill-model.js';
import type { Fill, FillCosts, OrderSide } from './fill-model.js';
import type { Ledger } from './ledger.js';
import { isLedgerError } from './ledger-error.js';
import type { FillInput } from './ledger/fill-input.js';

const BPS = 10_000;

/**
 * The two steps of a virtual market order, shared by the VirtualTrader (the datafeed's
 * portfolio) and the backtest's fast loop, so a backtest and a live feed book the same fills to
 * the atom: sizing a buy at a close, and filling at the next open.
 */

/**
 * A buy sized at `close`: `allocation` of equity, capped by the cash not already set aside,
 * budgeted as if it filled at this close moved by slippage and fee. Null when not one atom fits.
 * `reserved` is the cash it sets aside until it fills.
 */
export function sizeVirtualBuy(
  available: bigint,
  equity: number,
  allocation: number,
  close: number,
  costs: Readonly<FillCosts>,
): { quantity: number; reserved: bigint } | null {
  const quantity = virtualBuyQuantity(fromAtoms(available), equity, allocation, close, costs);
  if (quantity === 0) return null;
  return { quantity, reserved: toAtoms(quantity * buyPerUnit(close, costs)) };
}

/**
 * sizeVirtualBuy's quantity alone, 0 when not one atom fits, with the available cash in quote:
 * what a backtest, which never has two orders pending, needs on its fast path.
 */
export function virtualBuyQuantity(
  available: number,
  equity: number,
  allocation: number,
  close: number,
  costs: Readonly<FillCosts>,
): number {
  const target = (allocation * equity) / close;
  const units = Math.min(target, available / buyPerUnit(close, costs));
  // Floored to the atom; the number of atoms is an exact integer well below 2^53 for any budget
  // a double can hold to the atom, so this is fromAtoms(floorAtoms(units)) without the bigint.
  return units > 0 && Number.isFinite(units) ? Math.floor(units * 1e8) / 1e8 : 0;
}

/** What a unit bought at `close` costs with slippage and fee. */
function buyPerUnit(close: number, costs: Readonly<FillCosts>): number {
  return close * (1 + costs.slippageBps / BPS) * (1 + costs.feeBps / BPS);
}

/**
 * Fills an order decided at the previous close at this candle's open (a market order with
 * slippage) and books it; null when nothing could be booked (nothing held to sell, or an order
 * cut to dust by a gap). A buy the open gapped above is cut to what the cash covers. The fill
 * returned is the one booked, in the ledger's atoms.
 */
export function fillVirtualOrder(
  ledger: Ledger,
  asset: string,
  side: OrderSide,
  quantity: number,
  candle: Candle,
  costs: Readonly<FillCosts>,
  ref: string,
): Fill | null {
  const volume = candle.volume;
  const time = candle.time;
  if (side === 'sell') {
    const held = ledger.quantityAtoms(asset);
    if (held === 0n) return null;
    const selling = costs.maxVolumeShare === undefined ? held : capAtoms(held, volume, costs);
    if (selling === 0n) return null;
    const fill = marketFill('sell', fromAtoms(selling), candle.open, costs, volume);
    // A sell the cash cannot cover (a fee beyond its proceeds) is dropped like any refusal.
    return book(ledger, input(asset, fill, time, ref)) ?? null;
  }

  let units: number;
  if (costs.maxVolumeShare === undefined) {
    // fromAtoms(toAtoms(quantity)) without the bigint and back, where the number alone decides.
    const rounded = nearestAtoms(quantity);
    units = rounded === undefined ? fromAtoms(toAtoms(quantity)) : rounded / 1e8;
  } else {
    const atoms = capAtoms(toAtoms(quantity), volume, costs);
    if (atoms === 0n) return null;
    units = fromAtoms(atoms);
  }
  const fill = marketFill('buy', units, candle.open, costs, volume);
  const booked = book(ledger, input(asset, fill, time, ref));
  if (booked !== undefined) return booked;
  // The open gapped above the close the order was sized at: buy what the cash covers instead.
  let atoms = floorAtoms(ledger.cash() / (fill.price * (1 + costs.feeBps / BPS)));
  // Rounding of notional and fee to atoms can still overshoot by an atom or two.
  for (let tries = 0; atoms > 0n && tries < 16; tries++, atoms -= 1n) {
    const smaller = marketFill('buy', fromAtoms(atoms), candle.open, costs, volume);
    const retried = book(ledger, input(asset, smaller, time, ref));
    if (retried !== undefined) return retried;
  }
  return null;
}

function input(asset: string, fill: Fill, ts: number, ref: string): FillInput {
  return { asset, side: fill.side, quantity: fill.quantity, price: fill.price, fee: fill.fee, ts, ref };
}

/**
 * Books the fill as the ledger records it; undefined when the cash does not cover it (nothing
 * changed, so a smaller buy can be tried), null when the ledger cannot take it at all: an order
 * cut to dust by rounding, or a position worth less than one quote atom. The books are never
 * left half-changed.
 */
function book(ledger: Ledger, fill: FillInput): Fill | null | undefined {
  try {
    return ledger.bookFill(fill) ?? undefined;
  } catch (err) {
    // bookFill changes nothing when it throws.
    if (isLedgerError(err)) return null;
    throw err;
  }
}

/** At most the bar's fillable share of `atoms`, rounded down to the atom: a partial fill. */
function capAtoms(atoms: bigint, barVolume: number, costs: Readonly<FillCosts>): bigint {
  const most = floorAtoms(fillableQuantity(Number.MAX_VALUE, barVolume, costs));
  return most < atoms ? most : atoms;
}

function floorAtoms(x: number): bigint {
  return x > 0 && Number.isFinite(x) ? BigInt(Math.floor(x * 1e8)) : 0n;
}
