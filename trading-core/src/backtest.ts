import { fromAtoms } from './atoms.js';
import { candleProblem, isSoundCandle } from './candle.js';
import type { Candle } from './candle.js';
import { fillCostsProblem, frozenCosts, type Fill, type FillCosts } from './fill-model.js';
import { Ledger } from './ledger.js';
import type { Strategy, StrategyParams } from './strategies/strategy.js';
import { fillVirtualOrder, sizeVirtualBuy } from './virtual-fill.js';

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
  const asset = match[1]!;
  // No journal: a backtest never reads its transactions back, and keeping them is most of a fill's cost.
  const ledger = new Ledger({ quote, seed, journal: false });
  const fixedCosts = frozenCosts(costs);
  const feed = inputFeed(strategy, options.inputs);
  const trades: BacktestTrade[] = [];

  let pending = NONE;
  let pendingQuantity = 0;
  let holding = false;
  // Drawdown needs equity at every close; cash and quantity only change on a fill, so they are
  // kept as numbers between fills instead of asking the ledger (bigint) on every candle.
  let cash = seed;
  let held = 0;
  let peak = seed;
  let maxDrawdown = 0;
  let lastTime = -1;
  let lastClose = 0;

  for (let i = 0; i < candles.length; i++) {
    const candle = candles[i]!;
    if (!isSoundCandle(candle))
      throw new RangeError(`backtest: bad ${symbol} candle at ${candle.time}: ${candleProblem(candle)}`);
    if (candle.time <= lastTime)
      throw new RangeError(
        `backtest: ${symbol} candle at ${candle.time} is not after the previous one at ${lastTime}`,
      );
    lastTime = candle.time;
    if (feed !== null) feed.before(candle.time);

    if (pending !== NONE) {
      const side = pending === BUY ? 'buy' : 'sell';
      pending = NONE;
      const ref = `${symbol}:${side}:${candle.time}`;
      const filled = fillVirtualOrder(ledger, asset, side, pendingQuantity, candle, fixedCosts, ref);
      if (filled !== null) {
        trades.push({
          side: filled.side,
          quantity: filled.quantity,
          price: filled.price,
          notional: filled.notional,
          fee: filled.fee,
          time: candle.time,
        });
        cash = ledger.cash();
        const atoms = ledger.positionAtoms(asset).quantity;
        held = fromAtoms(atoms);
        holding = atoms > 0n;
      }
    }

    const action = strategy.onCandle(candle);
    if (action === 'sell') {
      if (holding) {
        pending = SELL;
        pendingQuantity = held;
      }
    } else if (action === 'buy') {
      if (!holding) {
        // Flat, so equity is the cash: what the VirtualTrader's ledger.equity(marks) gives.
        const cashAtoms = ledger.cashAtoms();
        const buy = sizeVirtualBuy(cashAtoms, fromAtoms(cashAtoms), 1, candle.close, fixedCosts);
        if (buy !== null) {
          pending = BUY;
          pendingQuantity = buy.quantity;
        }
      }
    } else if (action !== null) {
      throw new RangeError(`backtest: action must be buy, sell or null, got ${String(action)}`);
    }

    lastClose = candle.close;
    const equity = cash + held * lastClose;
    if (equity > peak) peak = equity;
    else maxDrawdown = Math.max(maxDrawdown, (peak - equity) / peak);
  }

  const finalEquity = holding ? ledger.equity({ [asset]: lastClose }) : ledger.cash();
  return {
    strategy: { name: strategy.name, version: strategy.version, params: strategy.params ?? {} },
    trades,
    finalEquity,
    totalReturn: (finalEquity - seed) / seed,
    maxDrawdown,
    fills: trades.length,
    ledgerBalanced: ledger.isBalanced(),
  };
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
