import { fromAtoms } from './atoms.js';
import { candleProblem, isSoundCandle } from './candle.js';
import type { Candle } from './candle.js';
import { fillCostsProblem, frozenCosts, type Fill, type FillCosts, type OrderSide } from './fill-model.js';
import { Ledger } from './ledger.js';
import type { Strategy, StrategyParams } from './strategies/strategy.js';
import { fillVirtualOrder, virtualBuyQuantity } from './virtual-fill.js';

export interface BacktestOptions {
  /** Unified symbol, e.g. `BTC/USDT`. */
  symbol: string;
  /** Quote currency; defaults to the symbol's. */
  quote?: string;
  /** Starting cash in quote. */
  seed: number;
  costs: FillCosts;
  /**
   * The candles of each symbol the strategy lists in `inputs`, oldest first; each is given to
   * `onInput` just before the first traded candle that opens after it.
   */
  inputs?: Readonly<Record<string, readonly Candle[]>>;
}

/** A fill as the ledger booked it: notional and fee are its recorded atoms. */
export interface BacktestTrade extends Fill {
  /** Open time of the candle whose open it filled at. */
  time: number;
}

export interface BacktestResult {
  /** What ran: the strategy's name, its version and its parameters with defaults filled in. */
  strategy: { name: string; version: string; params: StrategyParams };
  trades: BacktestTrade[];
  /** Cash plus any open position at the last close; an order still pending at the end is dropped. */
  finalEquity: number;
  /** (finalEquity - seed) / seed. */
  totalReturn: number;
  /** Largest fall from a peak of close-marked equity, as a fraction of that peak, in [0, 1]. */
  maxDrawdown: number;
  fills: number;
  ledgerBalanced: boolean;
}

const SYMBOL = /^([A-Z0-9]{1,20})\/([A-Z0-9]{1,20})$/;
const NONE = 0;
const BUY = 1;
const SELL = 2;

/**
 * One strategy over one symbol's candles, all in, on a virtual balance: the datafeed's
 * VirtualTrader with allocation 1, to the atom (both call `virtual-fill.ts`).
 *
 * A decision at close t fills at open t+1. The loop runs on plain numbers and touches the exact
 * bigint ledger only when an order is sized or filled (a few candles in a hundred), so the cost
 * per candle is the strategy's own plus a handful of comparisons, with no allocation. The books
 * are checked balanced at the end.
 */
export function backtest(
  candles: readonly Candle[],
  strategy: Strategy,
  options: BacktestOptions,
): BacktestResult {
  const { symbol, seed, costs } = options;
  const match = typeof symbol === 'string' ? SYMBOL.exec(symbol) : null;
  const quote = options.quote ?? match?.[2] ?? '';
  if (match === null || match[2] !== quote)
    throw new RangeError(`backtest: symbol must look like BTC/${quote || 'USDT'}, got ${String(symbol)}`);
  const problem = fillCostsProblem(costs);
  if (problem !== null) throw new RangeError(`backtest: ${problem}`);
  const books = new BacktestBooks(symbol, match[1]!, quote, seed, frozenCosts(costs));
  const feed = inputFeed(strategy, options.inputs);

  const { maxDrawdown, lastClose } = run(candles, strategy, symbol, seed, books, feed);
  const finalEquity = books.equity(lastClose);
  const trades = books.trades;
  return {
    strategy: { name: strategy.name, version: strategy.version, params: strategy.params ?? {} },
    trades,
    finalEquity,
    totalReturn: (finalEquity - seed) / seed,
    maxDrawdown,
    fills: trades.length,
    ledgerBalanced: books.ledger.isBalanced(),
  };
}

/**
 * The hot loop, a function of its own: V8 optimises it while it runs (on-stack replacement),
 * and code after a loop that has not run yet would have no type feedback and throw the
 * optimised loop away at every exit.
 */
function run(
  candles: readonly Candle[],
  strategy: Strategy,
  symbol: string,
  seed: number,
  books: BacktestBooks,
  feed: { before(time: number): void } | null,
): { maxDrawdown: number; lastClose: number } {
  let pending = NONE;
  let pendingQuantity = 0;
  // Drawdown needs equity at every close; cash and quantity only change on a fill, so they are
  // kept as numbers between fills instead of asking the ledger (bigint) on every candle.
  let holding = false;
  let cash = seed;
  let held = 0;
  let peak = seed;
  let maxDrawdown = 0;
  let lastTime = -1;
  let lastClose = 0;

  // Everything that touches the ledger is in BacktestBooks, out of line, so the loop itself
  // stays small enough to keep its state in registers.
  for (let i = 0; i < candles.length; i++) {
    const candle = candles[i]!;
    if (!isSoundCandle(candle)) throw badCandle(symbol, candle);
    if (candle.time <= lastTime) throw outOfOrder(symbol, candle, lastTime);
    lastTime = candle.time;
    if (feed !== null) feed.before(candle.time);

    if (pending !== NONE) {
      if (books.fill(pending === BUY ? 'buy' : 'sell', pendingQuantity, candle)) {
        cash = books.cash;
        held = books.held;
        holding = books.holding;
      }
      pending = NONE;
    }

    const action = strategy.onCandle(candle);
    if (action === 'sell') {
      if (holding) {
        pending = SELL;
        pendingQuantity = held;
      }
    } else if (action === 'buy') {
      if (!holding) {
        pendingQuantity = books.sizeBuy(candle.close);
        if (pendingQuantity > 0) pending = BUY;
      }
    } else if (action !== null) {
      throw new RangeError(`backtest: action must be buy, sell or null, got ${String(action)}`);
    }

    lastClose = candle.close;
    const equity = cash + held * lastClose;
    if (equity > peak) peak = equity;
    else maxDrawdown = Math.max(maxDrawdown, (peak - equity) / peak);
  }

  return { maxDrawdown, lastClose };
}

