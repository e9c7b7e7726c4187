/** Wire version of every message defined here. Bumped only with a migration note. */
export const PROTOCOL_VERSION = 1 as const;

/** Longest validity window any signed message may claim: a day. */
export const MAX_TTL_MS = 24 * 60 * 60 * 1000;

/**
 * Highest price (quote per base unit) a signal or candle may carry; far above any real market.
 * A signature proves who sent a number, not that it is sane: 1e308 must not become a valuation.
 */
export const MAX_PRICE = 1e9;

/** Longest reason, for one symbol, in an eligibility message or a simulator decision. */
export const MAX_ELIGIBILITY_REASON_CHARS = 300;
