import fc from 'fast-check';
import t from 'tap';
import {
  OrderBook,
  OrderBookError,
  type BarFill,
  type BookOrder,
  type BookResult,
  type BookTrade,
  type RemovalReason,
  type RestingOrder,
  type SweepBar,
} from '../src/index.js';

/**
 * The obviously correct reference: each side one array kept sorted by price priority and then
 * arrival (a counter), searched linearly and spliced. Slow and plain, so the fast book's
 * levels, linked lists and number arithmetic are checked against something with none of them.
 */
interface RefOrder {
  id: number;
  side: 'buy' | 'sell';
  price: bigint;
  quantity: bigint;
  filled: bigint;
  postOnly: boolean;
  seq: number;
}

class ReferenceBook {
  constructor(private readonly matching = true) {}
  private readonly bids: RefOrder[] = [];
  private readonly asks: RefOrder[] = [];
  private seq = 0;

  private sideOf(side: 'buy' | 'sell') {
    return side === 'buy' ? this.bids : this.asks;
  }

  private ahead(a: RefOrder, b: RefOrder): boolean {
    if (a.price !== b.price) return a.side === 'buy' ? a.price > b.price : a.price < b.price;
    return a.seq < b.seq;
  }

  private insert(o: RefOrder): void {
    o.seq = this.seq++;
    const list = this.sideOf(o.side);
    let i = 0;
    while (i < list.length && this.ahead(list[i]!, o)) i++;
    list.splice(i, 0, o);
  }

  private find(id: number): RefOrder {
    const o = [...this.bids, ...this.asks].find((x) => x.id === id);
    if (!o) throw new OrderBookError('E_UNKNOWN_ORDER', `no order ${id} is resting`);
    return o;
  }

  private drop(o: RefOrder): void {
    const list = this.sideOf(o.side);
    list.splice(list.indexOf(o), 1);
  }

  private crosses(side: 'buy' | 'sell', limit: bigint): boolean {
    const best = (side === 'buy' ? this.asks : this.bids)[0];
    return best !== undefined && (side === 'buy' ? best.price <= limit : best.price >= limit);
  }

  private take(id: number, side: 'buy' | 'sell', limit: bigint | null, quantity: bigint) {
    const other = side === 'buy' ? this.asks : this.bids;
    const trades: BookTrade[] = [];
    let left = quantity;
    while (left > 0n && other.length > 0) {
      const maker = other[0]!;
      if (limit !== null && (side === 'buy' ? maker.price > limit : maker.price < limit)) break;
      const q = maker.quantity < left ? maker.quantity : left;
      trades.push({ makerId: maker.id, takerId: id, side, price: maker.price, quantity: q });
      maker.quantity -= q;
      maker.filled += q;
      left -= q;
      if (maker.quantity === 0n) other.shift();
    }
    return { trades, left };
  }

  private res(
    orderId: number,
    trades: BookTrade[],
    resting: bigint,
    removed: bigint,
    reason: RemovalReason | null,
    priority: 'kept' | 'lost' | null = null,
  ): BookResult {
    return { orderId, trades, resting, removed, reason, priority };
  }

  place(o: BookOrder): BookResult {
    if (!this.matching) {
      if (o.type === 'market' || (o.timeInForce ?? 'GTC') !== 'GTC')
        throw new OrderBookError('E_NOT_MATCHING');
      const { id, side, price, quantity } = o;
      this.insert({ id, side, price, quantity, filled: 0n, postOnly: o.postOnly ?? false, seq: 0 });
      return this.res(id, [], quantity, 0n, null);
    }
    if (o.type === 'market') {
      const { trades, left } = this.take(o.id, o.side, null, o.quantity);
      return this.res(o.id, trades, 0n, left, left > 0n ? 'market' : null);
    }
    const tif = o.timeInForce ?? 'GTC';
    if (o.postOnly && this.crosses(o.side, o.price)) return this.res(o.id, [], 0n, o.quantity, 'post-only');
    if (tif === 'FOK') {
      const other = o.side === 'buy' ? this.asks : this.bids;
      const available = other
        .filter((m) => (o.side === 'buy' ? m.price <= o.price : m.price >= o.price))
        .reduce((s, m) => s + m.quantity, 0n);
      if (available < o.quantity) return this.res(o.id, [], 0n, o.quantity, 'fok');
    }
    const { trades, left } = this.take(o.id, o.side, o.price, o.quantity);
    if (left === 0n) return this.res(o.id, trades, 0n, 0n, null);
    if (tif !== 'GTC') return this.res(o.id, trades, 0n, left, 'ioc');
    this.insert({
      id: o.id,
      side: o.side,
      price: o.price,
      quantity: left,
      filled: o.quantity - left,
      postOnly: o.postOnly ?? false,
      seq: 0,
    });
    return this.res(o.id, trades, left, 0n, null);
  }

