import type { Logger } from 'pino';
import { TOPICS, createCandle, createSignal, type Bus, type Signal, type Signer } from '@appliance/protocol';
import {
  InputQueue,
  VirtualTrader,
  type Candle,
  type FillCosts,
  type Strategy,
  type StrategyAction,
} from '@appliance/trading-core';
import { feedCandleProblem } from './candle-check.js';
import type { EligibilityGate } from './eligibility.js';
import { FeedError } from './errors.js';
import { planStreams, streamsOf, type StreamChoice } from './streams.js';

/**
 * `stream` and `strategy` for one algorithm (e.g. `ema-cross.1h`), or `streams` for several:
 * each with its own virtual portfolio, publishing on its own stream.
 */
export interface DatafeedOptions extends StreamChoice {
  bus: Bus;
  /** Signs the signals and the candles (separate signature domains). */
  signer: Signer;
  logger: Logger;
  /** This node's name, stamped on every signal and candle as `origin`. */
  origin: string;
  /** Every symbol fed: each candle of these is checked and published, traded or not. */
  symbols: string[];
  timeframe: string;
  quote: string;
  /** The fixed virtual balance each stream's algorithm trades, in quote. */
  seed: number;
  costs: FillCosts;
  /** How long a signal stays actionable after it is issued. */
  ttlMs: number;
  /**
   * When given, each stream's house portfolio opens no position in a symbol the gate does not
   * allow on that stream; sells always go through. Signals are unaffected (see Datafeed).
   */
  eligibility?: EligibilityGate;
  now?: () => number;
}

export const DEFAULT_SIGNAL_TTL_MS = 60_000;

export interface StreamStats {
  stream: string;
  signals: number;
  /** Fills, equity and ledger of the house portfolio. */
  fills: number;
  equity: number;
  ledgerBalanced: boolean;
  /** Buys the house portfolio did not make because the symbol was not eligible (with a gate only). */
  skippedBuys?: number;
}

export interface DatafeedStats {
  candles: number;
  /** Signals and fills of every stream. */
  signals: number;
  fills: number;
  /** The house portfolio's virtual equity, summed over the streams when there are several. */
  equity: number;
  ledgerBalanced: boolean;
  /** Buys the house portfolios skipped as not eligible (with an eligibility gate only). */
  skippedBuys?: number;
  /** Each stream's own, when the feed runs more than one. */
  streams?: StreamStats[];
}

/** One symbol a stream trades: its strategy, and the candles of the strategy's inputs not yet handed over. */
interface Lane {
  strategy: Strategy;
  inputs: InputQueue | undefined;
  deliver: (symbol: string, candle: Candle) => void;
}

interface StreamRun {
  stream: string;
  /** Decides the stream's signals: every buy and sell its algorithm makes, as without a gate. */
  trader: VirtualTrader;
  /**
   * The house portfolio: the same trader when there is no eligibility gate, else a second one
   * fed the same actions except buys of symbols not eligible on the stream.
   */
  house: VirtualTrader;
  skippedBuys: number;
  /** Per symbol, the gate revision at which a skip was last logged: once per change. */
  skipLogged: Map<string, number>;
  lanes: Map<string, Lane>;
  /** Per input symbol, the queues of the strategies that read it. */
  readers: Map<string, InputQueue[]>;
  signals: number;
  fills: number;
}

/**
 * Each stream's algorithm over its pairs on its own virtual balance. Every candle goes on the
 * bus once for the paper exchange, signed with the key that signs the signals; when a stream's
 * virtual portfolio decides to buy or sell, the decision goes out as a signed signal keyed by
 * that stream. The signal comes after its candle, so the exchange knows the price first.
 *
 * A strategy with `inputs` gets their candles through an InputQueue: just before it sees a
 * traded candle it is handed the input candles that opened before it, never one that opened at
 * the same time or later, whatever order the sources brought them in.
 */
export class Datafeed {
  readonly #runs: StreamRun[];
  readonly #fed: Set<string>;
  readonly #lastTime = new Map<string, number>();
  readonly #o: DatafeedOptions;
  readonly #now: () => number;
  #candles = 0;

