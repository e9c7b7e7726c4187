import {
  feeOn,
  fillAt,
  limitOrderFillAt,
  limitOrderReserve,
  marketOrderFill,
  marketPrice,
  notionalOf,
  OrderBook,
  quantityForQuote,
  quoteCost,
  toAtoms,
  type BarFill,
  type Candle,
  type FillCosts,
  type LimitOrder,
  type MatchedFill,
} from '@appliance/trading-core';
import type { Account } from './accounts.js';
import type { CandleStore } from './candles.js';
import { binanceErrors } from './errors.js';
import { checkNotional, checkPrice, checkQuantity, type Market, type Markets } from './markets.js';

export type Side = 'BUY' | 'SELL';
export type OrderType = 'MARKET' | 'LIMIT';
export type TimeInForce = 'GTC' | 'IOC' | 'FOK';
export type OrderStatus = 'NEW' | 'PARTIALLY_FILLED' | 'FILLED' | 'CANCELED' | 'EXPIRED';

/** Whether an order still works: resting, untouched or in part filled. */
export const isOpen = (o: Pick<PaperOrder, 'status'>): boolean =>
  o.status === 'NEW' || o.status === 'PARTIALLY_FILLED';

interface NewOrderBase {
  market: Market;
  side: Side;
  clientOrderId?: string;
}

/** A new-order request, parsed and typed but not yet checked against filters or balances. */
export type NewOrder =
  | (NewOrderBase & { type: 'LIMIT'; timeInForce: TimeInForce; price: bigint; quantity: bigint })
  /** A market order gives its base quantity, or the quote amount to spend or receive. */
  | (NewOrderBase & { type: 'MARKET'; quantity: bigint; quoteOrderQty?: undefined })
  | (NewOrderBase & { type: 'MARKET'; quantity?: undefined; quoteOrderQty: bigint });

export interface PaperTrade {
  id: number;
  orderId: number;
  symbol: string;
  price: bigint;
  qty: bigint;
  quoteQty: bigint;
  commission: bigint;
  commissionAsset: string;
  time: number;
  isBuyer: boolean;
  isMaker: boolean;
}

export interface PaperOrder {
  apiKey: string;
  symbol: string;
  orderId: number;
  clientOrderId: string;
  side: Side;
  type: OrderType;
  timeInForce: TimeInForce;
  /** 0 for MARKET orders, as Binance reports them. */
  price: bigint;
  origQty: bigint;
  origQuoteOrderQty: bigint;
  executedQty: bigint;
  cummulativeQuoteQty: bigint;
  status: OrderStatus;
  time: number;
  updateTime: number;
  /** The asset held back while the order rests, and how much of it. */
  lockedAsset: string;
  locked: bigint;
  fills: PaperTrade[];
}

/** Which order a query or cancel means; orderId wins when both are given, and both must then agree. */
export interface OrderRef {
  orderId?: number;
  clientOrderId?: string;
}

export interface OrdersDeps {
  markets: Markets;
  candles: CandleStore;
  costs: FillCosts;
  now: () => number;
}

const lower = (side: Side) => (side === 'BUY' ? 'buy' : 'sell');
const asLimit = (o: Pick<PaperOrder, 'side' | 'origQty' | 'price'>): LimitOrder => ({
  side: lower(o.side),
  quantity: o.origQty,
  limit: o.price,
});

/**
 * Every account's orders and trades, and their settlement. The matching itself is trading-core's
 * (`matching/`): market orders at the latest close moved by the slippage (by quantity, or by
 * quoteOrderQty: never more quote than asked, see checkFilters), limit orders at placement
 * against the latest close (whole), and resting ones against each new candle through one
 * resting-only OrderBook per market: the candle's volume is shared among the orders it trades
 * through by price, then time priority, so an order may fill in part (PARTIALLY_FILLED) over
 * several candles. Accounts are never matched against each other, as on Binance. Every amount
 * is in atoms; fees are charged in the quote asset.
 */
export class Orders {
  private nextOrderId = 1;
  private nextTradeId = 1;
  private readonly byId = new Map<number, PaperOrder>();
  /** Resting orders in time order, for look-ups and listings; priority is the books'. */
  private readonly resting = new Map<number, PaperOrder>();
  /** Per market: its resting orders in price-time priority, for sharing a candle's volume. */
  private readonly books = new Map<string, OrderBook>();
  /** The most recent order per (account, symbol, client id). */
  private readonly latestByClientId = new Map<string, PaperOrder>();
  private readonly ordersByAccount = new Map<string, PaperOrder[]>();
  private readonly tradesByAccount = new Map<string, PaperTrade[]>();

  constructor(private readonly deps: OrdersDeps) {}

