/**
 * The inputs and the output of `decide`. Every field is plain data the device already has:
 * the verified signal, its balances and bookkeeping, the latest control messages. `decide`
 * reads no clock and does no I/O, so the caller gathers these and passes `now` in.
 */
import type { RejectCode } from './codes.js';

/**
 * What the protocol layer concluded about the signal: `'verified'` when its signature,
 * key, validity window and replay checks passed, otherwise the protocol's error code
 * (`'E_BAD_SIGNATURE'`, `'E_UNKNOWN_KEY'`, `'E_EXPIRED'`, `'E_REPLAYED'`, `'E_MALFORMED'`, ...).
 * A code is passed through as the rejection code, so the caller can log every signal it
 * received through `decide`, forged ones included.
 */
export type Authenticity = 'verified' | `E_${string}`;

/** A trading signal as the device received it (the protocol's `Signal`, plus its verdict). */
export interface DecisionSignal {
  /** The signal's id (deterministic from stream, symbol and candle time). */
  id: string;
  /** The stream (algorithm) that emitted it. */
  stream: string;
  /** Unified ccxt symbol, `BASE/QUOTE`, e.g. `'BTC/USDT'`. */
  symbol: string;
  side: 'buy' | 'sell';
  /** The price the signal quotes, in quote units per base unit. */
  price: number;
  /** When the origin issued it, epoch ms (the origin's clock). */
  ts: number;
  /** How long after `ts` it may be acted on, ms. `decide` re-checks `now > ts + ttlMs`. */
  ttlMs: number;
  authenticity: Authenticity;
}

/** A past buy, for the per-window and per-day spending limits. */
export interface Spend {
  /** When the buy was placed, epoch ms. */
  ts: number;
  /** Quote it spent (the order's `quote`, without fees). */
  quote: number;
}

/** One asset's own level in the circuit breaker (see `BreakerState.assets`). */
export interface AssetBreakerState {
  level: 'normal' | 'caution' | 'halt';
  /** 0..1; scales buys of the asset while its level is `caution` (ignored at `normal` and `halt`). */
  multiplier: number;
  /** Why, for people ("DOGE/USDT fell 31.0 % in 2 h, 6.2 σ"): shown, never acted on. */
  reason?: string;
}

/**
 * The central circuit breaker as last received (the control message's body): the market-wide
 * level, and the assets with a level of their own. For a named asset the stricter of its level
 * and the market's applies, with the smaller multiplier; an asset not named has the market's
 * (see `breakerFor` in breaker-scope.ts). `assets` is absent from older control servers.
 */
export interface BreakerState {
  level: 'normal' | 'caution' | 'halt';
  /** 0..1; scales buy sizes while the level is `caution` (ignored at `normal` and `halt`). */
  multiplier: number;
  /** Why, for people ("6 of 7 assets down together"): shown in reasons, never acted on. */
  reason?: string;
  /** Levels of single assets, by unified symbol (`'DOGE/USDT'`). */
  assets?: Record<string, AssetBreakerState>;
}

/**
 * The exchange's rules for the signal's market, from ccxt's market info in TICK_SIZE mode
 * (`precision.amount`, `precision.price`, `limits.amount.min`, `limits.cost.min`). A missing
 * ccxt limit is 0.
 */
export interface MarketRules {
  /** Amounts are whole multiples of this, base units (> 0). Amounts are rounded DOWN to it. */
  amountStep: number;
  /** Prices are whole multiples of this, quote units (> 0). Prices are rounded to the nearest. */
  priceTick: number;
  /** Smallest order amount, base units (>= 0). */
  minAmount: number;
  /** Smallest order value (amount x price), quote units (>= 0). */
  minNotional: number;
}

/**
 * What the device knows when a signal arrives. Balances are FREE balances (what an order
 * can use right now); equity is computed from them, so it errs low while orders are open,
 * which errs on the side of buying less.
 */
export interface DecisionState {
  /** The device's quote currency, e.g. `'USDT'`. A signal in another quote is rejected. */
  quote: string;
  /** Free balance of the quote currency. */
  quoteFree: number;
  /** Free base balances by asset (`{ BTC: 0.01 }`), without the quote currency. */
  holdings: Record<string, number>;
  /**
   * Latest EXCHANGE prices by symbol (`{ 'BTC/USDT': 50_000 }`), for every held asset: equity
   * is `quoteFree + sum(holdings[a] x marks['a/QUOTE'])`. For the signal's own symbol
   * `marketPrice` is used when no mark is known. Never a signal's price: a signed but wrong
   * price must not become a valuation. A held asset with no mark leaves equity unknown, and
   * then buying stops (`R_NO_MARK`).
   */
  marks: Record<string, number>;
  /**
   * The exchange's current price of the signal's symbol (its ticker's last price), asked just
   * before deciding; null when the exchange could not tell. A buy needs it: the signal's
   * price is checked against it (`maxPriceDeviationPct`, `R_PRICE_DEVIATION`), and the buy is
   * sized and valued at it; without it no buy is placed (`R_NO_MARKET_PRICE`). A sell does
   * not need it (it uses it for the market minimums when known, else the signal's price).
   */
  marketPrice: number | null;
  /** Equity when the device was provisioned (the drawdown kill switch's reference). */
  seedEquity: number;
  /** Equity at the start of the local day (the daily loss limit's reference). */
  dayStartEquity: number;
  /**
   * Recent buys, in any order. Only those in the last 50 hours can matter (a local day or a
   * window is never longer), so the caller may drop older ones. A spend stamped after `now`
   * (the clock went back) counts against the current day and window: money spent is spent.
   */
  spends: readonly Spend[];
  /** When the last valid control heartbeat was received, epoch ms; null if none yet. */
  lastHeartbeatAt: number | null;
  /** The central circuit breaker; null if none received yet (unknown: buying stops). */
  breaker: BreakerState | null;
  /**
   * Eligible symbols per stream, from the control server; null if none received yet. A
   * stream without a list is treated like an empty list for buying (fail safe).
   */
  eligibility: Record<string, readonly string[]> | null;
  /** The exchange's rules for the signal's symbol; undefined if unknown (no order then). */
  market: MarketRules | undefined;
  /**
   * The operator's halt in force for this device (a fleet `halt` or `flat` of a target covering
   * it, not yet resumed), with its reason; null (or absent, from callers before fleet commands)
   * when none. Stops buys (`R_FLEET_HALT`); sells pass.
   */
  fleetHalt?: FleetHalt | null;
}

/** An operator's halt of buying, from the fleet messages that cover the device. */
export interface FleetHalt {
  /** Why, for people: shown in the rejection's reason. */
  reason: string;
}

/**
 * The outcome. An accepted order is already rounded to the market (amount down to the
 * step, price to the nearest tick) and fits every limit; `quote` is `amount x price`
 * rounded to 1e-8. `price` is the exchange's price (`marketPrice`) when known, and the
 * signal's only for a sell without it. A buy is placed as that `quote` (Binance
 * `quoteOrderQty`), so what it pays never exceeds `quote`, whatever price the signal carries;
 * `amount` is then only an estimate. `notes` say what shaped the size (`'caution: size x0.5'`, ...).
 * A rejection carries a stable `code` (see `REJECT_CODES`) and a `reason` in plain words for
 * the person at home.
 */
export type Decision =
  | { accept: true; side: 'buy' | 'sell'; amount: number; price: number; quote: number; notes: string[] }
  | { accept: false; code: RejectCode; reason: string };