  /** Throws FeedError E_STREAMS when the streams cannot run on the symbols fed (see planStreams). */
  constructor(o: DatafeedOptions) {
    this.#o = o;
    this.#now = o.now ?? Date.now;
    this.#fed = new Set(o.symbols);
    this.#runs = planStreams(streamsOf(o), o.symbols).map(({ stream, strategies }) => {
      const trader = () =>
        new VirtualTrader({
          quote: o.quote,
          seed: o.seed,
          costs: o.costs,
          allocation: 1 / strategies.size,
        });
      const signalTrader = trader();
      const run: StreamRun = {
        stream,
        trader: signalTrader,
        house: o.eligibility ? trader() : signalTrader,
        skippedBuys: 0,
        skipLogged: new Map(),
        lanes: new Map(),
        readers: new Map(),
        signals: 0,
        fills: 0,
      };
      for (const [symbol, strategy] of strategies) {
        const inputs = strategy.inputs?.length ? new InputQueue(strategy.inputs) : undefined;
        for (const input of new Set(strategy.inputs ?? []))
          run.readers.set(input, [...(run.readers.get(input) ?? []), inputs!]);
        run.lanes.set(symbol, { strategy, inputs, deliver: (s, c) => strategy.onInput?.(s, c) });
      }
      const first = strategies.values().next().value!;
      o.logger.info(
        {
          stream,
          strategy: first.name,
          algoVersion: first.version,
          params: first.params ?? {},
          symbols: [...strategies.keys()],
          ...(first.inputs?.length ? { inputs: first.inputs } : {}),
        },
        `stream ${stream} runs ${first.version}`,
      );
      return run;
    });
  }

  /** Checks and publishes the candle, then runs each stream on it; the signals it published. */
  async onCandle(symbol: string, candle: Candle): Promise<Signal[]> {
    if (!this.#fed.has(symbol)) throw new RangeError(`symbol ${symbol} is not configured on this feed`);
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
    const signals: Signal[] = [];
    for (const run of this.#runs) {
      const signal = await this.#step(run, symbol, candle);
      if (signal) signals.push(signal);
    }
    return signals;
  }

  async #step(run: StreamRun, symbol: string, candle: Candle): Promise<Signal | null> {
    for (const q of run.readers.get(symbol) ?? []) q.push(symbol, candle);
    const lane = run.lanes.get(symbol);
    // An input this stream does not trade: read by its strategies, not traded.
    if (!lane) return null;
    lane.inputs?.release(candle.time, lane.deliver);
    const action = lane.strategy.onCandle(candle);
    const step = run.trader.onCandle(symbol, candle, action);
    if (run.house === run.trader) {
      if (step.filled) run.fills++;
    } else if (run.house.onCandle(symbol, candle, this.#houseAction(run, symbol, candle, action)).filled)
      run.fills++;
    if (!step.order) return null;
    const signal = createSignal(
      {
        stream: run.stream,
        symbol,
        side: step.order.side,
        price: step.order.referencePrice,
        candleTime: candle.time,
        ts: this.#now(),
        ttlMs: this.#o.ttlMs,
        strength: 1,
        algoVersion: lane.strategy.version,
        origin: this.#o.origin,
      },
      this.#o.signer,
    );
    await this.#o.bus.publish(TOPICS.signals, [{ key: run.stream, value: JSON.stringify(signal) }]);
    run.signals++;
    this.#o.logger.info(
      {
        id: signal.id,
        // The one-stream log line is as it always was; with several, which one.
        ...(this.#runs.length > 1 ? { stream: run.stream } : {}),
        symbol,
        side: signal.side,
        price: signal.price,
        candleTime: candle.time,
      },
      'signal published',
    );
    return signal;
  }

  /**
   * The action the house portfolio takes: the algorithm's, except a buy of a symbol not
   * eligible on the stream. A sell always passes, so the house can leave a symbol that has
   * become ineligible. A buy decided while eligible is filled at the next open even if the
   * symbol became ineligible in between: the decision was made.
   */
  #houseAction(run: StreamRun, symbol: string, candle: Candle, action: StrategyAction | null) {
    const gate = this.#o.eligibility!;
    if (action !== 'buy' || gate.allows(run.stream, symbol)) return action;
    run.skippedBuys++;
    const revision = gate.revision(run.stream);
    if (run.skipLogged.get(symbol) !== revision) {
      run.skipLogged.set(symbol, revision);
      this.#o.logger.info(
        { stream: run.stream, symbol, candleTime: candle.time },
        `house portfolio does not buy ${symbol} on ${run.stream}: not eligible (logged once until eligibility changes)`,
      );
    }
    return null;
  }

  stats(): DatafeedStats {
    const streams = this.#runs.map((r): StreamStats => ({
      stream: r.stream,
      signals: r.signals,
      fills: r.fills,
      equity: r.house.equity(),
      ledgerBalanced: r.house.ledger.isBalanced() && r.trader.ledger.isBalanced(),
      ...(this.#o.eligibility ? { skippedBuys: r.skippedBuys } : {}),
    }));
    const total = {
      candles: this.#candles,
      signals: sum(streams.map((s) => s.signals)),
      fills: sum(streams.map((s) => s.fills)),
      equity: sum(streams.map((s) => s.equity)),
      ledgerBalanced: streams.every((s) => s.ledgerBalanced),
      ...(this.#o.eligibility ? { skippedBuys: sum(streams.map((s) => s.skippedBuys ?? 0)) } : {}),
    };
    return streams.length > 1 ? { ...total, streams } : total;
  }
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
