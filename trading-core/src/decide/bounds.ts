/**
 * The largest numbers `decide` takes. Nothing it is given is trusted to be sane: a signed but
 * absurd price (1e308) or a balance no account has must be refused as bad input, never turned
 * into an order size or a valuation. The bounds are far beyond any real market and account,
 * and keep every product `decide` forms finite and exact enough at 1e-8.
 */

/** Highest price (quote per base unit) of a signal, a mark or the exchange's price. Same as the protocol's `MAX_PRICE`. */
export const MAX_PRICE = 1e9;

/** Largest quote amount: free balance, spends and every quote limit of the policy. */
export const MAX_QUOTE = 1e12;

/** Largest base amount held of one asset. */
export const MAX_HELD = 1e15;

/** Largest allowed deviation of a signal's price from the exchange's (`maxPriceDeviationPct`). */
export const MAX_PRICE_DEVIATION_PCT = 0.2;
