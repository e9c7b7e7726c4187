import { fromAtoms } from './atoms.js';
import { candleProblem, isSoundCandle } from './candle.js';
import type { Candle } from './candle.js';
import { fillCostsProblem, frozenCosts, type Fill, type FillCosts, type OrderSide } from './fill-model.js';
import { TradeLog } from './backtest-trade-log.js';
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
  /**
   * Also return `equity`, the close-marked equity after every candle (what metrics such as
   * Sharpe are computed from). Off by default: it is one Float64Array as long as the candles.
   */
  equityCurve?: boolean;
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
  /** Share of candles that closed with a position held, in [0, 1]. */
  exposure: number;
  /**
   * With `equityCurve`: equity at each candle's close, cash plus the position at that close
   * (floats, as the drawdown uses; `finalEquity` is the ledger's exact figure).
   */
  equity?: Float64Array;
  ledgerBalanced: boolean;
}

const SYMBOL = /^([A-Z0-9]{1,20})\/([A-Z0-9]{1,20})$/;
const NONE = 0;
const BUY = 1;
const SELL = 2;
/** Indexes into `Settlement.marks`. */
const PEAK = 0;
const TROUGH = 1;
const DRAWDOWN = 2;

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

  const equity = options.equityCurve === true ? new Float64Array(candles.length) : null;
  const settled = run(candles, strategy, symbol, seed, books, feed, equity);
  const { lastClose, candlesHeld } = settled;
  const maxDrawdown = settled.marks[DRAWDOWN]!;
  const finalEquity = books.equity(lastClose);
  const trades = books.trades.toArray();
  return {
    strategy: { name: strategy.name, version: strategy.version, params: strategy.params ?? {} },
    trades,
    finalEquity,
    totalReturn: (finalEquity - seed) / seed,
    maxDrawdown,
    fills: trades.length,
    exposure: candles.length === 0 ? 0 : candlesHeld / candles.length,
    ...(equity === null ? {} : { equity }),
    ledgerBalanced: books.ledger.isBalanced(),
  };
}

/** Candles decided at a time: few enough to stay in cache between the two passes over them. */
const CHUNK = 512;

/**
 * The candles a chunk at a time, in two passes: `decide` checks each candle and asks the
 * strategy, then `settle` fills what was decided and follows equity. A strategy does not see
 * the portfolio, so asking it a few hundred candles ahead of the fills changes nothing.
 *
 * Each pass is a small loop of its own, called from this cold one, so the engine compiles each
 * whole and the same way every run: the strategy's indicators inlined into `decide` with
 * nothing else competing for the inlining budget, the books kept out of both loops (`settle`
 * leaves the few candles that touch them to `bookStep`). The second pass reads candles the first
 * has just brought into cache, and only those it needs: a flat candle with nothing to do is not
 * read again.
 */
function run(
  candles: readonly Candle[],
  strategy: Strategy,
  symbol: string,
  seed: number,
  books: BacktestBooks,
  feed: { before(time: number): void } | null,
  equity: Float64Array | null,
): Settlement {
  const actions = new Uint8Array(CHUNK);
  const state = new Settlement(seed);
  for (let start = 0; start < candles.length; start += CHUNK) {
    const end = Math.min(candles.length, start + CHUNK);
    decide(candles, start, end, strategy, symbol, feed, actions);
    settle(candles, start, end, actions, books, state, equity);
  }
  return state;
}

/** What `settle` carries from one candle that touches the books, and one chunk, to the next. */
class Settlement {
  pending = NONE;
  pendingQuantity = 0;
  // Drawdown needs equity at every close; cash and quantity only change on a fill, so they are
  // kept as numbers between fills instead of asking the ledger (bigint) on every candle.
  holding = false;
  cash: number;
  held = 0;
  /**
   * The peak of equity, the lowest equity since that peak, and the largest drawdown so far (at
   * PEAK, TROUGH and DRAWDOWN). In a Float64Array, not fields: written back from `glide`'s loop
   * into number fields, V8 kept them as tagged values and boxed the equity of every held candle.
   */
  readonly marks: Float64Array;
  lastClose = 0;
  /** Candles that closed with a position held, for the exposure. */
  candlesHeld = 0;