  cancel(id: number): BookResult {
    const o = this.find(id);
    this.drop(o);
    return this.res(id, [], 0n, o.quantity, 'cancelled');
  }

  replace(id: number, change: { price?: bigint; quantity?: bigint }): BookResult {
    const o = this.find(id);
    const price = change.price ?? o.price;
    const total = change.quantity ?? o.filled + o.quantity;
    const old = o.quantity;
    if (total <= o.filled) {
      this.drop(o);
      return this.res(id, [], 0n, old, 'replaced-to-filled', 'lost');
    }
    const leaves = total - o.filled;
    const cut = old > leaves ? old - leaves : 0n;
    const reason = cut > 0n ? 'replaced' : null;
    if (price === o.price && leaves <= old) {
      o.quantity = leaves;
      return this.res(id, [], leaves, cut, reason, 'kept');
    }
    this.drop(o);
    if (this.matching && this.crosses(o.side, price) && o.postOnly) {
      return this.res(id, [], 0n, old > leaves ? old : leaves, 'post-only', 'lost');
    }
    const { trades, left } = this.matching
      ? this.take(id, o.side, price, leaves)
      : { trades: [], left: leaves };
    if (left > 0n) this.insert({ ...o, price, quantity: left, filled: o.filled + leaves - left });
    return this.res(id, trades, left, cut, reason, 'lost');
  }

  sweep(bar: SweepBar): BarFill[] {
    const fills: BarFill[] = [];
    for (const side of ['buy', 'sell'] as const) {
      const list = this.sideOf(side);
      let budget = bar.volume;
      while (budget > 0n && list.length > 0) {
        const o = list[0]!;
        if (side === 'buy' ? o.price < bar.low : o.price > bar.high) break;
        const price =
          side === 'buy'
            ? bar.open < o.price
              ? bar.open
              : o.price
            : bar.open > o.price
              ? bar.open
              : o.price;
        const q = o.quantity <= budget ? o.quantity : budget;
        budget -= q;
        o.quantity -= q;
        o.filled += q;
        fills.push({ orderId: o.id, side, price, quantity: q, resting: o.quantity });
        if (o.quantity === 0n) list.shift();
      }
    }
    return fills;
  }

  orders(side: 'buy' | 'sell'): RestingOrder[] {
    return this.sideOf(side).map((o) => ({
      id: o.id,
      side: o.side,
      price: o.price,
      quantity: o.quantity,
      filled: o.filled,
      postOnly: o.postOnly,
    }));
  }
}

type Op =
  | {
      kind: 'limit';
      side: 'buy' | 'sell';
      price: bigint;
      quantity: bigint;
      tif: 'GTC' | 'IOC' | 'FOK';
      postOnly: boolean;
    }
  | { kind: 'market'; side: 'buy' | 'sell'; quantity: bigint }
  | { kind: 'cancel'; pick: number }
  | { kind: 'replace'; pick: number; price: bigint | undefined; quantity: bigint | undefined }
  | { kind: 'sweep'; prices: [bigint, bigint, bigint]; volume: bigint };

// A narrow price range and small sizes, so orders cross, queue at shared levels and fill in part.
const side = fc.constantFrom('buy' as const, 'sell' as const);
const price = fc.integer({ min: 95, max: 105 }).map(BigInt);
const quantity = fc.integer({ min: 1, max: 12 }).map(BigInt);
const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .record({
        side,
        price,
        quantity,
        tif: fc.constantFrom('GTC' as const, 'GTC' as const, 'IOC' as const, 'FOK' as const),
        postOnly: fc.boolean(),
      })
      .map((o) => ({ kind: 'limit' as const, ...o, postOnly: o.postOnly && o.tif === 'GTC' })),
  },
  { weight: 1, arbitrary: fc.record({ side, quantity }).map((o) => ({ kind: 'market' as const, ...o })) },
  { weight: 2, arbitrary: fc.nat(1000).map((pick) => ({ kind: 'cancel' as const, pick })) },
  {
    weight: 2,
    arbitrary: fc
      .record({
        pick: fc.nat(1000),
        price: fc.option(price, { nil: undefined }),
        quantity: fc.option(quantity, { nil: undefined }),
      })
      .map((o) => ({ kind: 'replace' as const, ...o })),
  },
  {
    weight: 1,
    arbitrary: fc
      .record({ prices: fc.tuple(price, price, price), volume: fc.integer({ min: 0, max: 30 }).map(BigInt) })
      .map((o) => ({ kind: 'sweep' as const, ...o })),
  },
);

