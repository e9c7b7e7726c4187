import type { OrderSide } from '../fill-model.js';
import { badOrder, checkOrderId, safeAtoms } from './book-input.js';
import type {
  BarFill,
  BookOrder,
  BookReplace,
  BookResult,
  BookTrade,
  RemovalReason,
  RestingOrder,
  SweepBar,
} from './book-types.js';
import { OrderBookError } from './order-book-error.js';
import { BookSide, type BookNode, type Level } from './price-levels.js';

export interface OrderBookOptions {
  /**
   * true (default): an arriving order first takes from the other side, so the book is never
   * crossed. false: resting-only, as the paper exchange uses it: every limit order rests where
   * it is, crossed or not, and only bars (sweep) fill orders, because accounts are never matched
   * against each other; market, IOC and FOK orders are then refused (E_NOT_MATCHING).
   */
  matching?: boolean;
}

const NO_TRADES: readonly BookTrade[] = Object.freeze([]);
/** Spare nodes kept for reuse at most; a book that shrinks gives the rest back to the GC. */
const MAX_SPARE_NODES = 4_096;

function result(
  orderId: number,
  trades: readonly BookTrade[],
  resting: number,
  removed: number,
  reason: RemovalReason | null,
  priority: 'kept' | 'lost' | null = null,
): BookResult {
  return {
    orderId,
    trades,
    resting: resting === 0 ? 0n : BigInt(resting),
    removed: removed === 0 ? 0n : BigInt(removed),
    reason,
    priority,
  };
}

function restingOrder(node: BookNode): RestingOrder {
  return {
    id: node.id,
    side: node.isBuy ? 'buy' : 'sell',
    price: BigInt(node.price),
    quantity: BigInt(node.leaves),
    filled: BigInt(node.filled),
    postOnly: node.postOnly,
  };
}

/**
 * A price-time priority limit order book for one market. Pure: no clock, time priority is the
 * order of calls. Every call either throws an OrderBookError having changed nothing, or returns
 * what it did (trades, what rests, what was removed and why).
 *
 * Rules:
 * - a trade is at the resting (maker) order's price; the taker goes through the levels best
 *   first and each level oldest first;
 * - market: takes up to its quantity at any price; what the book cannot fill is removed (`market`);
 * - limit GTC: takes what crosses its limit, rests the rest;
 * - IOC: takes what crosses, removes the rest (`ioc`); FOK: fills whole or removes all without
 *   trading (`fok`);
 * - post-only (GTC only): refused whole (`post-only`) when it would take on arrival; it is never
 *   repriced to rest one tick away;
 * - replace (cancel/replace): the quantity is the new total, filled part included. A lower
 *   quantity at the same price keeps the order's place in its queue; a new price or a higher
 *   quantity loses it (the order goes to the back of its new level, and at a crossing price it
 *   takes first, or is removed if post-only). A total at or below what has filled ends the order
 *   (`replaced-to-filled`).
 *
 * Inside, prices and quantities are numbers of atoms (see price-levels.ts); the API speaks
 * bigint atoms and refuses amounts above Number.MAX_SAFE_INTEGER atoms (E_TOO_LARGE).
 */
export class OrderBook {
  readonly matching: boolean;
  private readonly bids = new BookSide(true);
  private readonly asks = new BookSide(false);
  private readonly byId = new Map<number, BookNode>();
  /**
   * Nodes of orders that left the book, reused for new ones: a churning book then allocates
   * almost nothing per order, and the garbage collector (a sixth of the time without this) has
   * less to do.
   */
  private readonly spare: BookNode[] = [];
  /** The trades of the last take(), so the hot path returns one number and allocates no pair. */
  private taken: readonly BookTrade[] = NO_TRADES;

  constructor(options: OrderBookOptions = {}) {
    this.matching = options.matching ?? true;
  }

  /** How many orders rest. */
  get size(): number {
    return this.byId.size;
  }

