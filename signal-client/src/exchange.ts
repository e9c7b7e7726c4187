import { errorClass } from '@appliance/errors';
import { ccxt, createBinance, type Exchange } from '@appliance/runtime/ccxt';
import { MAX_PRICE, type MarketRules } from '@appliance/trading-core';

/**
 * What the device must do about a failed exchange call. `indeterminate` means the order may
 * or may not exist: never re-send blindly, reconcile by client order id first.
 */
export const EXECUTION_ERROR_CODES = {
  E_AUTH: 'the exchange refused the API key or its signature',
  E_INSUFFICIENT_FUNDS: 'the exchange says the balance is insufficient',
  E_ORDER_REJECTED: 'the exchange rejected the order',
  E_DUPLICATE: 'the exchange already has an open order with this client id',
  E_NOT_FOUND: 'the exchange does not know this order',
  E_UNREACHABLE: 'the exchange did not answer; the order may or may not exist',
  E_EXCHANGE: 'the exchange answered with an unexpected error',
} as const;
export type ExecutionErrorCode = keyof typeof EXECUTION_ERROR_CODES;

/** The codes after which an order may or may not exist at the exchange. */
const INDETERMINATE_CODES: ReadonlySet<ExecutionErrorCode> = new Set(['E_DUPLICATE', 'E_UNREACHABLE']);

/**
 * Never retriable: sending an order again can make a second order. What to do instead follows
 * from the code: `indeterminate` ones are reconciled by client order id, the rest are final.
 */
export class ExecutionError extends errorClass('ExecutionError', EXECUTION_ERROR_CODES) {
  /** True when the outcome is unknown and must be reconciled. A rejection never is. */
  get indeterminate(): boolean {
    return INDETERMINATE_CODES.has(this.code);
  }
}

/** Turns ccxt's exception zoo into our codes: the one place that knows ccxt's classes. */
export function translateCcxtError(err: unknown): ExecutionError {
  const msg = err instanceof Error ? err.message.slice(0, 300) : String(err);
  if (err instanceof ExecutionError) return err;
  if (err instanceof ccxt.AuthenticationError || err instanceof ccxt.PermissionDenied)
    return new ExecutionError('E_AUTH', msg);
  if (err instanceof ccxt.InsufficientFunds) return new ExecutionError('E_INSUFFICIENT_FUNDS', msg);
  if (err instanceof ccxt.OrderNotFound) return new ExecutionError('E_NOT_FOUND', msg);
  if (err instanceof ccxt.DuplicateOrderId || /duplicate order/i.test(msg))
    return new ExecutionError('E_DUPLICATE', msg);
  if (err instanceof ccxt.InvalidOrder || err instanceof ccxt.BadRequest)
    return new ExecutionError('E_ORDER_REJECTED', msg);
  if (err instanceof ccxt.NetworkError) return new ExecutionError('E_UNREACHABLE', msg);
  return new ExecutionError('E_EXCHANGE', msg);
}

export interface OrderResult {
  orderId: string;
  status: string;
  filled: number;
  cost: number;
  fee: number;
}

export interface Balances {
  free: Record<string, number>;
  total: Record<string, number>;
}

/** The device's port to an exchange; paper and live differ only in where it points. */
export interface Executor {
  loadMarkets(): Promise<void>;
  balances(): Promise<Balances>;
  /** The market's precision and minimums, as the decision needs them; undefined if unlisted. */
  marketRules(symbol: string): MarketRules | undefined;
  /**
   * The exchange's latest prices of these symbols (listed ones only; a symbol without a usable
   * price is left out), to value holdings and to check a signal's price before a buy.
   */
  prices(symbols: string[]): Promise<Record<string, number>>;
  /**
   * A market order. A buy is sized by `quote` (Binance `quoteOrderQty`): the exchange spends at
   * most that much, whatever the price. A sell sells `amount`. A buy without `quote` is refused
   * here, never sent (an intent journalled by an older version, sized at a signal's price).
   */
  placeMarketOrder(o: {
    symbol: string;
    side: 'buy' | 'sell';
    amount: number;
    quote?: number;
    clientOrderId: string;
  }): Promise<OrderResult>;
  findOrder(o: { symbol: string; clientOrderId: string }): Promise<OrderResult | null>;
  /** The account's fills on a symbol since a time, with the exchange order each belongs to. */
  recentTrades(symbol: string, since: number): Promise<{ orderId: string; side: 'buy' | 'sell' }[]>;
}

