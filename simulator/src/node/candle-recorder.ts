import type { Logger } from 'pino';
import {
  TOPICS,
  isProtocolError,
  verifyCandle,
  type Bus,
  type BusMessage,
  type CandleMessage,
  type KeyRing,
  type Subscription,
} from '@appliance/protocol';
import type { AppendOutcome } from './candle-series.js';
import type { CandleStore } from './candle-store.js';
import { CandleStoreError } from './candle-store-error.js';

/** A signed candle is about 400 bytes; anything much larger is refused before it is parsed. */
const MAX_CANDLE_RECORD_BYTES = 4_096;

/** Why a record on the candles topic was not verified, counted in `stats().dropped`. */
export const RECORDER_DROP_REASONS = {
  'too-large': `larger than ${MAX_CANDLE_RECORD_BYTES} bytes`,
  malformed: 'not JSON, or not a signed candle (E_MALFORMED)',
  'unknown-key': 'signed with a key that is not a pinned datafeed key (E_UNKNOWN_KEY)',
  'bad-signature': 'the signature does not verify: forged or altered (E_BAD_SIGNATURE)',
  'bad-id': 'the id is not derived from its origin and bar (E_BAD_ID)',
  'bad-candle': 'genuine, but impossible (high below low, ...): the store refused it',
  'bad-series': 'genuine, but its symbol or timeframe cannot name a series file',
} as const;
export type RecorderDropReason = keyof typeof RECORDER_DROP_REASONS;

const REASON_OF_CODE = {
  E_MALFORMED: 'malformed',
  E_UNKNOWN_KEY: 'unknown-key',
  E_BAD_SIGNATURE: 'bad-signature',
  E_BAD_ID: 'bad-id',
} as const satisfies Record<string, RecorderDropReason>;

/** Drops of one reason logged one by one, then only every this many (a flood must not flood the log). */
const LOG_FIRST = 10;
const LOG_EVERY = 1_000;

export interface CandleRecorderOptions {
  bus: Bus;
  store: CandleStore;
  /** The datafeeds' public keys: only candles they signed are stored. */
  keys: KeyRing;
  logger: Logger;
  /**
   * Where to start reading. Default `earliest`: whatever the bus still retains is offered
   * again, and the store ignores what it already holds (`duplicate`), so no position needs
   * keeping for a restart to miss nothing the bus retained.
   */
  from?: 'earliest' | 'latest';
}

export type RecorderStats = {
  [K in AppendOutcome['result']]: number;
} & { dropped: Record<RecorderDropReason, number> };

/**
 * Records the bus's `candles` topic into a CandleStore: size, JSON, schema, pinned key,
 * signature and id (`verifyCandle`), then `store.append`, which decides what is new, a
 * redelivery, a conflict or a gap. Nothing unverified is written. An I/O error of the store is
 * not swallowed: it reaches the bus's `onError` for that record and is logged at error, since
 * a recorder that cannot write must be seen.
 */
export class CandleRecorder {
  readonly #o: CandleRecorderOptions;
  #subscription: Subscription | undefined;
  readonly #outcomes: Record<AppendOutcome['result'], number> = {
    stored: 0,
    duplicate: 0,
    conflict: 0,
    late: 0,
    'off-grid': 0,
  };
  readonly #dropped = Object.fromEntries(Object.keys(RECORDER_DROP_REASONS).map((r) => [r, 0])) as Record<
    RecorderDropReason,
    number
  >;

  constructor(o: CandleRecorderOptions) {
    this.#o = o;
    if (o.keys.size === 0)
      o.logger.warn('no datafeed keys are pinned: every candle will be dropped (give the feed keys)');
  }

  /** Subscribes to the candles topic; resolves once the subscription is positioned. */
  async start(): Promise<void> {
    if (this.#subscription) return;
    this.#subscription = await this.#o.bus.subscribe({
      topic: TOPICS.candles,
      from: this.#o.from ?? 'earliest',
      onMessage: (m) => this.onMessage(m).then(() => undefined),
      onError: (err, m) =>
        this.#o.logger.error(
          { err, partition: m.partition, offset: m.offset },
          'candle recorder: a candle could not be stored',
        ),
    });
    await this.#subscription.ready;
  }

  async stop(): Promise<void> {
    await this.#subscription?.close();
    this.#subscription = undefined;
  }

  /** Handles one record of the candles topic; what became of it. */
  async onMessage(
    m: Pick<BusMessage, 'partition' | 'offset' | 'value'>,
  ): Promise<AppendOutcome['result'] | RecorderDropReason> {
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
    const { time, open, high, low, close, volume } = candle;
    let outcome: AppendOutcome;
    try {
      outcome = await this.#o.store.append(candle.symbol, candle.timeframe, {
        time,
        open,
        high,
        low,
        close,
        volume,
      });
    } catch (err) {
      // Refusals of the input are drops like the others; anything else is I/O, and thrown.
      if (err instanceof CandleStoreError && (err.code === 'E_BAD_CANDLE' || err.code === 'E_BAD_SERIES'))
        return this.#drop(err.code === 'E_BAD_CANDLE' ? 'bad-candle' : 'bad-series', {
          ...where,
          id: candle.id,
          error: err.message,
        });
      throw err;
    }
    this.#outcomes[outcome.result]++;
    return outcome.result;
  }

  stats(): RecorderStats {
    return { ...this.#outcomes, dropped: { ...this.#dropped } };
  }

  #drop(reason: RecorderDropReason, details: Record<string, unknown>): RecorderDropReason {
    const count = ++this.#dropped[reason];
    if (count <= LOG_FIRST || count % LOG_EVERY === 0)
      this.#o.logger.warn({ ...details, reason, count }, `candle dropped: ${RECORDER_DROP_REASONS[reason]}`);
    return reason;
  }
}