  place(order: BookOrder): BookResult {
    if (order === null || typeof order !== 'object') throw badOrder('an order must be an object');
    const id = checkOrderId(order.id);
    const side: unknown = order.side;
    if (side !== 'buy' && side !== 'sell') throw badOrder(`side must be buy or sell, got ${String(side)}`);
    const isBuy = side === 'buy';
    const quantity = safeAtoms(order.quantity, 'quantity');
    if (this.byId.has(id)) throw new OrderBookError('E_DUPLICATE_ORDER_ID', `order ${id} is already resting`);

    if (order.type === 'market') {
      if (!this.matching) throw notMatching('market');
      const left = this.take(id, isBuy, isBuy ? Infinity : 0, quantity);
      return result(id, this.taken, 0, left, left > 0 ? 'market' : null);
    }
    const type: unknown = order.type;
    if (type !== 'limit') throw badOrder(`type must be limit or market, got ${String(type)}`);
    const price = safeAtoms(order.price, 'price');
    const tif: unknown = order.timeInForce ?? 'GTC';
    if (tif !== 'GTC' && tif !== 'IOC' && tif !== 'FOK') {
      throw badOrder(`timeInForce must be GTC, IOC or FOK, got ${String(tif)}`);
    }
    const postOnly: unknown = order.postOnly ?? false;
    if (typeof postOnly !== 'boolean') throw badOrder('postOnly must be true or false');
    if (postOnly && tif !== 'GTC') throw badOrder(`a post-only order must be GTC, got ${tif}`);

    if (!this.matching) {
      if (tif !== 'GTC') throw notMatching(tif);
      this.rest(id, isBuy, price, quantity, 0, postOnly);
      return result(id, NO_TRADES, quantity, 0, null);
    }
    if (postOnly && this.crosses(isBuy, price)) return result(id, NO_TRADES, 0, quantity, 'post-only');
    if (tif === 'FOK' && !this.canFill(isBuy, price, quantity)) {
      return result(id, NO_TRADES, 0, quantity, 'fok');
    }
    const left = this.take(id, isBuy, price, quantity);
    if (left === 0) return result(id, this.taken, 0, 0, null);
    if (tif === 'GTC') {
      this.rest(id, isBuy, price, left, quantity - left, postOnly);
      return result(id, this.taken, left, 0, null);
    }
    return result(id, this.taken, 0, left, 'ioc');
  }

  /** Takes a resting order out of the book: `removed` is exactly what rested. */
  cancel(id: number): BookResult {
    const node = this.resting(id);
    this.unrest(node);
    return result(id, NO_TRADES, 0, node.leaves, 'cancelled');
  }

  replace(id: number, change: BookReplace): BookResult {
    const node = this.resting(id);
    if (change === null || typeof change !== 'object') throw badOrder('a replace must be an object');
    const price = change.price === undefined ? node.price : safeAtoms(change.price, 'price');
    const total =
      change.quantity === undefined ? node.filled + node.leaves : safeAtoms(change.quantity, 'quantity');
    const old = node.leaves;
    if (total <= node.filled) {
      this.unrest(node);
      return result(id, NO_TRADES, 0, old, 'replaced-to-filled', 'lost');
    }
    const leaves = total - node.filled;
    const cut = old > leaves ? old - leaves : 0;
    const cutReason = cut > 0 ? 'replaced' : null;
    if (price === node.price && leaves <= old) {
      node.leaves = leaves;
      return result(id, NO_TRADES, leaves, cut, cutReason, 'kept');
    }
    const side = node.isBuy ? this.bids : this.asks;
    side.remove(node);
    node.price = price;
    if (!this.matching || !this.crosses(node.isBuy, price)) {
      node.leaves = leaves;
      side.append(node);
      return result(id, NO_TRADES, leaves, cut, cutReason, 'lost');
    }
    if (node.postOnly) {
      // Everything that rested, and any increase, leaves without a fill.
      this.byId.delete(id);
      return result(id, NO_TRADES, 0, old > leaves ? old : leaves, 'post-only', 'lost');
    }
    const left = this.take(id, node.isBuy, price, leaves);
    node.filled += leaves - left;
    if (left === 0) {
      this.byId.delete(id);
      return result(id, this.taken, 0, cut, cutReason, 'lost');
    }
    node.leaves = left;
    side.append(node);
    return result(id, this.taken, left, cut, cutReason, 'lost');
  }

  /**
   * Fills the resting orders a bar traded through, for the paper exchange: buys at or above its
   * low, sells at or below its high, each side best price first and oldest first within a price.
   * Each side shares at most the bar's volume (every traded unit had one buyer and one seller),
   * so orders behind in priority fill in part or not at all; a part-filled order keeps its place
   * with what is left. The price is the order's limit, or the open when the bar gapped through
   * it (never worse than the limit), as limitOrderFill prices a whole fill.
   */
  sweep(bar: SweepBar): BarFill[] {
    if (bar === null || typeof bar !== 'object') throw badBar('a bar must be an object');
    const open = barPrice(bar.open, 'open');
    const high = barPrice(bar.high, 'high');
    const low = barPrice(bar.low, 'low');
    if (typeof bar.volume !== 'bigint' || bar.volume < 0n)
      throw badBar('volume must be a bigint of atoms >= 0');
    if (low > open || open > high)
      throw badBar(`need low <= open <= high, got ${low}, ${open}, ${high} atoms`);
    const fills: BarFill[] = [];
    this.sweepSide(this.bids, low, open, bar.volume, fills);
    this.sweepSide(this.asks, high, open, bar.volume, fills);
    return fills;
  }

  order(id: number): RestingOrder | undefined {
    const node = this.byId.get(id);
    return node === undefined ? undefined : restingOrder(node);
  }

  /** One side's resting orders in priority order: best price first, oldest first within a price. */
  orders(side: OrderSide): RestingOrder[] {
    const book = side === 'buy' ? this.bids : this.asks;
    const out: RestingOrder[] = [];
    for (let rank = 0; rank < book.levelCount; rank++) {
      for (let node = book.levelAt(rank)!.head; node !== null; node = node.next) out.push(restingOrder(node));
    }
    return out;
  }

  bestBid(): bigint | undefined {
    const level = this.bids.best();
    return level === undefined ? undefined : BigInt(level.price);
  }

