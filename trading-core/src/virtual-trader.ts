import { fromAtoms } from './atoms.js';
import { candleProblem } from './candle.js';
import type { Candle } from './candle.js';
import { fillCostsProblem, frozenCosts } from './fill-model.js';
import type { Fill, FillCosts, OrderSide } from './fill-model.js';
import { Ledger } from './ledger.js';
import type { StrategyAction } from './strategies/strategy.js';
import { fillVirtualOrder, sizeVirtualBuy } from './virtual-fill.js';

export interface VirtualTraderOptions {
  /** Quote currency of every symbol traded, e.g. `USDT`. */
  quote: string;
  /** Starting virtual cash in quote. */
  seed: number;
  /** Slippage and fee applied to every fill. */
  costs: FillCosts;
  /** Fraction of equity put into each new position, in (0, 1]; typically 1 / number of pairs. */
  allocation: number;
}

/** A market order decided at a candle's close, to be filled at the next candle's open. */
export interface VirtualOrder {
  readonly side: OrderSide;
  readonly quantity: number;
  /** The close of the candle that decided it: the price a signal quotes. */
  readonly referencePrice: number;
}

export interface VirtualTraderStep {
  /**
   * The order pending from the previous candle, filled at this candle's open; null if none.
   * Its notional and fee are the ledger's recorded atoms, not the fill model's floats.
   */
  filled: Fill | null;
  /** The order decided on this candle, which the caller publishes as a signal; null if none. */
  order: VirtualOrder | null;
}

interface Pending {
  order: VirtualOrder;
  /** Cash set aside for a pending buy, so buys on other symbols cannot spend it twice. */
  reserved: bigint;
}

const SYMBOL = /^([A-Z0-9]{1,20})\/([A-Z0-9]{1,20})$/;

/**
 * One strategy's virtual portfolio over several pairs on one balance, at bar level.
 *
 * On each candle of a symbol it first fills that symbol's pending order at this candle's open
 * (market order with slippage), then turns the strategy's action into a new pending order sized
 * at this candle's close. A decision at close t can only fill at open t+1, so nothing it does
 * depends on a price it could not have seen. Pure: no clock, no I/O, no randomness.
 */
export class VirtualTrader {
  readonly ledger: Ledger;
  readonly quote: string;
  readonly costs: Readonly<FillCosts>;
  readonly allocation: number;
  readonly #pending = new Map<string, Pending>();
  /** Last close per asset: the marks equity is measured at. */
  readonly #marks: Record<string, number> = {};
  readonly #lastTime = new Map<string, number>();

  constructor(options: VirtualTraderOptions) {
    const { quote, seed, costs, allocation } = options;
    if (!(Number.isFinite(allocation) && allocation > 0 && allocation <= 1)) {
      throw new RangeError(`VirtualTrader: allocation must be in (0, 1], got ${allocation}`);
    }
    const problem = fillCostsProblem(costs);
    if (problem !== null) throw new RangeError(`VirtualTrader: ${problem}`);
    this.ledger = new Ledger({ quote, seed });
    this.quote = quote;
    this.costs = frozenCosts(costs);
    this.allocation = allocation;
  }

  /** Feed one closed candle of `symbol` (in time order per symbol) with the strategy's action on it. */
  onCandle(symbol: string, candle: Candle, action: StrategyAction | null): VirtualTraderStep {
    const asset = this.#assetOf(symbol);
    const problem = candleProblem(candle);
    if (problem !== null)
      throw new RangeError(`VirtualTrader: bad ${symbol} candle at ${candle.time}: ${problem}`);
    if (action !== 'buy' && action !== 'sell' && action !== null) {
      throw new RangeError(`VirtualTrader: action must be buy, sell or null, got ${String(action)}`);
    }
    const last = this.#lastTime.get(symbol);
    if (last !== undefined && candle.time <= last) {
      throw new RangeError(
        `VirtualTrader: ${symbol} candle at ${candle.time} is not after the previous one at ${last}`,
      );
    }

    this.#lastTime.set(symbol, candle.time);
    const filled = this.#fillPending(symbol, asset, candle);
    this.#marks[asset] = candle.close;
    const order = action === null ? null : this.#decide(symbol, asset, candle, action);
    return { filled, order };
  }

  pending(symbol: string): VirtualOrder | null {
    return this.#pending.get(symbol)?.order ?? null;
  }

  /** Cash plus open positions at each asset's latest close. */
  equity(): number {
    return this.ledger.equity(this.#marks);
  }

  #assetOf(symbol: string): string {
    const match = typeof symbol === 'string' ? SYMBOL.exec(symbol) : null;
    if (match === null || match[2] !== this.quote) {
      throw new RangeError(`VirtualTrader: symbol must look like BTC/${this.quote}, got ${String(symbol)}`);
    }
    return match[1]!;
  }

  #fillPending(symbol: string, asset: string, candle: Candle): Fill | null {
    const pending = this.#pending.get(symbol);
    if (pending === undefined) return null;
    this.#pending.delete(symbol);
    const { side, quantity } = pending.order;
    return fillVirtualOrder(
      this.ledger,
      asset,
      side,
      quantity,
      candle,
      this.costs,
      `${symbol}:${side}:${candle.time}`,
    );
  }

  #decide(symbol: string, asset: string, candle: Candle, action: StrategyAction): VirtualOrder | null {
    if (this.#pending.has(symbol)) return null;
    const held = this.ledger.positionAtoms(asset).quantity;
    let order: VirtualOrder;
    let reserved = 0n;
    if (action === 'sell') {
      if (held === 0n) return null;
      order = { side: 'sell', quantity: fromAtoms(held), referencePrice: candle.close };
    } else {
      if (held > 0n) return null;
      let available = this.ledger.cashAtoms();
      for (const p of this.#pending.values()) available -= p.reserved;
      const buy = sizeVirtualBuy(available, this.equity(), this.allocation, candle.close, this.costs);
      if (buy === null) return null;
      order = { side: 'buy', quantity: buy.quantity, referencePrice: candle.close };
      reserved = buy.reserved;
    }
    order = Object.freeze(order);
    this.#pending.set(symbol, { order, reserved });
    return order;
  }
}
