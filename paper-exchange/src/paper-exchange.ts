import type { AddressInfo } from 'node:net';
import { fromAtoms, type Candle, type FillCosts } from '@appliance/trading-core';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { Accounts, type AccountConfig, type AccountSnapshot } from './accounts.js';
import { CandleStore, DEFAULT_CANDLE_INTERVAL_MS, DEFAULT_MAX_CANDLES } from './candles.js';
import { PaperExchangeError } from './errors.js';
import { DEFAULT_FAULTS, seededRandom, type Faults } from './faults.js';
import { Markets, type MarketConfig } from './markets.js';
import { Orders, type OrderStatus, type OrderType, type PaperOrder, type Side } from './orders.js';
import { registerRoutes } from './routes.js';

/** Seed of the default random source, so that a run without one is still repeatable. */
export const DEFAULT_RANDOM_SEED = 0x5eed;

/** Longest delay `faults.latencyMs` may add to each response: 10 minutes. */
const MAX_LATENCY_MS = 600_000;

export interface PaperExchangeOptions {
  /** Markets to list. Required, at least one. */
  markets: MarketConfig[];
  /** Slippage and fee of the fill model. Required; fee < 10,000 bps. */
  costs: FillCosts;
  /** Accounts at start; more with addAccount(). Default none. */
  accounts?: AccountConfig[];
  /** Clock in ms, for recvWindow checks, order times and faults. Default Date.now. */
  now?: () => number;
  /** Uniform [0, 1) source for fault decisions. Default a generator seeded with DEFAULT_RANDOM_SEED. */
  random?: () => number;
  /** A pino-compatible logger. Default: no logging. */
  logger?: FastifyBaseLogger;
  /** Initial faults; the returned `faults` object can be changed while running. Default all off. */
  faults?: Partial<Faults>;
  /** Length of the bars fed to onCandle, in ms; klines are built from multiples of it. Default 60,000. */
  candleIntervalMs?: number;
  /** Bars kept per symbol. Default 10,000. */
  maxCandles?: number;
}

export interface OrderSnapshot {
  orderId: number;
  clientOrderId: string;
  symbol: string;
  side: Side;
  type: OrderType;
  status: OrderStatus;
  /** The limit; 0 for market orders. */
  price: number;
  origQty: number;
  /** The quote a quoteOrderQty market order asked to spend (or bring in); 0 otherwise. */
  origQuoteOrderQty: number;
  executedQty: number;
  cummulativeQuoteQty: number;
  locked: number;
  time: number;
  updateTime: number;
  fills: { tradeId: number; price: number; qty: number; commission: number; commissionAsset: string }[];
}

export interface PaperExchange {
  app: FastifyInstance;
  /** Starts serving; resolves to the base URL, e.g. http://127.0.0.1:40123. Defaults: port 0, host 127.0.0.1. */
  listen(options?: { port?: number; host?: string }): Promise<string>;
  close(): Promise<void>;
  /**
   * Feeds the latest bar of a symbol ('BTC/USDT' or 'BTCUSDT') and fills the resting orders it
   * crosses, sharing its volume among them by price-time priority (a partly filled order stays
   * open as PARTIALLY_FILLED). A bar with the latest bar's time replaces it; an older one is ignored (returns
   * false). Throws PAPER_ERR_UNKNOWN_SYMBOL or PAPER_ERR_BAD_CANDLE, changing nothing.
   */
  onCandle(symbol: string, candle: Candle): boolean;
  addAccount(config: AccountConfig): AccountSnapshot;
  /** A copy of an account's balances, for tests and the operator. */
  account(apiKey: string): AccountSnapshot;
  /** An account's balances in atoms (trading-core's money type), exact. */
  balanceAtoms(apiKey: string): Record<string, { free: bigint; locked: bigint }>;
  /** Copies of an account's orders, oldest first. */
  orders(apiKey: string): OrderSnapshot[];
  /** Live fault switches: mutate to change the behaviour of the running exchange. */
  faults: Faults;
}

function checkOptions(o: PaperExchangeOptions): void {
  const bad = (message: string) => new PaperExchangeError('PAPER_ERR_INVALID_OPTION', message);
  if (!Array.isArray(o.markets) || o.markets.length === 0) throw bad('markets must list at least one market');
  const { slippageBps, feeBps } = o.costs ?? {};
  if (!Number.isFinite(slippageBps) || slippageBps < 0 || slippageBps >= 10_000) {
    throw bad(`costs.slippageBps must be in [0, 10000), got ${slippageBps}`);
  }
  // A fee of the whole notional or more would make a sale cost money.
  if (!Number.isFinite(feeBps) || feeBps < 0 || feeBps >= 10_000) {
    throw bad(`costs.feeBps must be in [0, 10000), got ${feeBps}`);
  }
  const interval = o.candleIntervalMs ?? DEFAULT_CANDLE_INTERVAL_MS;
  if (!Number.isInteger(interval) || interval < 1_000 || interval % 1_000 !== 0) {
    throw bad(`candleIntervalMs must be a whole number of seconds in ms, got ${interval}`);
  }
  const max = o.maxCandles ?? DEFAULT_MAX_CANDLES;
  if (!Number.isInteger(max) || max < 1) throw bad(`maxCandles must be an integer >= 1, got ${max}`);
  for (const [name, value] of Object.entries(o.faults ?? {})) {
    if (typeof DEFAULT_FAULTS[name as keyof Faults] === 'boolean') {
      if (typeof value !== 'boolean') throw bad(`faults.${name} must be true or false, got ${value}`);
    } else if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
      throw bad(`faults.${name} must be a finite number >= 0, got ${value}`);
  }
  // A timer longer than 2^31 - 1 ms fires at once: refuse it rather than answer without delay.
  if ((o.faults?.latencyMs ?? 0) > MAX_LATENCY_MS)
    throw bad(`faults.latencyMs must be at most ${MAX_LATENCY_MS} (10 minutes), got ${o.faults?.latencyMs}`);
}

