/**
 * A sell sells everything held of the base asset, rounded DOWN to the step (never more than
 * held: no shorting). Fail-safe conditions (halt, pause, dead-man, drawdown, missing
 * policy, schedules) do not apply: they stop buying, never trap the user in a position.
 * Nor does the price check: a sell is sized by what is held, not by a price, so a wrong
 * signal price cannot make it spend anything, and in a crash the signal's price (a candle's
 * close) may well be far above the exchange's. The exchange's price, when known, is used for
 * the market minimums, else the signal's. Only authenticity, an unfollowed stream, nothing
 * held, the exchange's rules (and bad input a sell actually reads) stop a sell.
 */
import { amount as fmtAmount } from './format.js';
import { floorToStep, meetsMinimums, minOrderAmount, roundQuote } from './precision.js';
import { heldInput, usableMarketPrice } from './rules/inputs.js';
import { marketRule } from './rules/market.js';
import type { Decision, DecisionSignal, DecisionState } from './types.js';

export function decideSell(signal: DecisionSignal, state: DecisionState): Decision {
  const base = signal.symbol.split('/')[0]!;
  const held = state.holdings?.[base];
  const input = heldInput(base, held);
  if (!input.allowed) return { accept: false, code: input.code, reason: input.reason };
  if (held === undefined || held <= 0) {
    return {
      accept: false,
      code: 'R_NOTHING_TO_SELL',
      reason: `No ${base} is held, so there is nothing to sell`,
    };
  }
  const m = marketRule(signal, state.market, usableMarketPrice(state) ?? signal.price);
  if (!m.allowed) return { accept: false, code: m.code, reason: m.reason };
  const { market, price } = m;
  const amount = floorToStep(held, market.amountStep);
  if (!meetsMinimums(market, amount, price)) {
    const min = minOrderAmount(market, price);
    return {
      accept: false,
      code: 'R_BELOW_MINIMUM',
      reason: `The ${fmtAmount(held)} ${base} held is below the exchange's minimum order for ${signal.symbol} (${fmtAmount(min)} ${base}), so it cannot be sold`,
    };
  }
  const notes = amount < held ? [`rounded down to the step: ${fmtAmount(held - amount)} ${base} stays`] : [];
  return { accept: true, side: 'sell', amount, price, quote: roundQuote(amount * price), notes };
}
