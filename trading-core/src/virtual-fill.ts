import { fromAtoms, toAtoms } from './atoms.js';
import type { Candle } from './candle.js';
import { fillableQuantity, marketFill } from './fill-model.js';
import type { Fill, FillCosts, OrderSide } from './fill-model.js';
import type { Ledger } from './ledger.js';
import { isLedgerError } from './ledger-error.js';
import { reportedFill } from './ledger/fill-report.js';
import { normaliseFill, type FillInput } from './ledger/fill-input.js';

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
  const perUnit = close * (1 + costs.slippageBps / BPS) * (1 + costs.feeBps / BPS);
  const target = (allocation * equity) / close;
  const quantity = floorAtoms(Math.min(target, fromAtoms(available) / perUnit));
  if (quantity <= 0n) return null;
  const units = fromAtoms(quantity);
  return { quantity: units, reserved: toAtoms(units * perUnit) };
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
  if (side === 'sell') {
    const held = ledger.positionAtoms(asset).quantity;
    if (held === 0n) return null;
    const selling = costs.maxVolumeShare === undefined ? held : capAtoms(held, volume, costs);
    if (selling === 0n) return null;
    return book(
      ledger,
      asset,
      marketFill('sell', fromAtoms(selling), candle.open, costs, volume),
      candle.time,
      ref,
    );
  }

  let atoms = toAtoms(quantity);
  if (costs.maxVolumeShare !== undefined) {
    atoms = capAtoms(atoms, volume, costs);
    if (atoms === 0n) return null;
  }
  let fill = marketFill('buy', fromAtoms(atoms), candle.open, costs, volume);
  if (cannotAfford(ledger, input(asset, fill, candle.time, ref))) {
    // The open gapped above the close the order was sized at: buy what the cash covers instead.
    atoms = floorAtoms(ledger.cash() / (fill.price * (1 + costs.feeBps / BPS)));
    // Rounding of notional and fee to atoms can still overshoot by an atom or two.
    for (let tries = 0; atoms > 0n && tries < 16; tries++, atoms -= 1n) {
      fill = marketFill('buy', fromAtoms(atoms), candle.open, costs, volume);
      if (!cannotAfford(ledger, input(asset, fill, candle.time, ref))) break;
    }
  }
  return book(ledger, asset, fill, candle.time, ref);
}

function input(asset: string, fill: Fill, ts: number, ref: string) {
  return { asset, side: fill.side, quantity: fill.quantity, price: fill.price, fee: fill.fee, ts, ref };
}

/**
 * Books the fill, or drops it when the ledger cannot take it: an order cut to dust by a gap,
 * or a position worth less than one quote atom. Either way the order is over; the books are
 * never left half-changed.
 */
function book(ledger: Ledger, asset: string, fill: Fill, ts: number, ref: string): Fill | null {
  try {
    return reportedFill(ledger.applyFill(input(asset, fill, ts, ref)).fill!);
  } catch (err) {
    // applyFill changes nothing when it throws.
    if (isLedgerError(err)) return null;
    throw err;
  }
}

/**
 * Whether the ledger would refuse this buy for want of cash: `ledger.check(...)?.code ===
 * 'E_INSUFFICIENT_CASH'`, without building the refusal (its stack trace costs more than the rest
 * of a fill, and a gapped buy is tried several times). A fill the ledger cannot even record is
 * not a cash problem, as for check.
 */
function cannotAfford(ledger: Ledger, fill: FillInput): boolean {
  let recorded;
  try {
    recorded = normaliseFill(fill, ledger.quote).fill;
  } catch (err) {
    if (isLedgerError(err)) return false;
    throw err;
  }
  return recorded.notional + recorded.fee > ledger.cashAtoms();
}

/** At most the bar's fillable share of `atoms`, rounded down to the atom: a partial fill. */
function capAtoms(atoms: bigint, barVolume: number, costs: Readonly<FillCosts>): bigint {
  const most = floorAtoms(fillableQuantity(Number.MAX_VALUE, barVolume, costs));
  return most < atoms ? most : atoms;
}

function floorAtoms(x: number): bigint {
  return x > 0 && Number.isFinite(x) ? BigInt(Math.floor(x * 1e8)) : 0n;
}
