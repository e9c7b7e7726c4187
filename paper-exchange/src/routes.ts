import type { FillCosts } from '@appliance/trading-core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Accounts } from './accounts.js';
import { authenticate, parseParams, type Params } from './binance-auth.js';
import { INTERVALS, type CandleStore } from './candles.js';
import { BinanceError, binanceErrors } from './errors.js';
import { hiddenAfterCreate, shouldLoseResponse, type Faults } from './faults.js';
import { marketToWire, type Market, type Markets } from './markets.js';
import { clientOrderIdParam, integerParam, param, parseNewOrder, parseOrderRef } from './order-params.js';
import type { Orders } from './orders.js';
import {
  canceledOrderToWire,
  klineToWire,
  newOrderToWire,
  orderToWire,
  ticker24hToWire,
  tradeToWire,
} from './wire.js';

export interface RouteDeps {
  markets: Markets;
  accounts: Accounts;
  candles: CandleStore;
  orders: Orders;
  costs: FillCosts;
  faults: Faults;
  now: () => number;
  random: () => number;
}

const DEFAULT_LIMIT = 500;

/** An outage as a load balancer in front of the venue answers it (ccxt: ExchangeNotAvailable). */
const unavailable = (reply: FastifyReply) =>
  reply.code(503).type('text/html').send('<html><body>503 Service Unavailable</body></html>');
const MAX_LIMIT = 1_000;

function rawQuery(req: FastifyRequest): string {
  const url = req.raw.url ?? '';
  const i = url.indexOf('?');
  return i < 0 ? '' : url.slice(i + 1);
}

function limitParam(params: Params): number {
  const limit = integerParam(params, 'limit') ?? DEFAULT_LIMIT;
  if (limit < 1) throw binanceErrors.illegalCharacters('limit', '^[0-9]{1,20}$');
  return Math.min(limit, MAX_LIMIT);
}