  constructor(seed: number) {
    this.cash = seed;
    this.marks = Float64Array.of(seed, seed, 0);
  }
}

/**
 * The second pass over candles[start, end): fills the order pending from the candle before at
 * this one's open, turns the strategy's action (actions[i - start]) into the next order, and
 * follows equity at the close.
 *
 * Most candles touch no books: nothing pending, and no buy to size. Those run in `glide`, a
 * tight loop with its state in locals; it stops at a candle that does, which `bookStep` takes
 * out of line (a few candles in a hundred), and goes on after it.
 */
function settle(
  candles: readonly Candle[],
  start: number,
  end: number,
  actions: Uint8Array,
  books: BacktestBooks,
  state: Settlement,
  curve: Float64Array | null,
): void {
  for (let i = glide(candles, start, start, end, actions, state, curve); i < end;) {
    bookStep(candles[i]!, i, actions[i - start]!, books, state, curve);
    i = glide(candles, i + 1, start, end, actions, state, curve);
  }
  if (end > start) state.lastClose = candles[end - 1]!.close;
}

/**
 * Candles [from, end) up to the first that touches the books (an order pending at its open, or
 * a buy to size at its close while flat), whose index it returns (`end` if none): a sell while
 * holding becomes the pending order, a held candle counts and moves equity.
 */
function glide(
  candles: readonly Candle[],
  from: number,
  start: number,
  end: number,
  actions: Uint8Array,
  state: Settlement,
  curve: Float64Array | null,
): number {
  if (state.pending !== NONE) return from;
  // `=== true`: a known boolean to branch on every candle (see indicators/period.ts).
  const holding = state.holding === true;
  const { cash, held } = state;
  const marks = state.marks;
  let peak = marks[PEAK]!;
  let trough = marks[TROUGH]!;
  let maxDrawdown = marks[DRAWDOWN]!;
  let candlesHeld = state.candlesHeld;
  let pending = NONE;
  let i = from;
  for (; i < end; i++) {
    if (pending !== NONE) break;
    const action = actions[i - start];
    if (holding) {
      // A sell is sized at what is held and filled at the next open, by bookStep.
      if (action === SELL) pending = SELL;
      candlesHeld++;
      const equity = cash + held * candles[i]!.close;
      if (curve !== null) curve[i] = equity;
      if (equity > peak) {
        peak = equity;
        trough = equity;
      } else if (equity < trough) {
        // For one peak, (peak - equity) / peak only grows as equity falls (subtraction and
        // division round monotonically), so only a new low since the peak can raise the
        // drawdown: the same maximum as dividing on every candle, without the division on most.
        trough = equity;
        maxDrawdown = Math.max(maxDrawdown, (peak - equity) / peak);
      }
    } else {
      if (action === BUY) break;
      // Flat, equity is the cash, the same as at the close before, and the same equity again
      // can move neither the peak nor the trough.
      if (curve !== null) curve[i] = cash;
    }
  }
  if (pending === SELL) state.pendingQuantity = held;
  state.pending = pending;
  marks[PEAK] = peak;
  marks[TROUGH] = trough;
  marks[DRAWDOWN] = maxDrawdown;
  state.candlesHeld = candlesHeld;
  return i;
}

