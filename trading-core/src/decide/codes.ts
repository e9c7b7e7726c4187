/**
 * Every way `decide` can say no, as a stable code with its general meaning. The reason a
 * rejection carries is more specific (it names the limit and the numbers); this table is what
 * the README lists and what a UI can show next to a code. Authenticity codes from the
 * protocol layer (`E_*`) pass through unchanged.
 */
export const REJECT_CODES = {
  R_BAD_INPUT: 'an input is invalid (a NaN price, an unknown time zone, a malformed policy, ...)',
  R_NOT_FOLLOWED: 'the signal is from a stream this device does not follow',
  R_PAUSED: 'buying is paused in the settings',
  R_FLEET_HALT: 'the operator has halted buying for this device (a fleet halt or flat, until resumed)',
  R_NO_POLICY: 'no spending policy from the control server is known',
  R_POLICY_VERSION: 'the spending policy is in a format this device does not understand',
  R_BREAKER_UNKNOWN: 'the state of the central circuit breaker is not known',
  R_HALT: "the central circuit breaker halts buying, for the whole market or for the signal's asset",
  R_NO_HEARTBEAT: 'the control server has not been heard from in time (dead-man switch)',
  R_NO_MARKET_PRICE:
    "the exchange's current price for the symbol is not known, so the signal's price cannot be checked",
  R_PRICE_DEVIATION: "the signal's price is too far from the exchange's current price",
  R_NO_MARK: 'a held asset has no current price, so the portfolio value is unknown',
  R_DRAWDOWN: 'the portfolio has lost more than the maximum drawdown since provisioning',
  R_DAILY_LOSS: 'the portfolio has lost more than the daily loss limit since the start of the day',
  R_NO_ELIGIBILITY: 'no eligibility list is known for the stream',
  R_NOT_ELIGIBLE: 'the symbol is not eligible for the stream',
  R_OUTSIDE_WINDOWS: 'no buying window of a schedule covers the current local time',
  R_SCHEDULE_OFF: 'the current buying window has buying switched off',
  R_NO_MARKET: 'the exchange rules for the symbol are not known',
  R_MAX_POSITIONS: 'the buy would open a position beyond the maximum number of open positions',
  R_BELOW_MINIMUM: 'the order is below the exchange minimum',
  R_ORDER_LIMIT: 'the per-order limit is below the exchange minimum',
  R_CAUTION: 'the circuit breaker at caution cut the order below the exchange minimum',
  R_WINDOW_LIMIT: 'the spending limit of the current buying window leaves too little',
  R_DAILY_LIMIT: 'the daily spending limit leaves too little',
  R_EXPOSURE: 'the per-asset exposure limit leaves too little',
  R_CASH_RESERVE: 'the cash reserve leaves too little to spend',
  R_NO_FUNDS: 'the free quote balance (less the fee and slippage buffer) is too small',
  R_NOTHING_TO_SELL: 'nothing of the asset is held to sell',
} as const;

export type DecideCode = keyof typeof REJECT_CODES;

/** A protocol error code passed through from `signal.authenticity`. */
export type AuthenticityCode = `E_${string}`;

export type RejectCode = DecideCode | AuthenticityCode;

/** Plain reasons for the protocol codes a signal can arrive with. */
export const AUTHENTICITY_REASONS: Readonly<Record<string, string>> = {
  E_BAD_SIGNATURE: 'The signal was ignored: its signature does not verify',
  E_UNKNOWN_KEY: 'The signal was ignored: it is signed with a key this device does not trust',
  E_EXPIRED: 'The signal was ignored: it arrived after it expired',
  E_NOT_YET_VALID: 'The signal was ignored: it claims a time in the future',
  E_REPLAYED: 'The signal was ignored: it was received before',
  E_MALFORMED: 'The signal was ignored: it is not in the expected format',
  E_BAD_ID: 'The signal was ignored: its id does not match its content',
};
