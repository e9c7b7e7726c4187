import {
  LEVEL_RANK,
  VirtualTrader,
  createStrategy,
  type Candle,
  type FillCosts,
  type StrategyAction,
} from '@appliance/trading-core';
import type { ReplaySeries, SymbolTrack } from './replay-run.js';

/**
 * The house strategy backtested on each symbol with and without the breaker. Without: every
 * signal as it comes. With: the same signals, but a buy is skipped while the symbol's effective
 * level is halt and sized at the multiplier at caution; sells always pass.
 *
 * Each symbol is a portfolio of its own, all in, as trading-core's `backtest` runs one. The
 * strategy only buys when flat and sells everything, so between round trips a portfolio is
 * cash: each round trip is a fresh `VirtualTrader` seeded with that cash, its allocation the
 * multiplier in force when the buy was decided (1 without the breaker). Sizing, fills at the
 * next open, fees, slippage and the books are the VirtualTrader's, to the atom.
 */

/** One variant's figures; percentages are of the starting cash (return) and of the peak (drawdown). */
export interface VariantFigures {
  returnPct: number;
  maxDrawdownPct: number;
  /** Fills, buys and sells (as trading-core's backtest counts them). */
  trades: number;
  finalEquity: number;
  /** Buys the strategy signalled while flat that the breaker skipped (halt). */
  buysSkipped: number;
  /** Buys sized at the caution multiplier instead of all in. */
  buysScaled: number;
}

export interface SymbolComparison {
  symbol: string;
  without: VariantFigures;
  with: VariantFigures;
}

export interface Comparison {
  strategy: { name: string; version: string; stream: string; params: Record<string, unknown> };
  /** Starting cash of each symbol's portfolio, in its quote. */
  seed: number;
  costs: FillCosts;
  symbols: SymbolComparison[];
  /** Every symbol's portfolio summed: equity added up at each bar time. */
  total: { without: VariantFigures; with: VariantFigures };
}

export interface CompareOptions {
  strategy: string;
  stream: string;
  seed: number;
  costs: FillCosts;
}

export function compareWithBreaker(
  series: readonly ReplaySeries[],
  tracks: readonly SymbolTrack[],
  o: CompareOptions,
): Comparison {
  const runs = series.map((s, i) => runSymbol(s, tracks[i]!, o));
  const first = createStrategy(o.strategy);
  const totals = (k: 'without' | 'with') =>
    figures(
      o.seed * series.length,
      totalCurve(
        series,
        runs.map((r) => r[k].equity),
        o.seed,
      ),
      runs.reduce((n, r) => n + r[k].trades, 0),
      runs.reduce((n, r) => n + r[k].skipped, 0),
      runs.reduce((n, r) => n + r[k].scaled, 0),
    );
  return {
    strategy: { name: first.name, version: first.version, stream: o.stream, params: { ...first.params } },
    seed: o.seed,
    costs: o.costs,
    symbols: runs.map((r, i) => ({
      symbol: series[i]!.symbol,
      without: r.without.figures(o.seed),
      with: r.with.figures(o.seed),
    })),
    total: { without: totals('without'), with: totals('with') },
  };
}

function runSymbol(s: ReplaySeries, track: SymbolTrack, o: CompareOptions) {
  const strategy = createStrategy(o.strategy);
  if ((strategy.inputs ?? []).length > 0)
    throw new Error(`strategy ${strategy.name} reads other symbols: the replay does not feed them`);
  const without = new RoundTrips(s.symbol, s.candles.length, o);
  const withBreaker = new RoundTrips(s.symbol, s.candles.length, o);
  s.candles.forEach((c, i) => {
    const action = strategy.onCandle(c);
    without.step(i, c, action, LEVEL_RANK.normal, 1);
    withBreaker.step(i, c, action, track.level[i]!, track.multiplier[i]!);
  });
  return { without, with: withBreaker };
}

class RoundTrips {
  readonly equity: Float64Array;
  trades = 0;
  skipped = 0;
  scaled = 0;
  readonly #symbol: string;
  readonly #asset: string;
  readonly #quote: string;
  readonly #costs: FillCosts;
  #cash: number;
  #trader: VirtualTrader | null = null;

  constructor(symbol: string, length: number, o: CompareOptions) {
    const [asset, quote] = symbol.split('/') as [string, string];
    this.#symbol = symbol;
    this.#asset = asset;
    this.#quote = quote;
    this.#costs = o.costs;
    this.#cash = o.seed;
    this.equity = new Float64Array(length);
  }

  step(i: number, candle: Candle, action: StrategyAction | null, level: number, multiplier: number): void {
    const open = this.#trader;
    if (open !== null) {
      if (open.onCandle(this.#symbol, candle, action === 'sell' ? 'sell' : null).filled !== null)
        this.trades++;
      if (open.pending(this.#symbol) === null && open.ledger.positionAtoms(this.#asset).quantity === 0n) {
        if (!open.ledger.isBalanced())
          throw new Error(`${this.#symbol}: the round trip's books do not balance`);
        this.#cash = open.ledger.cash();
        this.#trader = null;
      }
    }
    if (this.#trader === null && action === 'buy') {
      if (level >= LEVEL_RANK.halt) this.skipped++;
      else {
        const trader = new VirtualTrader({
          quote: this.#quote,
          seed: this.#cash,
          costs: this.#costs,
          allocation: level >= LEVEL_RANK.caution ? multiplier : 1,
        });
        if (trader.onCandle(this.#symbol, candle, 'buy').order !== null) {
          this.#trader = trader;
          if (level >= LEVEL_RANK.caution) this.scaled++;
        }
      }
    }
    this.equity[i] = this.#trader === null ? this.#cash : this.#trader.equity();
  }

  figures(seed: number): VariantFigures {
    return figures(seed, this.equity, this.trades, this.skipped, this.scaled);
  }
}

/** The portfolios summed at every bar time; a symbol counts its seed before its first candle. */
function totalCurve(
  series: readonly ReplaySeries[],
  curves: readonly Float64Array[],
  seed: number,
): Float64Array {
  const times = [...new Set(series.flatMap((s) => s.candles.map((c) => c.time)))].sort((a, b) => a - b);
  const total = new Float64Array(times.length);
  series.forEach((s, k) => {
    let j = 0;
    let last = seed;
    times.forEach((t, i) => {
      while (j < s.candles.length && s.candles[j]!.time <= t) last = curves[k]![j++]!;
      total[i]! += last;
    });
  });
  return total;
}

function figures(
  seed: number,
  equity: Float64Array,
  trades: number,
  skipped: number,
  scaled: number,
): VariantFigures {
  let peak = seed;
  let maxDrawdown = 0;
  for (const e of equity) {
    peak = Math.max(peak, e);
    maxDrawdown = Math.max(maxDrawdown, (peak - e) / peak);
  }
  const finalEquity = equity.length === 0 ? seed : equity[equity.length - 1]!;
  return {
    returnPct: round((finalEquity / seed - 1) * 100),
    maxDrawdownPct: round(maxDrawdown * 100),
    trades,
    finalEquity: round(finalEquity),
    buysSkipped: skipped,
    buysScaled: scaled,
  };
}

/** Four decimals: enough for a percent or an amount of quote, and stable in JSON. */
function round(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}
