/**
 * The naive book the order-book suite compares with: what one writes first. Each side is one
 * array of orders sorted by price priority and arrival, in bigint atoms as the API gives them;
 * an insert scans for its place and splices, a cancel scans for the id and splices, a taker
 * shifts filled makers off the front. Same rules and results as trading-core's OrderBook for
 * limit (GTC, IOC), market, cancel and replace, which the suite checks on every run.
 */
import type { BookOrder, BookReplace, BookResult, BookTrade, RemovalReason } from '@appliance/trading-core';

interface NaiveOrder {
  id: number;
  isBuy: boolean;
  price: bigint;
  leaves: bigint;
  filled: bigint;
}

const res = (
  orderId: number,
  trades: BookTrade[],
  resting: bigint,
  removed: bigint,
  reason: RemovalReason | null,
  priority: 'kept' | 'lost' | null = null,
): BookResult => ({ orderId, trades, resting, removed, reason, priority });

export class NaiveBook {
  private readonly bids: NaiveOrder[] = [];
  private readonly asks: NaiveOrder[] = [];

  get size(): number {
    return this.bids.length + this.asks.length;
  }

  place(o: BookOrder): BookResult {
    const isBuy = o.side === 'buy';
    if (o.type === 'market') {
      const { trades, left } = this.take(o.id, isBuy, null, o.quantity);
      return res(o.id, trades, 0n, left, left > 0n ? 'market' : null);
    }
    if (o.timeInForce === 'FOK' || o.postOnly) throw new Error('the naive book has no FOK or post-only');
    const { trades, left } = this.take(o.id, isBuy, o.price, o.quantity);
    if (left === 0n) return res(o.id, trades, 0n, 0n, null);
    if ((o.timeInForce ?? 'GTC') !== 'GTC') return res(o.id, trades, 0n, left, 'ioc');
    this.insert({ id: o.id, isBuy, price: o.price, leaves: left, filled: o.quantity - left });
    return res(o.id, trades, left, 0n, null);
  }

  cancel(id: number): BookResult {
    const o = this.remove(id);
    return res(id, [], 0n, o.leaves, 'cancelled');
  }

  replace(id: number, change: BookReplace): BookResult {
    const o = this.find(id);
    const price = change.price ?? o.price;
    const total = change.quantity ?? o.filled + o.leaves;
    const old = o.leaves;
    if (total <= o.filled) {
      this.remove(id);
      return res(id, [], 0n, old, 'replaced-to-filled', 'lost');
    }
    const leaves = total - o.filled;
    const cut = old > leaves ? old - leaves : 0n;
    const reason = cut > 0n ? 'replaced' : null;
    if (price === o.price && leaves <= old) {
      o.leaves = leaves;
      return res(id, [], leaves, cut, reason, 'kept');
    }
    this.remove(id);
    const { trades, left } = this.take(id, o.isBuy, price, leaves);
    if (left > 0n) this.insert({ ...o, price, leaves: left, filled: o.filled + leaves - left });
    return res(id, trades, left, cut, reason, 'lost');
  }

  private find(id: number): NaiveOrder {
    const o = this.bids.find((x) => x.id === id) ?? this.asks.find((x) => x.id === id);
    if (!o) throw new Error(`no order ${id} is resting`);
    return o;
  }

  private remove(id: number): NaiveOrder {
    for (const list of [this.bids, this.asks]) {
      const i = list.findIndex((x) => x.id === id);
      if (i >= 0) return list.splice(i, 1)[0]!;
    }
    throw new Error(`no order ${id} is resting`);
  }

  /** After every order of a better or equal price: it has the last time priority at its price. */
  private insert(o: NaiveOrder): void {
    const list = o.isBuy ? this.bids : this.asks;
    const i = list.findIndex((x) => (o.isBuy ? x.price < o.price : x.price > o.price));
    list.splice(i < 0 ? list.length : i, 0, o);
  }

  private take(id: number, isBuy: boolean, limit: bigint | null, quantity: bigint) {
    const other = isBuy ? this.asks : this.bids;
    const trades: BookTrade[] = [];
    const side = isBuy ? 'buy' : 'sell';
    let left = quantity;
    while (left > 0n && other.length > 0) {
      const maker = other[0]!;
      if (limit !== null && (isBuy ? maker.price > limit : maker.price < limit)) break;
      const q = maker.leaves < left ? maker.leaves : left;
      trades.push({ makerId: maker.id, takerId: id, side, price: maker.price, quantity: q });
      maker.leaves -= q;
      maker.filled += q;
      left -= q;
      if (maker.leaves === 0n) other.shift();
    }
    return { trades, left };
  }
}