/** The Binance spot REST subset ccxt's `binance` class calls for spot trading, and the key check. */
export function registerRoutes(app: FastifyInstance, deps: RouteDeps): void {
  const { markets, accounts, candles, orders, faults } = deps;

  // The signature covers the body exactly as sent, so it is kept as a string.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) =>
    done(null, body),
  );

  const publicParams = (req: FastifyRequest) => parseParams(rawQuery(req));
  const signed = (req: FastifyRequest) => {
    const header = req.headers['x-mbx-apikey'];
    return authenticate(
      {
        apiKey: typeof header === 'string' ? header : undefined,
        rawQuery: rawQuery(req),
        rawBody: typeof req.body === 'string' ? req.body : '',
      },
      accounts,
      deps.now,
    );
  };
  const optionalMarket = (params: Params): Market | undefined =>
    param(params, 'symbol') === undefined ? undefined : markets.byWireId(param(params, 'symbol'));

  app.setErrorHandler((error: Error & { statusCode?: number }, req, reply) => {
    if (error instanceof BinanceError) return reply.code(error.httpStatus).send(error.toJSON());
    if (error.statusCode !== undefined && error.statusCode < 500) {
      // Fastify's own refusals (media type, body size): not the client's retry to make.
      return reply.code(error.statusCode).send({ code: -1020, msg: error.message });
    }
    req.log.error({ err: error }, 'paper exchange: unexpected error');
    const unknown = binanceErrors.unknown();
    return reply.code(unknown.httpStatus).send(unknown.toJSON());
  });
  app.setNotFoundHandler((_req, reply) => {
    const e = binanceErrors.notSupported();
    return reply.code(e.httpStatus).send(e.toJSON());
  });

  // An overloaded venue: every answer (errors and 503s too) waits `faults.latencyMs`, read per
  // request so a test can turn it on and off while the exchange runs.
  app.addHook('onSend', async () => {
    if (faults.latencyMs > 0) await new Promise((r) => setTimeout(r, faults.latencyMs));
  });

  app.get('/api/v3/ping', async () => ({}));
  app.get('/api/v3/time', async () => ({ serverTime: deps.now() }));

  app.get('/api/v3/exchangeInfo', async (req) => {
    const one = optionalMarket(publicParams(req));
    return {
      timezone: 'UTC',
      serverTime: deps.now(),
      rateLimits: [],
      exchangeFilters: [],
      symbols: (one ? [one] : markets.all()).map(marketToWire),
    };
  });

  app.get('/api/v3/klines', async (req, reply: FastifyReply) => {
    if (faults.candlesUnavailable) return unavailable(reply);
    const params = publicParams(req);
    const market = markets.byWireId(param(params, 'symbol'));
    const interval = param(params, 'interval');
    if (interval === undefined) throw binanceErrors.mandatory('interval');
    const intervalMs = INTERVALS[interval];
    if (
      intervalMs === undefined ||
      intervalMs < candles.intervalMs ||
      intervalMs % candles.intervalMs !== 0
    ) {
      throw binanceErrors.invalidInterval();
    }
    return candles
      .klines(market.id, {
        intervalMs,
        startTime: integerParam(params, 'startTime'),
        endTime: integerParam(params, 'endTime'),
        limit: limitParam(params),
      })
      .map(klineToWire);
  });

  // The tickers a device asks before each buy: the latest close (0 before any candle).
  app.get('/api/v3/ticker/24hr', async (req, reply: FastifyReply) => {
    if (faults.tickerUnavailable) return unavailable(reply);
    const one = optionalMarket(publicParams(req));
    const ticker = (m: Market) => ticker24hToWire(m, candles.lastDay(m.id), candles.intervalMs);
    return one ? ticker(one) : markets.all().map(ticker);
  });

  app.get('/api/v3/ticker/price', async (req, reply: FastifyReply) => {
    if (faults.tickerUnavailable) return unavailable(reply);
    const one = optionalMarket(publicParams(req));
    const ticker = (m: Market) => ({ symbol: m.id, price: (candles.latest(m.id)?.close ?? 0).toFixed(8) });
    return one ? ticker(one) : markets.all().map(ticker);
  });

  app.get('/api/v3/account', async (req) => {
    const { account } = signed(req);
    const rate = (deps.costs.feeBps / 10_000).toFixed(8);
    return {
      makerCommission: deps.costs.feeBps,
      takerCommission: deps.costs.feeBps,
      buyerCommission: 0,
      sellerCommission: 0,
      commissionRates: { maker: rate, taker: rate, buyer: '0.00000000', seller: '0.00000000' },
      canTrade: true,
      canWithdraw: account.canWithdraw,
      canDeposit: false,
      brokered: false,
      requireSelfTradePrevention: false,
      preventSor: false,
      updateTime: deps.now(),
      accountType: 'SPOT',
      balances: account.toWire(),
      permissions: ['SPOT'],
    };
  });

  // The paper keys "exist" from when the exchange started; Binance reports each key's creation.
  const keysCreatedAt = deps.now();
  // ccxt sapiGetAccountApiRestrictions: what this API key may do. A device refuses a key that
  // can withdraw, so the flag comes from the account's canWithdraw. Binance enables
  // withdrawals only for IP-restricted keys, hence ipRestrict follows it.
  app.get('/sapi/v1/account/apiRestrictions', async (req) => {
    const { account } = signed(req);
    return {
      ipRestrict: account.canWithdraw,
      createTime: keysCreatedAt,
      enableReading: true,
      enableSpotAndMarginTrading: true,
      enableWithdrawals: account.canWithdraw,
      enableInternalTransfer: false,
      enableMargin: false,
      enableFutures: false,
      permitsUniversalTransfer: false,
      enableVanillaOptions: false,
      enableFixApiTrade: false,
      enableFixReadOnly: false,
      enablePortfolioMarginTrading: false,
    };
  });

  app.post('/api/v3/order', async (req, reply: FastifyReply) => {
    const { account, params } = signed(req);
    const { order: request, respType } = parseNewOrder(params, markets);
    const order = orders.place(account, request);
    req.log.debug(
      { symbol: order.symbol, orderId: order.orderId, status: order.status },
      'paper exchange: order',
    );
    if (shouldLoseResponse(faults, deps.random)) {
      // The order stands; only the answer is lost, as when a connection drops mid-flight.
      req.log.info({ symbol: order.symbol, orderId: order.orderId }, 'paper exchange fault: response lost');
      reply.hijack();
      req.raw.socket.destroy();
      return reply;
    }
    return newOrderToWire(order, respType);
  });

  app.get('/api/v3/order', async (req, reply: FastifyReply) => {
    if (faults.lookupsUnavailable) return unavailable(reply);
    const { account, params } = signed(req);
    const market = markets.byWireId(param(params, 'symbol'));
    const order = orders.find(account, market, parseOrderRef(params));
    if (!order || hiddenAfterCreate(faults, order.time, deps.now())) throw binanceErrors.orderDoesNotExist();
    return orderToWire(order);
  });

  app.delete('/api/v3/order', async (req) => {
    const { account, params } = signed(req);
    const market = markets.byWireId(param(params, 'symbol'));
    const ref = parseOrderRef(params);
    const cancelId = clientOrderIdParam(params, 'newClientOrderId');
    const order = orders.cancel(account, market, ref);
    return canceledOrderToWire(order, cancelId ?? `cancel-${order.orderId}`);
  });

  app.get('/api/v3/openOrders', async (req) => {
    const { account, params } = signed(req);
    return orders.openOrders(account.apiKey, optionalMarket(params)).map(orderToWire);
  });

  // ccxt fetchOrders: every order of a symbol, oldest first (Binance pages; we return up to `limit`).
  app.get('/api/v3/allOrders', async (req) => {
    const { account, params } = signed(req);
    const market = markets.byWireId(param(params, 'symbol'));
    const all = orders.orders(account.apiKey).filter((o) => o.symbol === market.id);
    return all.slice(-limitParam(params)).map(orderToWire);
  });

  app.get('/api/v3/myTrades', async (req) => {
    const { account, params } = signed(req);
    const market = markets.byWireId(param(params, 'symbol'));
    const orderId = integerParam(params, 'orderId');
    const startTime = integerParam(params, 'startTime');
    const endTime = integerParam(params, 'endTime');
    const fromId = integerParam(params, 'fromId');
    const limit = limitParam(params);
    const trades = orders
      .trades(account.apiKey, market)
      .filter(
        (t) =>
          (orderId === undefined || t.orderId === orderId) &&
          (startTime === undefined || t.time >= startTime) &&
          (endTime === undefined || t.time <= endTime) &&
          (fromId === undefined || t.id >= fromId),
      );
    // Binance pages forwards from fromId or startTime, and otherwise returns the most recent.
    const page =
      fromId !== undefined || startTime !== undefined ? trades.slice(0, limit) : trades.slice(-limit);
    return page.map(tradeToWire);
  });
}