interface Book {
  place(o: BookOrder): BookResult;
  cancel(id: number): BookResult;
  replace(id: number, change: { price?: bigint; quantity?: bigint }): BookResult;
  sweep(bar: SweepBar): BarFill[];
  orders(side: 'buy' | 'sell'): RestingOrder[];
}

/** Applies an op; ids come from a counter, cancel and replace pick one of the ids used so far. */
function apply(book: Book, o: Op, ids: number[], nextId: number): BookResult | BarFill[] | { error: string } {
  try {
    switch (o.kind) {
      case 'limit':
        return book.place({
          id: nextId,
          side: o.side,
          type: 'limit',
          price: o.price,
          quantity: o.quantity,
          timeInForce: o.tif,
          postOnly: o.postOnly,
        });
      case 'market':
        return book.place({ id: nextId, side: o.side, type: 'market', quantity: o.quantity });
      case 'cancel':
        return book.cancel(ids[o.pick % ids.length] ?? 999_999);
      case 'replace':
        return book.replace(ids[o.pick % ids.length] ?? 999_999, { price: o.price, quantity: o.quantity });
      case 'sweep': {
        const [low, open, high] = [...o.prices].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)) as [
          bigint,
          bigint,
          bigint,
        ];
        return book.sweep({ open, high, low, volume: o.volume });
      }
    }
  } catch (err) {
    if (err instanceof OrderBookError) return { error: err.code };
    throw err;
  }
}

const ops = fc.array(op, { minLength: 1, maxLength: 150, size: 'max' });
const sum = (xs: readonly { quantity: bigint }[]) => xs.reduce((s, x) => s + x.quantity, 0n);

for (const matching of [true, false]) {
  t.test(
    `model (${matching ? 'matching' : 'resting-only'}): the book does exactly what the sorted-array reference does, call by call`,
    async (t) => {
      fc.assert(
        fc.property(ops, (sequence) => {
          const fast = new OrderBook({ matching });
          const ref = new ReferenceBook(matching);
          const ids: number[] = [];
          let nextId = 1;
          for (const [step, o] of sequence.entries()) {
            const a = apply(fast, o, ids, nextId);
            const b = apply(ref, o, ids, nextId);
            if ((o.kind === 'limit' || o.kind === 'market') && !('error' in a)) ids.push(nextId++);
            const got = JSON.stringify([a, fast.orders('buy'), fast.orders('sell')], big);
            const want = JSON.stringify([b, ref.orders('buy'), ref.orders('sell')], big);
            if (got !== want)
              throw new Error(`step ${step} ${JSON.stringify(o, big)}:\n got  ${got}\n want ${want}`);
          }
        }),
        { numRuns: 500, seed: matching ? 20261203 : 20261204 },
      );
      t.pass('the same trades, removals and books after every call');
    },
  );
}

function big(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? `${value}n` : value;
}

