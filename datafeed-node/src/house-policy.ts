import type { Logger } from 'pino';
import { ProtocolError, verifyControl, type BusMessage, type KeyRing } from '@appliance/protocol';
import {
  MAX_PRICE_DEVIATION_PCT,
  UserSettings,
  decide,
  type DecisionState,
  type ReceivedPolicy,
  type RejectCode,
  type Spend,
} from '@appliance/trading-core';
import { MAX_CONTROL_RECORD_BYTES } from './eligibility.js';

/** The control server's profile for the datafeed's house portfolio. */
export const HOUSE_PROFILE = 'house';

/** Rejections logged one by one, then only every this many (as eligibility.ts does). */
const LOG_FIRST = 10;
const LOG_EVERY = 1_000;

/** The house policy in force: the newest the control server signed for profile `house`. */
export interface HeldHousePolicy {
  /** The control message's version: a lower one never replaces it. */
  version: number;
  /** The policy's own number for its profile (1, 2, 3 …); absent from older control servers. */
  policyVersion?: number;
  /** As signed: `decide` checks it (a bad or newer-format policy stops the house's buys). */
  policy: ReceivedPolicy;
}

/** What the datafeed asks of the house policy: the one in force, undefined before any arrived. */
export interface HousePolicySource {
  current(): HeldHousePolicy | undefined;
}

export interface HousePolicyOptions {
  /** The control server's public keys: only a policy it signed is taken. */
  keys: KeyRing;
  logger: Logger;
  now?: () => number;
  maxClockSkewMs?: number;
}

export type HousePolicyOutcome = 'applied' | 'older' | 'other' | 'rejected';

/**
 * The newest verified `policy` control message whose profile is `house`, read from the control
 * topic as Eligibility reads eligibility: size, JSON, `verifyControl` (schema, pinned key,
 * signature, window), then the message's version (an equal one replaces, a lower one never
 * does). Only records claiming to be the house policy are looked at here; Eligibility reports
 * every rejected control record already, so this logs only rejected house policies.
 */
export class HousePolicy implements HousePolicySource {
  readonly #o: HousePolicyOptions;
  #held: HeldHousePolicy | undefined;
  readonly #counts = { rejected: 0, older: 0 };

  constructor(o: HousePolicyOptions) {
    this.#o = o;
  }

  onMessage(m: Pick<BusMessage, 'partition' | 'offset' | 'value'>): HousePolicyOutcome {
    if (m.value.length > MAX_CONTROL_RECORD_BYTES) return 'other';
    let raw: unknown;
    try {
      raw = JSON.parse(m.value.toString());
    } catch {
      return 'other';
    }
    return this.accept(raw, { partition: m.partition, offset: m.offset });
  }

  /** Verifies one control message and holds it if it is the house policy and not older. */
  accept(raw: unknown, where: Record<string, unknown> = {}): HousePolicyOutcome {
    if (!claimsHousePolicy(raw)) return 'other';
    const now = (this.#o.now ?? Date.now)();
    let c;
    try {
      c = verifyControl(raw, this.#o.keys, { now, maxClockSkewMs: this.#o.maxClockSkewMs });
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      this.#warn('rejected', { ...where, code: err.code, reason: err.message }, 'house policy rejected');
      return 'rejected';
    }
    if (c.kind !== 'policy' || c.body.profile !== HOUSE_PROFILE) return 'other';
    const held = this.#held;
    if (held && c.version < held.version) {
      this.#warn(
        'older',
        { ...where, version: c.version, held: held.version },
        'house policy ignored: older than the one held',
      );
      return 'older';
    }
    const next: HeldHousePolicy = {
      version: c.version,
      ...(c.body.version !== undefined && { policyVersion: c.body.version }),
      policy: c.body.policy as ReceivedPolicy,
    };
    this.#held = next;
    if (!held || held.policyVersion !== next.policyVersion || !sameJson(held.policy, next.policy))
      this.#o.logger.info(
        { version: c.version, policyVersion: next.policyVersion ?? null },
        `house policy ${next.policyVersion === undefined ? '(unnumbered)' : `v${next.policyVersion}`} in force for the house portfolios`,
      );
    return 'applied';
  }

  current(): HeldHousePolicy | undefined {
    return this.#held;
  }

