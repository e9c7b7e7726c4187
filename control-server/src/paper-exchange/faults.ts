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
}

export const DEFAULT_FAULTS: Readonly<Faults> = { loseResponseRate: 0, notFoundAfterCreateMs: 0 };

/** Whether to lose this response; draws from `random` only while the fault is on. */
export function shouldLoseResponse(faults: Faults, random: () => number): boolean {
  return faults.loseResponseRate > 0 && random() < faults.loseResponseRate;
}

export function hiddenAfterCreate(faults: Faults, acceptedAt: number, now: number): boolean {
  return now - acceptedAt < faults.notFoundAfterCreateMs;
}

/** mulberry32: a small seeded generator, the default source when none is injected. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