/** Runs a sequence on a matching book and checks the invariants after every call. */
function checkInvariants(sequence: Op[], book: OrderBook = new OrderBook()): string | null {
  const ids: number[] = [];
  let nextId = 1;
  let placed = 0n;
  let traded = 0n; // each trade fills its quantity twice: the taker and the maker
  let swept = 0n;
  let removed = 0n;
  for (const o of sequence) {
    const bids = book.orders('buy');
    const asks = book.orders('sell');
    const target = o.kind === 'cancel' || o.kind === 'replace' ? ids[o.pick % ids.length] : undefined;
    const before = target === undefined ? undefined : book.order(target);
    const r = apply(book, o, ids, nextId);
    if (o.kind === 'limit' || o.kind === 'market') ids.push(nextId++);
    if ('error' in r) {
      if (r.error !== 'E_UNKNOWN_ORDER' || before !== undefined) return `unexpected ${r.error}`;
      if (
        JSON.stringify([book.orders('buy'), book.orders('sell')], big) !== JSON.stringify([bids, asks], big)
      )
        return 'a refused call changed the book';
      continue;
    }
    if (Array.isArray(r)) {
      // A sweep fills a prefix of each side's priority order: price, then time.
      for (const s of ['buy', 'sell'] as const) {
        const fills = r.filter((f) => f.side === s);
        const queue = s === 'buy' ? bids : asks;
        for (const [i, f] of fills.entries()) {
          if (queue[i]?.id !== f.orderId) return `sweep skipped priority at ${i}`;
          if (i < fills.length - 1 && f.quantity !== queue[i]!.quantity)
            return 'sweep part-filled ahead of another';
        }
        swept += sum(fills);
      }
    } else {
      const { trades } = r;
      // Makers are a prefix of the other side's priority order, each whole but the last.
      const takerSide = o.kind === 'limit' || o.kind === 'market' ? o.side : before?.side;
      const queue = takerSide === 'buy' ? asks : bids;
      for (const [i, x] of trades.entries()) {
        if (queue[i]?.id !== x.makerId) return `trade ${i} skipped price-time priority`;
        if (x.price !== queue[i]!.price) return 'a trade not at the maker price';
        if (i < trades.length - 1 && x.quantity !== queue[i]!.quantity)
          return 'a maker part-filled ahead of another';
      }
      traded += 2n * sum(trades);
      removed += r.removed;
      if (o.kind === 'limit' || o.kind === 'market') placed += o.quantity;
      if (o.kind === 'limit' && o.postOnly && trades.length > 0) return 'a post-only order took';
      if (
        o.kind === 'limit' &&
        o.tif === 'FOK' &&
        !(sum(trades) === o.quantity || (trades.length === 0 && r.removed === o.quantity))
      )
        return 'a FOK filled in part';
      if (o.kind === 'cancel') {
        if (r.removed !== before!.quantity) return 'cancel removed other than what rested';
        const rest = (xs: RestingOrder[]) =>
          JSON.stringify(
            xs.filter((x) => x.id !== target),
            big,
          );
        if (rest(book.orders('buy')) !== rest(bids) || rest(book.orders('sell')) !== rest(asks))
          return 'cancel touched another order';
        if (book.order(target!) !== undefined) return 'a cancelled order still rests';
      }
      if (o.kind === 'replace' && before) {
        const total = o.quantity ?? before.quantity + before.filled;
        const grow = total - before.filled - before.quantity;
        if (grow > 0n) placed += grow;
      }
    }
    const bid = book.bestBid();
    const ask = book.bestAsk();
    if (bid !== undefined && ask !== undefined && bid >= ask) return `crossed: ${bid} >= ${ask}`;
    const resting = sum(book.orders('buy')) + sum(book.orders('sell'));
    if (placed !== traded + swept + resting + removed)
      return `not conserved: placed ${placed} != traded ${traded} + swept ${swept} + resting ${resting} + removed ${removed}`;
  }
  return null;
}

t.test(
  'properties: never crossed, quantity conserved, price-time priority, exact cancels, FOK whole, post-only never takes',
  async (t) => {
    fc.assert(
      fc.property(ops, (sequence) => {
        const problem = checkInvariants(sequence);
        if (problem !== null) throw new Error(problem);
      }),
      { numRuns: 1000, seed: 7 },
    );
    t.pass('held on 1,000 random sequences');
  },
);

// The checks must be able to fail: books broken on purpose, each in one rule, are caught.
class PostOnlyIgnored extends OrderBook {
  override place(o: BookOrder): BookResult {
    return super.place(o.type === 'limit' ? { ...o, postOnly: false } : o);
  }
}
class FokAsIoc extends OrderBook {
  override place(o: BookOrder): BookResult {
    return super.place(o.type === 'limit' && o.timeInForce === 'FOK' ? { ...o, timeInForce: 'IOC' } : o);
  }
}
class CancelMisreported extends OrderBook {
  override cancel(id: number): BookResult {
    const r = super.cancel(id);
    return { ...r, removed: r.removed + 1n };
  }
}

t.test('the invariant checks catch a book broken in any one rule', async (t) => {
  for (const [Broken, expected] of [
    [PostOnlyIgnored, /a post-only order took/],
    [FokAsIoc, /a FOK filled in part/],
    [CancelMisreported, /cancel removed other than what rested/],
  ] as const) {
    const found = fc.check(
      fc.property(ops, (sequence) => {
        const problem = checkInvariants(sequence, new Broken());
        if (problem !== null) throw new Error(problem);
      }),
      { numRuns: 1000, seed: 3 },
    );
    t.ok(found.failed, `${Broken.name} is caught`);
    t.match(String((found.errorInstance as Error | undefined)?.message), expected);
  }
});