function orderSnapshot(o: PaperOrder): OrderSnapshot {
  return {
    orderId: o.orderId,
    clientOrderId: o.clientOrderId,
    symbol: o.symbol,
    side: o.side,
    type: o.type,
    status: o.status,
    price: fromAtoms(o.price),
    origQty: fromAtoms(o.origQty),
    origQuoteOrderQty: fromAtoms(o.origQuoteOrderQty),
    executedQty: fromAtoms(o.executedQty),
    cummulativeQuoteQty: fromAtoms(o.cummulativeQuoteQty),
    locked: fromAtoms(o.locked),
    time: o.time,
    updateTime: o.updateTime,
    fills: o.fills.map((t) => ({
      tradeId: t.id,
      price: fromAtoms(t.price),
      qty: fromAtoms(t.qty),
      commission: fromAtoms(t.commission),
      commissionAsset: t.commissionAsset,
    })),
  };
}

/**
 * A local exchange speaking the Binance spot REST subset ccxt's `binance` class uses, so a
 * client trades against it with its real ccxt code (see paperExchangeCcxtConfig). Prices come
 * only from onCandle; fills from the shared fill model.
 */
export function createPaperExchange(options: PaperExchangeOptions): PaperExchange {
  checkOptions(options);
  const now = options.now ?? (() => Date.now());
  const random = options.random ?? seededRandom(DEFAULT_RANDOM_SEED);
  const costs: FillCosts = { ...options.costs };
  const faults: Faults = { ...DEFAULT_FAULTS, ...options.faults };
  const markets = new Markets(options.markets);
  const accounts = new Accounts();
  for (const config of options.accounts ?? []) accounts.add(config);
  const candles = new CandleStore(
    options.candleIntervalMs ?? DEFAULT_CANDLE_INTERVAL_MS,
    options.maxCandles ?? DEFAULT_MAX_CANDLES,
  );
  const orders = new Orders({ markets, candles, costs, now });

  const app: FastifyInstance = options.logger
    ? // Each device polls its account every few seconds: one info line per request would bury
      // everything else, so requests are not logged (errors still are, by the routes).
      Fastify({
        loggerInstance: options.logger,
        logController: new LogController({ disableRequestLogging: true }),
        forceCloseConnections: true,
      })
    : Fastify({ logger: false, forceCloseConnections: true });
  registerRoutes(app, { markets, accounts, candles, orders, costs, faults, now, random });

  return {
    app,
    async listen({ port = 0, host = '127.0.0.1' } = {}) {
      await app.listen({ port, host });
      const address = app.server.address() as AddressInfo | null;
      if (!address) throw new PaperExchangeError('PAPER_ERR_NOT_LISTENING', 'the server has no address');
      const hostPart = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      return `http://${hostPart}:${address.port}`;
    },
    async close() {
      await app.close();
    },
    onCandle(symbol, candle) {
      const market = markets.find(symbol);
      if (!market) throw new PaperExchangeError('PAPER_ERR_UNKNOWN_SYMBOL', `no market ${symbol} is listed`);
      const previous = candles.latest(market.id);
      if (!candles.add(market.id, candle)) return false;
      // A newer version of the latest bar (still forming) offers only the volume it added, so
      // no traded unit is shared out twice.
      const volume =
        previous?.time === candle.time ? Math.max(0, candle.volume - previous.volume) : candle.volume;
      const crossed = orders.onCandle(market, { ...candle, volume }, (apiKey) => accounts.get(apiKey));
      for (const order of crossed) {
        app.log.info(
          { symbol: order.symbol, orderId: order.orderId, status: order.status },
          'paper exchange: limit order filled',
        );
      }
      return true;
    },
    addAccount(config) {
      return accounts.add(config).snapshot();
    },
    account(apiKey) {
      return accounts.get(apiKey).snapshot();
    },
    balanceAtoms(apiKey) {
      return accounts.get(apiKey).atoms();
    },
    orders(apiKey) {
      accounts.get(apiKey);
      return orders.orders(apiKey).map(orderSnapshot);
    },
    faults,
  };
}
