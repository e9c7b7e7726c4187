/** The portfolio's value from free balances and marks: equity, per-asset values, open positions. */
import type { DecisionSignal, DecisionState } from './types.js';

export interface Valuation {
  /** quoteFree + every held asset at its mark; NaN if `unpriced` is set. */
  equity: number;
  /** Value per held asset (amount > 0), quote units. */
  values: Record<string, number>;
  /** The first held asset without a usable mark, or null. */
  unpriced: string | null;
}

/**
 * The price of `asset` in the device's quote: its mark, or for the signal's symbol the
 * exchange's current price. Never the signal's price: a signed price is not a valuation.
 */
function markOf(asset: string, state: DecisionState, signal: DecisionSignal): number | undefined {
  const symbol = `${asset}/${state.quote}`;
  const mark = state.marks[symbol];
  if (mark !== undefined) return mark;
  return symbol === signal.symbol && state.marketPrice !== null ? state.marketPrice : undefined;
}

export function valuePortfolio(state: DecisionState, signal: DecisionSignal): Valuation {
  let equity = state.quoteFree;
  const values: Record<string, number> = {};
  for (const [asset, held] of Object.entries(state.holdings)) {
    if (asset === state.quote || !(held > 0)) continue; // quote is counted as quoteFree
    const mark = markOf(asset, state, signal);
    if (mark === undefined) return { equity: NaN, values, unpriced: asset };
    values[asset] = held * mark;
    equity += values[asset];
  }
  return { equity, values, unpriced: null };
}

/**
 * Assets that count as open positions: held and worth at least `minNotional` (the signal
 * market's, the only one known here). Less than that is dust the exchange would not even
 * let us sell, so it does not use up a position.
 */
export function openPositions(values: Record<string, number>, minNotional: number): string[] {
  return Object.keys(values).filter((a) => values[a]! >= minNotional);
}