  #warn(kind: 'rejected' | 'older', details: Record<string, unknown>, msg: string): void {
    const count = ++this.#counts[kind];
    if (count <= LOG_FIRST || count % LOG_EVERY === 0) this.#o.logger.warn({ ...details, count }, msg);
  }
}

/** A cheap look before verifying: anything else on the control topic is Eligibility's business. */
function claimsHousePolicy(raw: unknown): boolean {
  const r = raw as { kind?: unknown; body?: { profile?: unknown } } | null;
  return typeof r === 'object' && r !== null && r.kind === 'policy' && r.body?.profile === HOUSE_PROFILE;
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** The house's schedule and day are read in UTC: a feed has no person's time zone. */
const HOUSE_SETTINGS = UserSettings.parse({ timeZone: 'UTC' });

/** One ledger atom: the grid the virtual portfolio books in. */
const ATOM = 1e-8;

/**
 * The limits `decide` reads that are a person's account's, not the house's: the house sizes
 * its own orders (its allocation of its equity), is what the circuit breaker watches, and has
 * eligibility applied by the eligibility gate. Set so that they never bind; the policy's
 * per-order, per-day and per-window limits and its schedule are kept as signed.
 */
const NEUTRAL_LIMITS = {
  maxExposurePct: 1,
  maxOpenPositions: Number.MAX_SAFE_INTEGER,
  cashReservePct: 0,
  maxDrawdownPct: 1,
  dailyLossLimitPct: 1,
  heartbeatTimeoutMs: Number.MAX_SAFE_INTEGER,
  costBufferBps: 0,
  maxPriceDeviationPct: MAX_PRICE_DEVIATION_PCT,
};

export interface HouseBuy {
  stream: string;
  symbol: string;
  quote: string;
  /** The candle's close: the price the house's order is sized at and its mark. */
  price: number;
  /** The quote the house's order would spend (its allocation of equity, within its cash). */
  orderQuote: number;
  /** The house's free cash. */
  cash: number;
  /** Held quantity per asset, and each one's latest close. */
  holdings: Record<string, number>;
  marks: Record<string, number>;
  /** The house's buys of the last two days (decide counts the day's and the window's). */
  spends: readonly Spend[];
  seed: number;
  /** When the house decides: the candle's close time. */
  now: number;
}

export type HouseVerdict = { allowed: true } | { allowed: false; code: RejectCode; reason: string };

/**
 * Whether the house policy lets the house portfolio place its buy, by trading-core's `decide`:
 * the house's state (cash, holdings, marks at the closes, its spends) and the policy, with the
 * limits of NEUTRAL_LIMITS set not to bind and the policy's `orderQuote` set to the house's own
 * order. The house cannot place a smaller order than its own, so the order's value is the
 * market minimum `decide` is given: a buy `decide` would have to cut (per-order max, the day's
 * or a window's room) is refused with that limit's code, like one outside the schedule's buying
 * windows or in a buying-off window.
 */
export function checkHouseBuy(policy: ReceivedPolicy, b: HouseBuy): HouseVerdict {
  const gated = { ...policy, ...NEUTRAL_LIMITS, orderQuote: b.orderQuote } as ReceivedPolicy;
  const state: DecisionState = {
    quote: b.quote,
    quoteFree: b.cash,
    holdings: b.holdings,
    marks: Object.fromEntries(Object.entries(b.marks).map(([asset, p]) => [`${asset}/${b.quote}`, p])),
    marketPrice: b.price,
    seedEquity: b.seed,
    dayStartEquity: b.seed,
    spends: b.spends,
    lastHeartbeatAt: b.now,
    breaker: { level: 'normal', multiplier: 1 },
    eligibility: { [b.stream]: [b.symbol] },
    market: {
      amountStep: ATOM,
      priceTick: ATOM,
      minAmount: 0,
      // Within one atom of the order: the rounding of its amount to the atom is not a cut.
      minNotional: Math.max(0, b.orderQuote - b.price * ATOM - ATOM),
    },
    fleetHalt: null,
  };
  const d = decide(
    {
      id: 'house',
      stream: b.stream,
      symbol: b.symbol,
      side: 'buy',
      price: b.price,
      ts: b.now,
      ttlMs: 0,
      authenticity: 'verified',
    },
    state,
    gated,
    HOUSE_SETTINGS,
    b.now,
  );
  return d.accept ? { allowed: true } : { allowed: false, code: d.code, reason: d.reason };
}
