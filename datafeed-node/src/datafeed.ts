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
import { timeframeMs } from './csv-candles.js';
import type { EligibilityGate } from './eligibility.js';
import { FeedError } from './errors.js';
import { checkHouseBuy, type HousePolicySource } from './house-policy.js';
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
  /**
   * When given, each stream's house portfolio is held to the house policy in force (see
   * house-policy.ts): a buy it refuses is not made; sells always go through. While none has
   * arrived the house portfolios buy as without it. Signals are unaffected.
   */
  housePolicy?: HousePolicySource;
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
  /** Buys the house portfolio did not make because the house policy refused them (with one only). */
  skippedByPolicy?: number;
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
  /** Buys the house portfolios skipped as refused by the house policy (with a house policy only). */
  skippedByPolicy?: number;
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
   * The house portfolio: the same trader when there is no eligibility gate nor house policy,
   * else a second one fed the same actions except the buys they refuse.
   */
  house: VirtualTrader;
  skippedBuys: number;
  /** Per symbol, the gate revision at which a skip was last logged: once per change. */
  skipLogged: Map<string, number>;
  skippedByPolicy: number;
  /** Per refusal code, the UTC day a policy skip was last logged: once per reason per day. */
  policyLogged: Map<string, number>;
  /** The house's buys of the last two days, as `decide` counts them against the policy. */
  spends: { ts: number; quote: number }[];
  /** Per symbol, the spend of the house's buy waiting for its fill (set to what the fill paid). */
  pendingSpends: Map<string, { ts: number; quote: number }>;
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
  /** Latest close per asset fed: the house portfolio's marks when the house policy is checked. */
  readonly #marks: Record<string, number> = {};
  readonly #timeframeMs: number;
  #warnedNoPolicy = false;
  #candles = 0;

  /** Throws FeedError E_STREAMS when the streams cannot run on the symbols fed (see planStreams). */
  constructor(o: DatafeedOptions) {
    this.#o = o;
    this.#now = o.now ?? Date.now;
    this.#fed = new Set(o.symbols);
    this.#timeframeMs = timeframeMs(o.timeframe) ?? 0;
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
        house: o.eligibility || o.housePolicy ? trader() : signalTrader,
        skippedBuys: 0,
        skipLogged: new Map(),
        skippedByPolicy: 0,
        policyLogged: new Map(),
        spends: [],
        pendingSpends: new Map(),
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
    this.#marks[symbol.split('/')[0]!] = candle.close;
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
    } else {
      const house = run.house.onCandle(symbol, candle, this.#houseAction(run, symbol, candle, action));
      if (house.filled) run.fills++;
      if (this.#o.housePolicy) this.#recordSpend(run, symbol, candle, house);
    }
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
   * eligible on the stream, or one the house policy refuses. A sell always passes, so the house can leave a symbol that has
   * become ineligible. A buy decided while eligible is filled at the next open even if the
   * symbol became ineligible in between: the decision was made.
   */
  #houseAction(run: StreamRun, symbol: string, candle: Candle, action: StrategyAction | null) {
    if (action !== 'buy') return action;
    const gate = this.#o.eligibility;
    if (!gate || gate.allows(run.stream, symbol))
      return this.#o.housePolicy ? this.#policyAction(run, symbol, candle) : action;
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

  /**
   * A buy of the house portfolio under the house policy, checked by `decide` (checkHouseBuy) at
   * the candle's close with the order the house would place: its allocation of its equity at
   * the closes, within its cash (an upper bound: cash set aside for other pending buys makes
   * the real order smaller). No policy yet: the buy goes through, as before there were any.
   */
  #policyAction(run: StreamRun, symbol: string, candle: Candle): StrategyAction | null {
    const held = this.#o.housePolicy!.current();
    if (!held) {
      if (!this.#warnedNoPolicy) {
        this.#warnedNoPolicy = true;
        this.#o.logger.warn(
          'no signed house policy received yet: the house portfolios buy without a spending policy until one arrives (logged once)',
        );
      }
      return 'buy';
    }
    const house = run.house;
    const asset = symbol.split('/')[0]!;
    const pending = house.pending(symbol);
    // Held and nothing pending: the house places no buy, so there is nothing to check.
    if (pending === null && house.ledger.quantityAtoms(asset) > 0n) return 'buy';
    // A pending buy fills at this open, after which the house holds the asset and buys no more.
    if (pending?.side === 'buy') return null;
    const now = candle.time + this.#timeframeMs;
    const holdings = Object.fromEntries(
      Object.entries(house.ledger.positions()).map(([a, p]) => [a, p.quantity]),
    );
    const cash = house.ledger.cash();
    const equity = house.ledger.equity(this.#marks);
    // A pending sell fills at this open first, so its proceeds are cash the buy may use.
    const orderQuote = pending ? house.allocation * equity : Math.min(house.allocation * equity, cash);
    // Not one atom fits: the house places no buy.
    if (!(orderQuote > 0)) return 'buy';
    run.spends = run.spends.filter((s) => s.ts > now - SPEND_LOOKBACK_MS);
    const verdict = checkHouseBuy(held.policy, {
      stream: run.stream,
      symbol,
      quote: this.#o.quote,
      price: candle.close,
      orderQuote,
      // The house's own sizing keeps its order within its cash: funds are not the policy's matter.
      cash: Math.max(cash, orderQuote),
      holdings,
      marks: this.#marks,
      spends: run.spends,
      seed: this.#o.seed,
      now,
    });
    if (verdict.allowed) return 'buy';
    run.skippedByPolicy++;
    const day = Math.floor(now / DAY_MS);
    if (run.policyLogged.get(verdict.code) !== day) {
      run.policyLogged.set(verdict.code, day);
      this.#o.logger.info(
        {
          stream: run.stream,
          symbol,
          candleTime: candle.time,
          code: verdict.code,
          reason: verdict.reason,
          policyVersion: held.policyVersion ?? null,
        },
        `house portfolio does not buy ${symbol} on ${run.stream}: the house policy refuses it (${verdict.code}; logged once per reason per day)`,
      );
    }
    return null;
  }

  /**
   * Counts the house's buys for the policy's day and window limits: an order when it is placed
   * (at its value at the close), then what its fill actually paid, or nothing if it did not fill.
   */
  #recordSpend(run: StreamRun, symbol: string, candle: Candle, step: ReturnType<VirtualTrader['onCandle']>) {
    const waiting = run.pendingSpends.get(symbol);
    if (waiting) {
      run.pendingSpends.delete(symbol);
      waiting.quote = step.filled?.side === 'buy' ? step.filled.notional : 0;
    }
    if (step.order?.side !== 'buy') return;
    const spend = {
      ts: candle.time + this.#timeframeMs,
      quote: step.order.quantity * step.order.referencePrice,
    };
    run.spends.push(spend);
    run.pendingSpends.set(symbol, spend);
  }

  stats(): DatafeedStats {
    const streams = this.#runs.map((r): StreamStats => ({
      stream: r.stream,
      signals: r.signals,
      fills: r.fills,
      equity: r.house.equity(),
      ledgerBalanced: r.house.ledger.isBalanced() && r.trader.ledger.isBalanced(),
      ...(this.#o.eligibility ? { skippedBuys: r.skippedBuys } : {}),
      ...(this.#o.housePolicy ? { skippedByPolicy: r.skippedByPolicy } : {}),
    }));
    const total = {
      candles: this.#candles,
      signals: sum(streams.map((s) => s.signals)),
      fills: sum(streams.map((s) => s.fills)),
      equity: sum(streams.map((s) => s.equity)),
      ledgerBalanced: streams.every((s) => s.ledgerBalanced),
      ...(this.#o.eligibility ? { skippedBuys: sum(streams.map((s) => s.skippedBuys ?? 0)) } : {}),
      ...(this.#o.housePolicy ? { skippedByPolicy: sum(streams.map((s) => s.skippedByPolicy ?? 0)) } : {}),
    };
    return streams.length > 1 ? { ...total, streams } : total;
  }
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

const DAY_MS = 86_400_000;
/** No day or window of a policy is longer than this (as `decide` counts), so older spends cannot matter. */
const SPEND_LOOKBACK_MS = 50 * 3_600_000;