  /** Checks filters, duplicates and funds in Binance's order, then fills, rests or expires the order. */
  place(account: Account, req: NewOrder): PaperOrder {
    const { market } = req;
    const latest = this.deps.candles.latest(market.id);
    const { quantity, price, reference, fillPrice } = this.checkFilters(req, latest);
    const orderId = this.nextOrderId;
    const clientOrderId = req.clientOrderId ?? `paper-${orderId}`;
    const clientKey = key(account.apiKey, market.id, clientOrderId);
    const previous = this.latestByClientId.get(clientKey);
    if (previous && isOpen(previous)) throw binanceErrors.duplicateOrder();

    const now = this.deps.now();
    const order: PaperOrder = {
      apiKey: account.apiKey,
      symbol: market.id,
      orderId,
      clientOrderId,
      side: req.side,
      type: req.type,
      timeInForce: req.type === 'LIMIT' ? req.timeInForce : 'GTC',
      price,
      origQty: quantity,
      origQuoteOrderQty: req.type === 'MARKET' ? (req.quoteOrderQty ?? 0n) : 0n,
      executedQty: 0n,
      cummulativeQuoteQty: 0n,
      status: 'NEW',
      time: now,
      updateTime: now,
      lockedAsset: req.side === 'BUY' ? market.quote : market.base,
      locked: 0n,
      fills: [],
    };

    if (req.type === 'MARKET') {
      const fill =
        fillPrice === undefined
          ? marketOrderFill(lower(req.side), quantity, reference, this.deps.costs)
          : fillAt(lower(req.side), quantity, fillPrice, this.deps.costs); // quoteOrderQty: never above what was asked
      this.requireFunds(account, order, fill);
      this.settle(account, market, order, fill);
    } else {
      // A buy reserves what a fill at the limit would cost, fee included; a fill is never worse.
      const reserve = limitOrderReserve(asLimit(order), this.deps.costs);
      account.requireFree(order.lockedAsset, reserve);
      // Marketable on arrival: it takes at the latest close, never beyond its limit.
      const immediate = latest && limitOrderFillAt(asLimit(order), latest.close, this.deps.costs);
      if (immediate) {
        this.settle(account, market, order, immediate);
      } else if (order.timeInForce !== 'GTC') {
        order.status = 'EXPIRED';
      } else {
        this.bookOf(market.id).place({ id: orderId, side: lower(req.side), type: 'limit', price, quantity });
        account.lock(order.lockedAsset, reserve);
        order.locked = reserve;
        this.resting.set(orderId, order);
      }
    }

    this.nextOrderId += 1;
    this.byId.set(orderId, order);
    this.latestByClientId.set(clientKey, order);
    listFor(this.ordersByAccount, account.apiKey).push(order);
    return order;
  }

  cancel(account: Account, market: Market, ref: OrderRef): PaperOrder {
    const order = this.find(account, market, ref);
    if (!order || !isOpen(order)) throw binanceErrors.unknownOrderSent();
    this.bookOf(market.id).cancel(order.orderId);
    account.unlock(order.lockedAsset, order.locked);
    order.locked = 0n;
    order.status = 'CANCELED';
    order.updateTime = this.deps.now();
    this.resting.delete(order.orderId);
    return order;
  }

  find(account: Account, market: Market, ref: OrderRef): PaperOrder | undefined {
    const order =
      ref.orderId !== undefined
        ? this.byId.get(ref.orderId)
        : ref.clientOrderId !== undefined
          ? this.latestByClientId.get(key(account.apiKey, market.id, ref.clientOrderId))
          : undefined;
    if (!order || order.apiKey !== account.apiKey || order.symbol !== market.id) return undefined;
    if (ref.clientOrderId !== undefined && order.clientOrderId !== ref.clientOrderId) return undefined;
    return order;
  }

  openOrders(apiKey: string, market?: Market): PaperOrder[] {
    return [...this.resting.values()].filter(
      (o) => o.apiKey === apiKey && (!market || o.symbol === market.id),
    );
  }

  orders(apiKey: string): readonly PaperOrder[] {
    return this.ordersByAccount.get(apiKey) ?? [];
  }

  trades(apiKey: string, market: Market): PaperTrade[] {
    return (this.tradesByAccount.get(apiKey) ?? []).filter((t) => t.symbol === market.id);
  }

  /**
   * Fills the resting orders this bar trades through, sharing its volume by price, then time
   * priority (trading-core's OrderBook.sweep); returns the orders that filled, whole or in part.
   */
  onCandle(market: Market, candle: Candle, accountOf: (apiKey: string) => Account): PaperOrder[] {
    const book = this.books.get(market.id);
    if (!book || book.size === 0) return [];
    const fills = book.sweep({
      open: toAtoms(candle.open),
      high: toAtoms(candle.high),
      low: toAtoms(candle.low),
      volume: toAtoms(candle.volume),
    });
    const touched = new Set<PaperOrder>();
    for (const fill of fills) {
      const order = this.resting.get(fill.orderId);
      if (!order)
        throw new Error(`paper exchange bug: the book filled order ${fill.orderId}, which does not rest`);
      this.settleResting(accountOf(order.apiKey), market, order, fill);
      touched.add(order);
    }
    return [...touched];
  }

  private bookOf(symbol: string): OrderBook {
    let book = this.books.get(symbol);
    if (!book) {
      // Resting-only: two accounts' crossing orders both rest, and only candles fill them.
      book = new OrderBook({ matching: false });
      this.books.set(symbol, book);
    }
    return book;
  }

