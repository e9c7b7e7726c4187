import type { Logger } from 'pino';
import {
  CandleSequence,
  isProtocolError,
  verifyCandle,
  type BusMessage,
  type CandleMessage,
  type KeyRing,
} from '@appliance/protocol';
import type { Candle } from '@appliance/trading-core';
import { PaperExchangeError } from '@appliance/paper-exchange';

/** A signed candle is about 400 bytes; anything much larger is refused before it is parsed. */
export const MAX_CANDLE_RECORD_BYTES = 4_096;

/**
 * Why a record on the candles topic was not taken, counted in `stats().dropped`. Documented in
 * docs/errors.md.
 */
export const CANDLE_DROP_REASONS = {
  'too-large': `larger than ${MAX_CANDLE_RECORD_BYTES} bytes`,
  malformed: 'not JSON, or not a signed candle (E_MALFORMED)',
  'unknown-key': 'signed with a key that is not a pinned datafeed key (E_UNKNOWN_KEY)',
  'bad-signature': 'the signature does not verify: forged or altered (E_BAD_SIGNATURE)',
  'bad-id': 'the id is not derived from its origin and bar (E_BAD_ID)',
  duplicate: 'the same publication of a bar again (an at-least-once redelivery)',
  stale: 'older than the newest bar taken: a replayed genuine candle cannot roll a price back',
  'unknown-symbol': 'genuine, for a symbol the paper exchange does not list',
  'bad-candle': 'genuine, but impossible (high below low, ...)',
} as const;
export type CandleDropReason = keyof typeof CANDLE_DROP_REASONS;

const REASON_OF_CODE = {
  E_MALFORMED: 'malformed',
  E_UNKNOWN_KEY: 'unknown-key',
  E_BAD_SIGNATURE: 'bad-signature',
  E_BAD_ID: 'bad-id',
} as const satisfies Record<string, CandleDropReason>;

/** Drops of one reason logged one by one, then only every this many (a flood must not flood the log). */
const LOG_FIRST = 10;
const LOG_EVERY = 1_000;

export interface CandleIntakeOptions {
  /** The datafeeds' public keys: only candles they signed are taken. */
  keys: KeyRing;
  /**
   * The paper exchange, when one runs here: receives each verified, newer candle; false if it was
   * ignored as old. May throw PaperExchangeError.
   */
  sink?: (symbol: string, candle: Candle) => boolean;
  /**
   * The breaker: sees each verified, newer candle before the sink, with the time it was published
   * on the bus, whatever the sink makes of it (a peg pair the exchange does not list included).
   */
  observe?: (candle: CandleMessage, publishedAt: number) => void;
  logger: Logger;
}

export interface CandleIntakeStats {
  accepted: number;
  dropped: Record<CandleDropReason, number>;
}

/**
 * The one way candles from the bus reach anything in the control server that acts on them (the
 * paper exchange and the breaker): size, JSON, schema, pinned key, signature and id
 * (`verifyCandle`), then order (`CandleSequence`). Whatever fails is dropped, logged with its
 * reason and counted; nothing unverified touches a price.
 */
export class CandleIntake {
  readonly #o: CandleIntakeOptions;
  readonly #sequence = new CandleSequence();
  #accepted = 0;
  readonly #dropped = Object.fromEntries(Object.keys(CANDLE_DROP_REASONS).map((r) => [r, 0])) as Record<
    CandleDropReason,
    number
  >;

  constructor(o: CandleIntakeOptions) {
    this.#o = o;
    if (o.keys.size === 0)
      o.logger.warn('no datafeed keys are pinned: every candle will be dropped (give --feed-key)');
  }

  /** Handles one record of the candles topic; returns what became of it. */
  onMessage(
    m: Pick<BusMessage, 'partition' | 'offset' | 'value' | 'timestamp'>,
  ): 'accepted' | CandleDropReason {
    const where = { partition: m.partition, offset: m.offset };
    if (m.value.length > MAX_CANDLE_RECORD_BYTES)
      return this.#drop('too-large', { ...where, bytes: m.value.length });
    let candle: CandleMessage;
    try {
      candle = verifyCandle(JSON.parse(m.value.toString()), this.#o.keys);
    } catch (err) {
      if (err instanceof SyntaxError) return this.#drop('malformed', { ...where, error: 'not JSON' });
      if (!isProtocolError(err) || !(err.code in REASON_OF_CODE)) throw err;
      return this.#drop(REASON_OF_CODE[err.code as keyof typeof REASON_OF_CODE], {
        ...where,
        error: err.message,
      });
    }
    const about = {
      ...where,
      id: candle.id,
      origin: candle.origin,
      symbol: candle.symbol,
      time: candle.time,
    };
    // Recorded only once taken: a genuine bar the exchange refuses must not shadow a later one.
    const order = this.#sequence.order(candle);
    if (order !== 'new') return this.#drop(order, about);
    this.#o.observe?.(candle, m.timestamp);
    const { time, open, high, low, close, volume } = candle;
    try {
      if (this.#o.sink && !this.#o.sink(candle.symbol, { time, open, high, low, close, volume }))
        return this.#drop('stale', about);
    } catch (err) {
      if (!(err instanceof PaperExchangeError)) throw err;
      if (err.code === 'PAPER_ERR_UNKNOWN_SYMBOL') return this.#drop('unknown-symbol', about);
      if (err.code === 'PAPER_ERR_BAD_CANDLE')
        return this.#drop('bad-candle', { ...about, error: err.message });
      throw err;
    }
    this.#sequence.record(candle);
    this.#accepted++;
    return 'accepted';
  }

  stats(): CandleIntakeStats {
    return { accepted: this.#accepted, dropped: { ...this.#dropped } };
  }

  #drop(reason: CandleDropReason, details: Record<string, unknown>): CandleDropReason {
    const count = ++this.#dropped[reason];
    if (count <= LOG_FIRST || count % LOG_EVERY === 0) {
      const line = { ...details, reason, count };
      // Redeliveries are normal on an at-least-once bus; the rest is a fault or an attack.
      if (reason === 'duplicate') this.#o.logger.debug(line, 'candle dropped');
      else this.#o.logger.warn(line, `candle dropped: ${CANDLE_DROP_REASONS[reason]}`);
    }
    return reason;
  }
}
