/**
 * The device's decision, as one pure function of the signal, the device's state, the central
 * policy, the user's settings and the time. No I/O, no clock: everything is passed in, so it
 * is tested with tables of cases. Authenticity (signature, expiry, replay) is checked before
 * this by the protocol layer; this decides whether and how much to trade.
 */
export interface DecisionSignal {
  side: 'buy' | 'sell';
  symbol: string;
  price: number;
}

export interface DecisionState {
  /** Free balance of the quote asset. */
  quoteFree: number;
  /** Free balance of the signal's base asset. */
  baseFree: number;
  /** Quote already spent on buys today (the policy's day). */
  spentToday: number;
}

export interface DecisionPolicy {
  /** Quote amount a buy signal spends. */
  orderQuote: number;
  /** Most quote the device may spend on buys in one day. */
  maxSpendPerDay: number;
  /** Kept aside for the fee and slippage of a market buy, in basis points of the order. */
  costBufferBps: number;
}

export interface DecisionSettings {
  paused: boolean;
}

export type Decision =
  | { accept: true; side: 'buy' | 'sell'; amount: number; quote: number }
  | { accept: false; code: RejectCode; reason: string };

export const REJECT_CODES = {
  R_PAUSED: 'trading is paused in the settings',
  R_DAILY_LIMIT: 'the daily spending limit is used up',
  R_NO_FUNDS: 'not enough quote balance for the order',
  R_NOTHING_TO_SELL: 'nothing of this asset is held to sell',
  R_BAD_PRICE: 'the signal price is not usable',
} as const;
export type RejectCode = keyof typeof REJECT_CODES;

function reject(code: RejectCode, detail?: string): Decision {
  return { accept: false, code, reason: detail ? `${REJECT_CODES[code]} (${detail})` : REJECT_CODES[code] };
}

export function decide(
  signal: DecisionSignal,
  state: DecisionState,
  policy: DecisionPolicy,
  settings: DecisionSettings,
  _now: number,
): Decision {
  if (!(signal.price > 0) || !Number.isFinite(signal.price)) return reject('R_BAD_PRICE');
  if (signal.side === 'sell') {
    // Selling what is held is always allowed: a paused or limited device may still get out.
    if (!(state.baseFree > 0)) return reject('R_NOTHING_TO_SELL');
    return { accept: true, side: 'sell', amount: state.baseFree, quote: state.baseFree * signal.price };
  }
  if (settings.paused) return reject('R_PAUSED');
  const leftToday = policy.maxSpendPerDay - state.spentToday;
  if (leftToday <= 0) return reject('R_DAILY_LIMIT', `spent ${state.spentToday} of ${policy.maxSpendPerDay}`);
  const spend = Math.min(policy.orderQuote, leftToday);
  const needed = spend * (1 + policy.costBufferBps / 10_000);
  if (state.quoteFree < needed) return reject('R_NO_FUNDS', `need ${needed}, have ${state.quoteFree}`);
  return { accept: true, side: 'buy', amount: spend / signal.price, quote: spend };
}