/** One candle that touches the books: `glide`'s step, with the fill and the sizing. */
function bookStep(
  candle: Candle,
  i: number,
  action: number,
  books: BacktestBooks,
  state: Settlement,
  curve: Float64Array | null,
): void {
  let filled = false;
  if (state.pending !== NONE) {
    // Everything that touches the ledger is in BacktestBooks.
    if (books.fill(state.pending === BUY ? 'buy' : 'sell', state.pendingQuantity, candle)) {
      state.cash = books.cash;
      state.held = books.held;
      state.holding = books.holding;
      filled = true;
    }
    state.pending = NONE;
  }
  if (action === SELL) {
    if (state.holding === true) {
      state.pending = SELL;
      state.pendingQuantity = state.held;
    }
  } else if (action === BUY) {
    if (state.holding !== true) {
      const quantity = books.sizeBuy(candle.close);
      if (quantity > 0) {
        state.pending = BUY;
        state.pendingQuantity = quantity;
      }
    }
  }
  const equity = state.cash + state.held * candle.close;
  if (curve !== null) curve[i] = equity;
  if (state.holding !== true && !filled) return;
  if (state.holding === true) state.candlesHeld++;
  const marks = state.marks;
  const peak = marks[PEAK]!;
  if (equity > peak) {
    marks[PEAK] = equity;
    marks[TROUGH] = equity;
  } else if (equity < marks[TROUGH]!) {
    marks[TROUGH] = equity;
    marks[DRAWDOWN] = Math.max(marks[DRAWDOWN]!, (peak - equity) / peak);
  }
}

/**
 * The first pass over candles[start, end): checks each candle (sound, after the one before;
 * the first of a chunk against the last of the previous), gives the strategy its inputs and the
 * candle, and writes what it wants into `actions` (NONE, BUY or SELL), from index 0.
 */
function decide(
  candles: readonly Candle[],
  start: number,
  end: number,
  strategy: Strategy,
  symbol: string,
  feed: { before(time: number): void } | null,
  actions: Uint8Array,
): void {
  let lastTime = start === 0 ? -1 : candles[start - 1]!.time;
  for (let i = start; i < end; i++) {
    const candle = candles[i]!;
    if (!isSoundCandle(candle)) throw badCandle(symbol, candle);
    if (candle.time <= lastTime) throw outOfOrder(symbol, candle, lastTime);
    lastTime = candle.time;
    if (feed !== null) feed.before(lastTime);
    const action = strategy.onCandle(candle);
    actions[i - start] =
      action === null ? NONE : action === 'buy' ? BUY : action === 'sell' ? SELL : badAction(action);
  }
}

function badAction(action: unknown): never {
  throw new RangeError(`backtest: action must be buy, sell or null, got ${String(action)}`);
}

/**
 * A backtest's exact books: the ledger (no journal: a backtest never reads its transactions
 * back, and keeping them is most of a fill's cost) and the trades it booked. Called only to size
 * and fill orders, a few candles in a hundred.
 */
class BacktestBooks {
  readonly ledger: Ledger;
  readonly trades = new TradeLog();
  /** Cash and quantity held, as numbers for the loop's equity and for sizing; set by each fill. */
  cash: number;
  held = 0;
  holding = false;
  readonly #symbol: string;
  readonly #asset: string;
  readonly #costs: Readonly<FillCosts>;

  constructor(symbol: string, asset: string, quote: string, seed: number, costs: Readonly<FillCosts>) {
    this.ledger = new Ledger({ quote, seed, journal: false });
    this.cash = this.ledger.cash();
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
    this.trades.add(filled.side, filled.quantity, filled.price, filled.notional, filled.fee, candle.time);
    this.cash = this.ledger.cash();
    const atoms = this.ledger.quantityAtoms(this.#asset);
    const bought = !this.holding && filled.side === 'buy';
    this.holding = atoms > 0n;
    // A buy from flat holds what it bought: the report's quantity is fromAtoms of the same atoms.
    this.held = !this.holding ? 0 : bought ? filled.quantity : fromAtoms(atoms);
    return true;
  }

  /** The quantity a buy at this close would be sized at while flat; 0 when not one atom fits. */
  sizeBuy(close: number): number {
    // Flat, so equity is the cash: what the VirtualTrader's ledger.equity(marks) gives. Cash
    // moves only on a fill, which keeps `this.cash` (the ledger's, converted) current.
    return virtualBuyQuantity(this.cash, this.cash, 1, close, this.#costs);
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
