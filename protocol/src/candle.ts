import { createHash } from 'node:crypto';
import { ProtocolError } from './errors.js';
import type { KeyRing, Signer } from './keys.js';
import { CandleMessage, PROTOCOL_VERSION, type UnsignedCandleMessage } from './schemas.js';
import { parseMessage, signMessage, verifySignature } from './signing.js';

/**
 * A candle's id is a function of (origin, symbol, timeframe, open time) only: one bar of one
 * datafeed has one id, however often it is published (a bar still forming, a restarted replay).
 */
export function candleId(origin: string, symbol: string, timeframe: string, time: number): string {
  return createHash('sha256')
    .update(`candle\n${origin}\n${symbol}\n${timeframe}\n${time}`)
    .digest('hex')
    .slice(0, 32);
}

/** A candle to sign; `ts` (when it is published) defaults to now. */
export type CandleDraft = Omit<UnsignedCandleMessage, 'v' | 'id' | 'kid' | 'ts'> & { ts?: number };

/** Signs a candle with the datafeed's key (the one that signs its signals; another domain). */
export function createCandle(draft: CandleDraft, signer: Signer): CandleMessage {
  const unsigned: UnsignedCandleMessage = {
    v: PROTOCOL_VERSION,
    id: candleId(draft.origin, draft.symbol, draft.timeframe, draft.time),
    ...draft,
    ts: draft.ts ?? Date.now(),
    kid: signer.kid,
  };
  return signMessage('candle', unsigned, signer);
}

/**
 * Verifies shape, pinned key, signature and id derivation. Throws ProtocolError (E_MALFORMED,
 * E_UNKNOWN_KEY, E_BAD_SIGNATURE, E_BAD_ID).
 *
 * No validity window, unlike signals and control messages. A replay at speed publishes bars
 * whose times are years old, so the bar's time says nothing about freshness; and a window on
 * the publish time `ts` would refuse the retained history the paper exchange rebuilds its
 * prices from when it starts (it reads the topic from the earliest offset). A window would not
 * stop the one thing a bus writer can still do with genuine candles either: hold them back.
 * Replaying an old genuine candle is stopped instead by ordering (`CandleSequence`: only a
 * newer bar, or a newer publication of the same bar, is taken), and staleness of a price is
 * the reader's check against its own clock (the time the last candle was received).
 */
export function verifyCandle(input: unknown, keys: KeyRing): CandleMessage {
  const candle = parseMessage('candle', CandleMessage, input);
  const { sig, ...unsigned } = candle;
  verifySignature('candle', unsigned, sig, keys);
  const expected = candleId(candle.origin, candle.symbol, candle.timeframe, candle.time);
  if (candle.id !== expected) {
    throw new ProtocolError('E_BAD_ID', `candle id ${candle.id} is not derived from its origin and bar`, {
      expected,
    });
  }
  return candle;
}

/** Where a verified candle stands against the newest one held for its symbol and timeframe. */
export type CandleOrder = 'new' | 'duplicate' | 'stale';

type CandleKey = Pick<CandleMessage, 'symbol' | 'timeframe' | 'time' | 'ts'>;

/**
 * The newest candle taken per (symbol, timeframe). A candle is `new` when its bar is later than
 * the newest, or is the same bar published later (`ts`, a bar still forming); the very same
 * publication again is a `duplicate` (an at-least-once bus redelivers); anything else is `stale`
 * (an old genuine candle replayed onto the bus cannot roll a price back). Only verified
 * candles may be recorded, so the map is bounded by what the pinned datafeeds publish.
 */
export class CandleSequence {
  readonly #latest = new Map<string, { time: number; ts: number }>();

  /** Where `candle` stands; changes nothing. */
  order(candle: CandleKey): CandleOrder {
    const held = this.#latest.get(key(candle));
    if (!held || candle.time > held.time) return 'new';
    if (candle.time < held.time) return 'stale';
    if (candle.ts > held.ts) return 'new';
    return candle.ts === held.ts ? 'duplicate' : 'stale';
  }

  /** Makes `candle` the newest of its symbol and timeframe: call once it has been taken. */
  record(candle: CandleKey): void {
    this.#latest.set(key(candle), { time: candle.time, ts: candle.ts });
  }

  /** `order`, recording the candle when it is new. */
  admit(candle: CandleKey): CandleOrder {
    const order = this.order(candle);
    if (order === 'new') this.record(candle);
    return order;
  }
}

function key(c: CandleKey): string {
  return `${c.symbol}\n${c.timeframe}`;
}
