import type { Candle } from './candle.js';
import type { Fill, FillCosts } from './fill-model.js';
import type { Strategy } from './strategies/strategy.js';
import { VirtualTrader } from './virtual-trader.js';

export interface BacktestOptions {
  /** Unified symbol, e.g. `BTC/USDT`. */
  symbol: string;
  /** Quote currency; defaults to the symbol's. */
  quote?: string;
  /** Starting cash in quote. */
  seed: number;
  costs: FillCosts;
}

/** A fill as the ledger booked it: notional and fee are its recorded atoms. */
export interface BacktestTrade extends Fill {
  /** Open time of the candle whose open it filled at. */
  time: number;
}

export interface BacktestResult {
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

/** One strategy over one symbol's candles, all in: the VirtualTrader with allocation 1. */
export function backtest(
  candles: readonly Candle[],
  strategy: Strategy,
  options: BacktestOptions,
): BacktestResult {
  const { symbol, seed, costs } = options;
  const quote = options.quote ?? symbol.split('/')[1] ?? '';
  const trader = new VirtualTrader({ quote, seed, costs, allocation: 1 });
  const trades: BacktestTrade[] = [];
  const asset = symbol.split('/')[0] ?? '';
  // Drawdown needs equity at every close; cash and quantity only change on a fill, so keep them
  // as numbers between fills instead of asking the ledger (bigint) on every candle.
  let cash = seed;
  let held = 0;
  let peak = seed;
  let maxDrawdown = 0;
  for (const candle of candles) {
    const { filled } = trader.onCandle(symbol, candle, strategy.onCandle(candle));
    if (filled !== null) {
      trades.push({ ...filled, time: candle.time });
      cash = trader.ledger.cash();
      held = trader.ledger.position(asset).quantity;
    }
    const equity = cash + held * candle.close;
    if (equity > peak) peak = equity;
    else maxDrawdown = Math.max(maxDrawdown, (peak - equity) / peak);
  }
  const finalEquity = trader.equity();
  return {
    trades,
    finalEquity,
    totalReturn: (finalEquity - seed) / seed,
    maxDrawdown,
    fills: trades.length,
    ledgerBalanced: trader.ledger.trialBalance() === 0n && trader.ledger.isBalanced(),
  };
}