export interface BinanceExecutorOptions {
  apiKey: string;
  secret: string;
  /** Base URL of the paper exchange; every ccxt endpoint is redirected to it. */
  paperUrl?: string;
  timeoutMs?: number;
}

export function createBinanceExecutor(opts: BinanceExecutorOptions): Executor {
  const exchange: Exchange = createBinance({
    apiKey: opts.apiKey,
    secret: opts.secret,
    baseUrl: opts.paperUrl,
    timeoutMs: opts.timeoutMs,
  });
  const toResult = (o: Record<string, unknown>): OrderResult => ({
    orderId: String(o.id),
    status: String(o.status),
    filled: Number(o.filled ?? 0),
    cost: Number(o.cost ?? 0),
    fee: Number((o.fee as { cost?: number } | undefined)?.cost ?? 0),
  });
  const call = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      throw translateCcxtError(err);
    }
  };
  return {
    loadMarkets: () => call(async () => void (await exchange.loadMarkets())),
    balances: () =>
      call(async () => {
        const b = await exchange.fetchBalance();
        return {
          free: { ...(b.free as unknown as Record<string, number>) },
          total: { ...(b.total as unknown as Record<string, number>) },
        };
      }),
    marketRules(symbol) {
      const m = exchange.markets?.[symbol];
      if (!m) return undefined;
      // Binance markets use tick-size precision in ccxt: precision.amount is the lot step.
      return {
        amountStep: Number(m.precision.amount ?? 0),
        priceTick: Number(m.precision.price ?? 0),
        minAmount: Number(m.limits.amount?.min ?? 0),
        minNotional: Number(m.limits.cost?.min ?? 0),
      };
    },
    prices: (symbols) =>
      call(async () => {
        const out: Record<string, number> = {};
        for (const symbol of symbols.filter((s) => exchange.markets?.[s])) {
          const last = (await exchange.fetchTicker(symbol)).last;
          if (typeof last === 'number' && last > 0 && last <= MAX_PRICE) out[symbol] = last;
        }
        return out;
      }),
    placeMarketOrder: ({ symbol, side, amount, quote, clientOrderId }) =>
      call(async () => {
        const params = { newClientOrderId: clientOrderId };
        if (side === 'sell')
          return toResult(
            (await exchange.createOrder(symbol, 'market', 'sell', amount, undefined, params)) as never,
          );
        if (!(typeof quote === 'number' && Number.isFinite(quote) && quote > 0)) {
          throw new ExecutionError('E_ORDER_REJECTED', 'a buy without a quote amount is not sent');
        }
        // quoteOrderQty: ccxt truncates it to the market's precision, never rounding it up.
        return toResult((await exchange.createMarketBuyOrderWithCost(symbol, quote, params)) as never);
      }),
    recentTrades: (symbol, since) =>
      call(async () =>
        (await exchange.fetchMyTrades(symbol, since, 1000)).map((t) => ({
          orderId: String(t.order),
          side: t.side as 'buy' | 'sell',
        })),
      ),
    findOrder: async ({ symbol, clientOrderId }) => {
      let order: OrderResult;
      try {
        order = toResult(
          (await exchange.fetchOrder(undefined as unknown as string, symbol, { clientOrderId })) as never,
        );
      } catch (err) {
        const e = translateCcxtError(err);
        if (e.code === 'E_NOT_FOUND') return null;
        throw e;
      }
      // Binance's order query carries no fills, so no commission: the order's trades have it.
      if (order.filled > 0 && order.fee === 0) {
        const trades = await call(() =>
          exchange.fetchMyTrades(symbol, undefined, undefined, { orderId: order.orderId }),
        );
        order.fee = trades.reduce((sum, t) => sum + Number(t.fee?.cost ?? 0), 0);
      }
      return order;
    },
  };
}