  /**
   * Moves the money of one candle fill of a resting order, whole or in part. The order's fees
   * add up to the fee on its total notional (each trade pays the difference), so a fill in parts
   * never costs an atom more than one whole fill would, and a buy's spend never passes its
   * reserve. A buy keeps the rest of its reserve locked until it ends: what a better price
   * saved comes back when it fills or is cancelled.
   */
  private settleResting(account: Account, market: Market, order: PaperOrder, fill: BarFill): void {
    const notional = notionalOf(fill.quantity, fill.price);
    const before = order.cummulativeQuoteQty;
    const fee = feeOn(before + notional, this.deps.costs) - feeOn(before, this.deps.costs);
    if (order.side === 'BUY') {
      const spent = notional + fee;
      account.debitLocked(market.quote, spent);
      order.locked -= spent;
      account.credit(market.base, fill.quantity);
    } else {
      account.debitLocked(market.base, fill.quantity);
      order.locked -= fill.quantity;
      account.credit(market.quote, notional - fee);
    }
    const trade = this.record(account, market, order, fill.quantity, fill.price, notional, fee, true);
    order.executedQty += fill.quantity;
    order.cummulativeQuoteQty += notional;
    order.updateTime = trade.time;
    if (fill.resting > 0n) {
      order.status = 'PARTIALLY_FILLED';
      return;
    }
    order.status = 'FILLED';
    account.unlock(order.lockedAsset, order.locked);
    order.locked = 0n;
    this.resting.delete(order.orderId);
  }

  private record(
    account: Account,
    market: Market,
    order: PaperOrder,
    qty: bigint,
    price: bigint,
    notional: bigint,
    fee: bigint,
    isMaker: boolean,
  ): PaperTrade {
    const trade: PaperTrade = {
      id: this.nextTradeId++,
      orderId: order.orderId,
      symbol: market.id,
      price,
      qty,
      quoteQty: notional,
      commission: fee,
      commissionAsset: market.quote,
      time: this.deps.now(),
      isBuyer: order.side === 'BUY',
      isMaker,
    };
    order.fills.push(trade);
    listFor(this.tradesByAccount, account.apiKey).push(trade);
    return trade;
  }

  /**
   * The order's quantity and limit on the filters' grids, and for a market order its reference
   * close; for a quoteOrderQty order also its exact fill price.
   */
  private checkFilters(
    req: NewOrder,
    latest: Candle | undefined,
  ): { quantity: bigint; price: bigint; reference: number; fillPrice?: bigint } {
    const { market } = req;
    if (req.type === 'LIMIT') {
      const { price, quantity } = req;
      checkPrice(market, price);
      checkQuantity(market, quantity);
      checkNotional(market, price, quantity);
      return { quantity, price, reference: 0 };
    }
    if (!latest) throw binanceErrors.noPrice(market.id);
    if (req.quantity !== undefined) {
      checkQuantity(market, req.quantity);
      checkNotional(market, toAtoms(latest.close), req.quantity);
      return { quantity: req.quantity, price: 0n, reference: latest.close };
    }
    // quoteOrderQty, as on Binance: the most base on the LOT_SIZE grid that quote pays for (a
    // buy) or brings in (a sell) at the fill price, so cummulativeQuoteQty <= quoteOrderQty.
    // The fill price is on the atom grid against the taker and the notional (quantity x price)
    // is rounded down, so it can never pass quoteOrderQty. The fee comes on top.
    const fillPrice = marketPrice(lower(req.side), latest.close, this.deps.costs);
    const quantity = quantityForQuote(req.quoteOrderQty, fillPrice, market.stepSize, market.minQty);
    checkQuantity(market, quantity);
    checkNotional(market, toAtoms(latest.close), quantity);
    return { quantity, price: 0n, reference: latest.close, fillPrice };
  }

  private requireFunds(account: Account, order: PaperOrder, fill: MatchedFill): void {
    account.requireFree(order.lockedAsset, order.side === 'BUY' ? quoteCost(fill) : order.origQty);
  }

  /** Moves the money of a taker's whole fill (market, or marketable on arrival), from free. */
  private settle(account: Account, market: Market, order: PaperOrder, fill: MatchedFill): void {
    const { notional, fee } = fill;
    if (order.side === 'BUY') {
      account.debitFree(market.quote, notional + fee);
      account.credit(market.base, order.origQty);
    } else {
      account.debitFree(market.base, order.origQty);
      account.credit(market.quote, notional - fee);
    }
    const trade = this.record(account, market, order, order.origQty, fill.price, notional, fee, false);
    order.executedQty = order.origQty;
    order.cummulativeQuoteQty = notional;
    order.status = 'FILLED';
    order.updateTime = trade.time;
  }
}

function key(apiKey: string, symbol: string, clientOrderId: string): string {
  return `${apiKey}\u0000${symbol}\u0000${clientOrderId}`;
}

function listFor<T>(map: Map<string, T[]>, k: string): T[] {
  let list = map.get(k);
  if (!list) {
    list = [];
    map.set(k, list);
  }
  return list;
}
