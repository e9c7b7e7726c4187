/**
 * Misbehaviours of the real exchange that a client must survive, switched on by mutating the
 * `faults` object of a running paper exchange. Decisions draw from the injected `random`, so a
 * seeded run loses the same responses every time.
 */
export interface Faults {
  /**
   * Probability in [0, 1] that an accepted order's response is lost: the order is placed and
   * then the connection is destroyed before any reply. Lost when random() < rate. Default 0.
   */
  loseResponseRate: number;
  /**
   * For this many ms after an order was accepted, querying it (GET /api/v3/order) answers
   * -2013 "Order does not exist.", like Binance's eventual consistency. Default 0.
   */
  notFoundAfterCreateMs: number;
  /**
   * While true, order look-ups (GET /api/v3/order) answer 503 Service Unavailable, as during an
   * exchange outage: the client cannot learn an order's fate. Default false.
   */
  lookupsUnavailable: boolean;
  /**
   * While true, the price tickers (GET /api/v3/ticker/24hr and /ticker/price) answer 503, as
   * during an outage of the market-data side: a client cannot learn the current price (a
   * device then places no buy, and still sells). Default false.
   */
  tickerUnavailable: boolean;
  /**
   * While true, the candles (GET /api/v3/klines, ccxt fetchOHLCV) answer 503, as during an
   * outage of the market-data side: a datafeed gets no new candle (its feed report shows every
   * call failed). Default false.
   */
  candlesUnavailable: boolean;
  /**
   * Every response (answers, errors and 503s alike) is delayed by this many ms, as from an
   * overloaded venue. A finite number >= 0; default 0. A lost response is lost at once.
   */
  latencyMs: number;
}

export const DEFAULT_FAULTS: Readonly<Faults> = {
  loseResponseRate: 0,
  notFoundAfterCreateMs: 0,
  lookupsUnavailable: false,
  tickerUnavailable: false,
  candlesUnavailable: false,
  latencyMs: 0,
};

/** Whether to lose this response; draws from `random` only while the fault is on. */
export function shouldLoseResponse(faults: Faults, random: () => number): boolean {
  return faults.loseResponseRate > 0 && random() < faults.loseResponseRate;
}

export function hiddenAfterCreate(faults: Faults, acceptedAt: number, now: number): boolean {
  return now - acceptedAt < faults.notFoundAfterCreateMs;
}

/** The default random source when none is injected: seeded, so runs repeat. */
export { seededRandom } from '@appliance/trading-core';