/**
 * A backtest's exact books: the ledger (no journal: a backtest never reads its transactions
 * back, and keeping them is most of a fill's cost) and the trades it booked. Called only to size
 * and fill orders, a few candles in a hundred.
 */
class BacktestBooks {
  readonly ledger: Ledger;
  readonly trades: BacktestTrade[] = [];
  /** After a fill: cash and quantity held, as numbers for the loop's equity. */
  cash = 0;
  held = 0;
  holding = false;
  readonly #symbol: string;
  readonly #asset: string;
  readonly #costs: Readonly<FillCosts>;

  constructor(symbol: string, asset: string, quote: string, seed: number, costs: Readonly<FillCosts>) {
    this.ledger = new Ledger({ quote, seed, journal: false });
    this.#symbol = symbol;
    this.#asset = asset;
    this.#costs = costs;
  }

  /** Fills an order at this candle's open; false when nothing could be booked. */
  fill(side: OrderSide, quantity: number, candle: Candle): boolean {
    // The symbol alone as the reference: without a journal nobody reads it back, and printing the
    // time into it would cost more than the rest of the fill's bookkeeping.
    const filled = fillVirtualOrder(
      this.ledger,
      this.#asset,
      side,
      quantity,
      candle,
      this.#costs,
      this.#symbol,
    );
    if (filled === null) return false;
    this.trades.push({
      side: filled.side,
      quantity: filled.quantity,
      price: filled.price,
      notional: filled.notional,
      fee: filled.fee,
      time: candle.time,
    });
    this.cash = this.ledger.cash();
    const atoms = this.ledger.quantityAtoms(this.#asset);
    this.held = fromAtoms(atoms);
    this.holding = atoms > 0n;
    return true;
  }

  /** The quantity a buy at this close would be sized at while flat; 0 when not one atom fits. */
  sizeBuy(close: number): number {
    // Flat, so equity is the cash: what the VirtualTrader's ledger.equity(marks) gives.
    const cash = this.ledger.cash();
    return virtualBuyQuantity(cash, cash, 1, close, this.#costs);
  }

  equity(lastClose: number): number {
    return this.holding ? this.ledger.equity({ [this.#asset]: lastClose }) : this.ledger.cash();
  }
}

function badCandle(symbol: string, candle: Candle): RangeError {
  return new RangeError(`backtest: bad ${symbol} candle at ${candle.time}: ${candleProblem(candle)}`);
}

function outOfOrder(symbol: string, candle: Candle, lastTime: number): RangeError {
  return new RangeError(
    `backtest: ${symbol} candle at ${candle.time} is not after the previous one at ${lastTime}`,
  );
}

/** Gives each input symbol's candles to the strategy, each just before the first traded candle after it. */
function inputFeed(
  strategy: Strategy,
  inputs: Readonly<Record<string, readonly Candle[]>> | undefined,
): { before(time: number): void } | null {
  const wanted = strategy.inputs ?? [];
  if (wanted.length === 0) return null;
  const onInput = strategy.onInput?.bind(strategy);
  if (onInput === undefined)
    throw new RangeError(`backtest: strategy ${strategy.name} lists inputs but has no onInput`);
  const series = wanted.map((name) => {
    const candles = inputs?.[name];
    if (candles === undefined)
      throw new RangeError(`backtest: strategy ${strategy.name} reads ${name}: give its candles in inputs`);
    let last = -1;
    for (const c of candles) {
      const problem = candleProblem(c);
      if (problem !== null) throw new RangeError(`backtest: bad ${name} candle at ${c.time}: ${problem}`);
      if (c.time <= last)
        throw new RangeError(
          `backtest: ${name} candle at ${c.time} is not after the previous one at ${last}`,
        );
      last = c.time;
    }
    return { name, candles, next: 0 };
  });
  return {
    before(time: number): void {
      for (const s of series) {
        while (s.next < s.candles.length && s.candles[s.next]!.time < time)
          onInput(s.name, s.candles[s.next++]!);
      }
    },
  };
}
