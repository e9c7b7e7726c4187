import type { Logger } from 'pino';
import { TOPICS, createCandle, createSignal, type Bus, type Signal, type Signer } from '@appliance/protocol';
import { VirtualTrader, type Candle, type FillCosts, type Strategy } from '@appliance/trading-core';
import { feedCandleProblem } from './candle-check.js';
import { FeedError } from './errors.js';

export interface DatafeedOptions {
  bus: Bus;
  /** Signs the signals and the candles (separate signature domains). */
  signer: Signer;
  logger: Logger;
  /** Stream this node's algorithm publishes on, e.g. `ema-cross.1h`. */
  stream: string;
  /** This node's name, stamped on every signal and candle as `origin`. */
  origin: string;
  symbols: string[];
  timeframe: string;
  quote: string;
  /** The fixed virtual balance the algorithm trades, in quote. */
  seed: number;
  costs: FillCosts;
  /** How long a signal stays actionable after it is issued. */
  ttlMs: number;
  strategy: () => Strategy;
  now?: () => number;
}

export const DEFAULT_SIGNAL_TTL_MS = 60_000;

export interface DatafeedStats {
  candles: number;
  signals: number;
  fills: number;
  equity: number;
  ledgerBalanced: boolean;
}

/**
 * One algorithm over all its pairs on one virtual balance. Every candle goes on the bus for
 * the paper exchange, signed with the key that signs the signals; when the virtual portfolio
 * decides to buy or sell, the decision goes out as a signed signal. The signal comes after its
 * candle, so the exchange knows the price first.
 */
export class Datafeed {
  readonly trader: VirtualTrader;
  readonly #strategies = new Map<string, Strategy>();
  readonly #lastTime = new Map<string, number>();
  readonly #o: DatafeedOptions;
  readonly #now: () => number;
  #candles = 0;
  #signals = 0;
  #fills = 0;
  #algoVersion = '';

  constructor(o: DatafeedOptions) {
    this.#o = o;
    this.#now = o.now ?? Date.now;
    this.trader = new VirtualTrader({
      quote: o.quote,
      seed: o.seed,
      costs: o.costs,
      allocation: 1 / o.symbols.length,
    });
    for (const s of o.symbols) {
      const strategy = o.strategy();
      this.#strategies.set(s, strategy);
      this.#algoVersion = strategy.version;
    }
  }

  async onCandle(symbol: string, candle: Candle): Promise<Signal | null> {
    const strategy = this.#strategies.get(symbol);
    if (!strategy) throw new RangeError(`symbol ${symbol} is not configured on this feed`);
    // Checked before the candle is published or any strategy sees it: a strategy's state must
    // not be moved by a candle the trader would then refuse.
    const problem = feedCandleProblem(candle);
    if (problem !== null)
      throw new FeedError('E_BAD_CANDLE', `${symbol} candle at ${String(candle.time)}: ${problem}`);
    const previous = this.#lastTime.get(symbol);
    if (previous !== undefined && candle.time <= previous)
      throw new FeedError(
        'E_BAD_CANDLE',
        `${symbol} candle at ${candle.time} is not after the previous one at ${previous}`,
      );
    this.#lastTime.set(symbol, candle.time);
    this.#candles++;
    const { time, open, high, low, close, volume } = candle;
    const signed = createCandle(
      {
        origin: this.#o.origin,
        symbol,
        timeframe: this.#o.timeframe,
        time,
        open,
        high,
        low,
        close,
        volume,
        ts: this.#now(),
      },
      this.#o.signer,
    );
    await this.#o.bus.publish(TOPICS.candles, [{ key: symbol, value: JSON.stringify(signed) }]);
    const step = this.trader.onCandle(symbol, candle, strategy.onCandle(candle));
    if (step.filled) this.#fills++;
    if (!step.order) return null;
    const signal = createSignal(
      {
        stream: this.#o.stream,
        symbol,
        side: step.order.side,
        price: step.order.referencePrice,
        candleTime: candle.time,
        ts: this.#now(),
        ttlMs: this.#o.ttlMs,
        strength: 1,
        algoVersion: this.#algoVersion,
        origin: this.#o.origin,
      },
      this.#o.signer,
    );
    await this.#o.bus.publish(TOPICS.signals, [{ key: this.#o.stream, value: JSON.stringify(signal) }]);
    this.#signals++;
    this.#o.logger.info(
      { id: signal.id, symbol, side: signal.side, price: signal.price, candleTime: candle.time },
      'signal published',
    );
    return signal;
  }

  stats(): DatafeedStats {
    return {
      candles: this.#candles,
      signals: this.#signals,
      fills: this.#fills,
      equity: this.trader.equity(),
      ledgerBalanced: this.trader.ledger.isBalanced(),
    };
  }
}