  bestAsk(): bigint | undefined {
    const level = this.asks.best();
    return level === undefined ? undefined : BigInt(level.price);
  }

  private resting(id: number): BookNode {
    const node = this.byId.get(checkOrderId(id));
    if (node === undefined) throw new OrderBookError('E_UNKNOWN_ORDER', `no order ${id} is resting`);
    return node;
  }

  private rest(id: number, isBuy: boolean, price: number, leaves: number, filled: number, postOnly: boolean) {
    let node = this.spare.pop();
    if (node === undefined) {
      node = { id, isBuy, price, leaves, filled, postOnly, level: PLACEHOLDER_LEVEL, prev: null, next: null };
    } else {
      node.id = id;
      node.isBuy = isBuy;
      node.price = price;
      node.leaves = leaves;
      node.filled = filled;
      node.postOnly = postOnly;
    }
    (isBuy ? this.bids : this.asks).append(node);
    this.byId.set(id, node);
  }

  /** Takes a node out of the book; it is reused by a later rest(), so read it before that. */
  private unrest(node: BookNode): void {
    (node.isBuy ? this.bids : this.asks).remove(node);
    this.byId.delete(node.id);
    if (this.spare.length < MAX_SPARE_NODES) this.spare.push(node);
  }

  /** Whether an order at `price` would take from the other side on arrival. */
  private crosses(isBuy: boolean, price: number): boolean {
    const best = (isBuy ? this.asks : this.bids).best();
    return best !== undefined && (isBuy ? best.price <= price : best.price >= price);
  }

  /** Whether the other side holds at least `quantity` at prices crossing `limit`. */
  private canFill(isBuy: boolean, limit: number, quantity: number): boolean {
    const book = isBuy ? this.asks : this.bids;
    // Counting down stays exact: it starts at a safe integer and stops at the first step <= 0.
    let need = quantity;
    for (let rank = 0; rank < book.levelCount; rank++) {
      const level = book.levelAt(rank)!;
      if (isBuy ? level.price > limit : level.price < limit) return false;
      for (let node = level.head; node !== null; node = node.next) {
        need -= node.leaves;
        if (need <= 0) return true;
      }
    }
    return false;
  }

  /** Matches a taker against the other side up to `limit`; returns what is left of `quantity`. */
  private take(takerId: number, isBuy: boolean, limit: number, quantity: number): number {
    const book = isBuy ? this.asks : this.bids;
    const side: OrderSide = isBuy ? 'buy' : 'sell';
    let trades: BookTrade[] | null = null;
    let left = quantity;
    while (left > 0) {
      const level: Level | undefined = book.best();
      if (level === undefined) break;
      const p = level.price;
      if (isBuy ? p > limit : p < limit) break;
      const price = BigInt(p);
      let node = level.head;
      // When the last maker of a level fills, the level is dropped and node becomes null.
      while (node !== null && left > 0) {
        const q = node.leaves < left ? node.leaves : left;
        (trades ??= []).push({ makerId: node.id, takerId, side, price, quantity: BigInt(q) });
        left -= q;
        node.leaves -= q;
        node.filled += q;
        const next = node.next;
        if (node.leaves === 0) this.unrest(node);
        node = next;
      }
    }
    this.taken = trades ?? NO_TRADES;
    return left;
  }

  private sweepSide(book: BookSide, through: number, open: number, volume: bigint, fills: BarFill[]): void {
    const isBuy = book.isBid;
    const side: OrderSide = isBuy ? 'buy' : 'sell';
    let budget = volume;
    while (budget > 0n) {
      const level = book.best();
      if (level === undefined) return;
      const limit = level.price;
      if (isBuy ? limit < through : limit > through) return;
      const price = BigInt(isBuy ? Math.min(limit, open) : Math.max(limit, open));
      // Either the budget runs out inside this level, or every order in it fills and it is dropped.
      let node = level.head;
      while (node !== null && budget > 0n) {
        const q = BigInt(node.leaves) <= budget ? node.leaves : Number(budget);
        budget -= BigInt(q);
        node.leaves -= q;
        node.filled += q;
        fills.push({ orderId: node.id, side, price, quantity: BigInt(q), resting: BigInt(node.leaves) });
        const next = node.next;
        if (node.leaves === 0) this.unrest(node);
        node = next;
      }
    }
  }
}

/** A node's level before append() sets it; never read. */
const PLACEHOLDER_LEVEL: Level = Object.freeze({ price: 0, head: null, tail: null }) as Level;

function notMatching(what: string): OrderBookError {
  return new OrderBookError(
    'E_NOT_MATCHING',
    `this book never matches (resting-only), so it takes no ${what} order: only limit GTC orders rest in it`,
  );
}

function badBar(message: string): OrderBookError {
  return new OrderBookError('E_BAD_BAR', message);
}

function barPrice(value: unknown, name: string): number {
  if (typeof value !== 'bigint' || value <= 0n) throw badBar(`${name} must be a bigint of atoms > 0`);
  return safeAtoms(value, 'price');
}
