import t from 'tap';
import { OrderBook, OrderBookError, type BookResult } from '../src/index.js';
import { throwsExactly } from './helpers/throws.js';

// Prices and quantities are atoms; these small whole numbers keep the examples readable.
const buy = (id: number, price: bigint, quantity: bigint, extra = {}) =>
  ({ id, side: 'buy', type: 'limit', price, quantity, ...extra }) as const;
const sell = (id: number, price: bigint, quantity: bigint, extra = {}) =>
  ({ id, side: 'sell', type: 'limit', price, quantity, ...extra }) as const;

/** The book as [id, price, quantity] per side in priority order. */
function sides(book: OrderBook) {
  const row = (o: { id: number; price: bigint; quantity: bigint }) => [o.id, o.price, o.quantity];
  return { bids: book.orders('buy').map(row), asks: book.orders('sell').map(row) };
}

function outcome(r: BookResult) {
  return {
    trades: r.trades.map((x) => [x.makerId, x.takerId, x.price, x.quantity]),
    resting: r.resting,
    removed: r.removed,
    reason: r.reason,
  };
}

/** Asks 101 (ids 1, 2), 102 (3); bids 99 (4), 98 (5, 6). */
function ladder(): OrderBook {
  const book = new OrderBook();
  book.place(sell(1, 101n, 5n));
  book.place(sell(2, 101n, 5n));
  book.place(sell(3, 102n, 10n));
  book.place(buy(4, 99n, 5n));
  book.place(buy(5, 98n, 5n));
  book.place(buy(6, 98n, 5n));
  return book;
}

t.test('a limit GTC order that does not cross rests at the back of its level', async (t) => {
  const book = ladder();
  const r = book.place(buy(7, 99n, 3n));
  t.same(outcome(r), { trades: [], resting: 3n, removed: 0n, reason: null });
  t.equal(r.priority, null);
  t.same(sides(book).bids, [
    [4, 99n, 5n],
    [7, 99n, 3n],
    [5, 98n, 5n],
    [6, 98n, 5n],
  ]);
  t.equal(book.bestBid(), 99n);
  t.equal(book.bestAsk(), 101n);
  t.equal(book.size, 7);
});

t.test('a crossing limit order takes at the makers prices, best level first, oldest first', async (t) => {
  const book = ladder();
  const r = book.place(buy(7, 102n, 12n));
  t.same(outcome(r), {
    trades: [
      [1, 7, 101n, 5n],
      [2, 7, 101n, 5n],
      [3, 7, 102n, 2n],
    ],
    resting: 0n,
    removed: 0n,
    reason: null,
  });
  t.same(r.trades[0]?.side, 'buy');
  t.same(sides(book).asks, [[3, 102n, 8n]]);
  t.same(book.order(3), { id: 3, side: 'sell', price: 102n, quantity: 8n, filled: 2n, postOnly: false });
  t.equal(book.order(1), undefined, 'a filled maker leaves the book');
});

t.test('a crossing GTC order rests what its limit leaves unfilled', async (t) => {
  const book = ladder();
  const r = book.place(sell(7, 98n, 20n));
  t.same(outcome(r), {
    trades: [
      [4, 7, 99n, 5n],
      [5, 7, 98n, 5n],
      [6, 7, 98n, 5n],
    ],
    resting: 5n,
    removed: 0n,
    reason: null,
  });
  t.same(sides(book).asks[0], [7, 98n, 5n]);
  t.equal(book.bestBid(), undefined);
  t.same(book.order(7)?.filled, 15n);
});

t.test('a market order takes at any price and the rest beyond the book is removed', async (t) => {
  const book = ladder();
  const r = book.place({ id: 7, side: 'buy', type: 'market', quantity: 25n });
  t.same(outcome(r), {
    trades: [
      [1, 7, 101n, 5n],
      [2, 7, 101n, 5n],
      [3, 7, 102n, 10n],
    ],
    resting: 0n,
    removed: 5n,
    reason: 'market',
  });
  t.same(sides(book).asks, []);
  const all = book.place({ id: 8, side: 'sell', type: 'market', quantity: 6n });
  t.same(outcome(all), {
    trades: [
      [4, 8, 99n, 5n],
      [5, 8, 98n, 1n],
    ],
    resting: 0n,
    removed: 0n,
    reason: null,
  });
});

t.test('IOC takes what crosses and removes the rest; it never rests', async (t) => {
  const book = ladder();
  const r = book.place(buy(7, 101n, 12n, { timeInForce: 'IOC' }));
  t.same(outcome(r), {
    trades: [
      [1, 7, 101n, 5n],
      [2, 7, 101n, 5n],
    ],
    resting: 0n,
    removed: 2n,
    reason: 'ioc',
  });
  const none = book.place(buy(8, 100n, 1n, { timeInForce: 'IOC' }));
  t.same(outcome(none), { trades: [], resting: 0n, removed: 1n, reason: 'ioc' });
  t.equal(book.order(8), undefined);
});

t.test('FOK fills whole or not at all', async (t) => {
  const book = ladder();
  const before = sides(book);
  const no = book.place(buy(7, 101n, 11n, { timeInForce: 'FOK' }));
  t.same(outcome(no), { trades: [], resting: 0n, removed: 11n, reason: 'fok' });
  t.same(sides(book), before, 'a FOK that cannot fill changes nothing');
  const yes = book.place(buy(8, 102n, 11n, { timeInForce: 'FOK' }));
  t.same(outcome(yes), {
    trades: [
      [1, 8, 101n, 5n],
      [2, 8, 101n, 5n],
      [3, 8, 102n, 1n],
    ],
    resting: 0n,
    removed: 0n,
    reason: null,
  });
  const exact = book.place(buy(9, 102n, 9n, { timeInForce: 'FOK' }));
  t.same(exact.trades.length, 1, 'exactly what rests is enough');
  t.same(book.bestAsk(), undefined);
});

t.test('post-only rests when it would not take, and is refused (not repriced) when it would', async (t) => {
  const book = ladder();
  const crossing = book.place(buy(7, 101n, 1n, { postOnly: true }));
  t.same(outcome(crossing), { trades: [], resting: 0n, removed: 1n, reason: 'post-only' });
  t.equal(book.order(7), undefined);
  const passive = book.place(buy(8, 100n, 1n, { postOnly: true }));
  t.same(outcome(passive), { trades: [], resting: 1n, removed: 0n, reason: null });
  t.equal(book.order(8)?.postOnly, true);
});

t.test('cancel removes exactly what rested, filled part excluded', async (t) => {
  const book = ladder();
  book.place(buy(7, 101n, 3n)); // fills 3 of order 1
  const r = book.cancel(1);
  t.same(outcome(r), { trades: [], resting: 0n, removed: 2n, reason: 'cancelled' });
  t.same(sides(book).asks, [
    [2, 101n, 5n],
    [3, 102n, 10n],
  ]);
  book.cancel(2);
  t.equal(book.bestAsk(), 102n, 'an emptied level is gone');
});

t.test('replace: a smaller quantity at the same price keeps the place in the queue', async (t) => {
  const book = ladder();
  const r = book.replace(5, { quantity: 2n });
  t.same(outcome(r), { trades: [], resting: 2n, removed: 3n, reason: 'replaced' });
  t.equal(r.priority, 'kept');
  t.same(sides(book).bids.slice(1), [
    [5, 98n, 2n],
    [6, 98n, 5n],
  ]);
});

t.test('replace: a larger quantity or a new price loses the place in the queue', async (t) => {
  const book = ladder();
  const bigger = book.replace(5, { quantity: 6n });
  t.same(outcome(bigger), { trades: [], resting: 6n, removed: 0n, reason: null });
  t.equal(bigger.priority, 'lost');
  t.same(sides(book).bids.slice(1), [
    [6, 98n, 5n],
    [5, 98n, 6n],
  ]);
  const moved = book.replace(6, { price: 99n });
  t.equal(moved.priority, 'lost');
  t.same(sides(book).bids, [
    [4, 99n, 5n],
    [6, 99n, 5n],
    [5, 98n, 6n],
  ]);
  const back = book.replace(6, { price: 98n });
  t.same(
    sides(book).bids.slice(1),
    [
      [5, 98n, 6n],
      [6, 98n, 5n],
    ],
    'moving back does not restore the old place',
  );
  t.equal(back.priority, 'lost');
});

t.test(
  'replace: the quantity is the new total, and a total at or below what filled ends the order',
  async (t) => {
    const book = ladder();
    book.place(buy(7, 101n, 3n)); // order 1: 3 of 5 filled
    const r = book.replace(1, { quantity: 4n });
    t.same(outcome(r), { trades: [], resting: 1n, removed: 1n, reason: 'replaced' });
    t.same(book.order(1), { id: 1, side: 'sell', price: 101n, quantity: 1n, filled: 3n, postOnly: false });
    const done = book.replace(1, { quantity: 3n });
    t.same(outcome(done), { trades: [], resting: 0n, removed: 1n, reason: 'replaced-to-filled' });
    t.equal(book.order(1), undefined);
  },
);

t.test('replace to a crossing price takes first; a post-only one is removed instead', async (t) => {
  const book = ladder();
  const r = book.replace(4, { price: 101n, quantity: 7n });
  t.same(outcome(r), {
    trades: [
      [1, 4, 101n, 5n],
      [2, 4, 101n, 2n],
    ],
    resting: 0n,
    removed: 0n,
    reason: null,
  });
  book.place(buy(9, 100n, 2n, { postOnly: true }));
  const p = book.replace(9, { price: 101n, quantity: 1n });
  t.same(outcome(p), { trades: [], resting: 0n, removed: 2n, reason: 'post-only' });
  t.equal(book.order(9), undefined);
});

t.test('a resting-only book never matches: crossed orders from both sides stay', async (t) => {
  const book = new OrderBook({ matching: false });
  t.same(outcome(book.place(buy(1, 101n, 5n))), { trades: [], resting: 5n, removed: 0n, reason: null });
  t.same(outcome(book.place(sell(2, 99n, 5n))), { trades: [], resting: 5n, removed: 0n, reason: null });
  t.equal(book.bestBid(), 101n);
  t.equal(book.bestAsk(), 99n);
  book.replace(2, { price: 98n });
  t.equal(book.bestAsk(), 98n, 'nor does a replace');
  const refused = (f: () => unknown, what: string) =>
    throwsExactly(t, f, {
      name: 'OrderBookError',
      code: 'E_NOT_MATCHING',
      message: `this book never matches (resting-only), so it takes no ${what} order: only limit GTC orders rest in it`,
    });
  refused(() => book.place({ id: 3, side: 'buy', type: 'market', quantity: 1n }), 'market');
  refused(() => book.place(buy(3, 99n, 1n, { timeInForce: 'IOC' })), 'IOC');
  refused(() => book.place(buy(3, 99n, 1n, { timeInForce: 'FOK' })), 'FOK');
  t.equal(book.size, 2);
});

t.test('sweep: a bar fills the orders it trades through, best price first, then oldest', async (t) => {
  const book = new OrderBook({ matching: false });
  book.place(buy(1, 100n, 4n));
  book.place(buy(2, 100n, 4n));
  book.place(buy(3, 101n, 4n)); // later but a better price
  book.place(buy(4, 95n, 4n)); // below the bar
  const fills = book.sweep({ open: 102n, high: 103n, low: 99n, volume: 10n });
  t.same(fills, [
    { orderId: 3, side: 'buy', price: 101n, quantity: 4n, resting: 0n },
    { orderId: 1, side: 'buy', price: 100n, quantity: 4n, resting: 0n },
    { orderId: 2, side: 'buy', price: 100n, quantity: 2n, resting: 2n },
  ]);
  t.same(
    sides(book).bids,
    [
      [2, 100n, 2n],
      [4, 95n, 4n],
    ],
    'the part-filled order keeps its place with what is left',
  );
  t.same(book.order(2)?.filled, 2n);
});

t.test(
  'sweep: a bar that gapped through a limit fills at the open, never worse than the limit',
  async (t) => {
    const book = new OrderBook({ matching: false });
    book.place(buy(1, 100n, 1n));
    book.place(sell(2, 110n, 1n));
    t.same(book.sweep({ open: 95n, high: 96n, low: 90n, volume: 5n }), [
      { orderId: 1, side: 'buy', price: 95n, quantity: 1n, resting: 0n },
    ]);
    t.same(book.sweep({ open: 115n, high: 120n, low: 114n, volume: 5n }), [
      { orderId: 2, side: 'sell', price: 115n, quantity: 1n, resting: 0n },
    ]);
  },
);

t.test('sweep: each side shares the volume; a touch fills; a bar of no volume fills nothing', async (t) => {
  const book = new OrderBook({ matching: false });
  book.place(buy(1, 100n, 3n));
  book.place(sell(2, 100n, 3n));
  t.same(book.sweep({ open: 100n, high: 100n, low: 100n, volume: 0n }), []);
  t.same(book.sweep({ open: 100n, high: 100n, low: 100n, volume: 2n }), [
    { orderId: 1, side: 'buy', price: 100n, quantity: 2n, resting: 1n },
    { orderId: 2, side: 'sell', price: 100n, quantity: 2n, resting: 1n },
  ]);
  t.same(
    book.sweep({ open: 100n, high: 100n, low: 100n, volume: 10n ** 30n }).length,
    2,
    'a huge volume is fine',
  );
  t.equal(book.size, 0);
});

t.test('bad input is refused with a typed error and changes nothing', async (t) => {
  const book = ladder();
  const before = sides(book);
  const cases: [() => unknown, string, string][] = [
    [
      () => book.place(buy(0, 100n, 1n)),
      'E_BAD_ORDER_ID',
      'an order id must be a positive safe integer, got 0',
    ],
    [
      () => book.place(buy(1.5, 100n, 1n)),
      'E_BAD_ORDER_ID',
      'an order id must be a positive safe integer, got 1.5',
    ],
    [() => book.place(buy(4, 100n, 1n)), 'E_DUPLICATE_ORDER_ID', 'order 4 is already resting'],
    [
      () => book.place({ ...buy(7, 100n, 1n), side: 'long' as 'buy' }),
      'E_BAD_ORDER',
      'side must be buy or sell, got long',
    ],
    [
      () => book.place({ ...buy(7, 100n, 1n), type: 'stop' as 'limit' }),
      'E_BAD_ORDER',
      'type must be limit or market, got stop',
    ],
    [
      () => book.place(buy(7, 100n, 1n, { timeInForce: 'GTD' })),
      'E_BAD_ORDER',
      'timeInForce must be GTC, IOC or FOK, got GTD',
    ],
    [
      () => book.place(buy(7, 100n, 1n, { timeInForce: 'IOC', postOnly: true })),
      'E_BAD_ORDER',
      'a post-only order must be GTC, got IOC',
    ],
    [() => book.place(buy(7, 100n, 1n, { postOnly: 1 })), 'E_BAD_ORDER', 'postOnly must be true or false'],
    [() => book.place(buy(7, 0n, 1n)), 'E_BAD_PRICE', 'price must be a bigint of atoms > 0, got 0'],
    [
      () => book.place(buy(7, 100 as unknown as bigint, 1n)),
      'E_BAD_PRICE',
      'price must be a bigint of atoms > 0, got number',
    ],
    [() => book.place(buy(7, 100n, -1n)), 'E_BAD_QUANTITY', 'quantity must be a bigint of atoms > 0, got -1'],
    [
      () => book.place(buy(7, 2n ** 53n, 1n)),
      'E_TOO_LARGE',
      'price of 90071992.54740992 is above 9007199254740991 atoms, the most the book counts exactly',
    ],
    [
      () => book.place({ id: 7, side: 'buy', type: 'market', quantity: 2n ** 60n }),
      'E_TOO_LARGE',
      'quantity of 11529215046.06846976 is above 9007199254740991 atoms, the most the book counts exactly',
    ],
    [
      () => book.place(null as unknown as Parameters<OrderBook['place']>[0]),
      'E_BAD_ORDER',
      'an order must be an object',
    ],
    [
      () => book.replace(4, null as unknown as { quantity: bigint }),
      'E_BAD_ORDER',
      'a replace must be an object',
    ],
    [() => book.cancel(-3), 'E_BAD_ORDER_ID', 'an order id must be a positive safe integer, got -3'],
    [
      () => book.sweep(null as unknown as Parameters<OrderBook['sweep']>[0]),
      'E_BAD_BAR',
      'a bar must be an object',
    ],
    [() => book.cancel(77), 'E_UNKNOWN_ORDER', 'no order 77 is resting'],
    [() => book.replace(77, { quantity: 1n }), 'E_UNKNOWN_ORDER', 'no order 77 is resting'],
    [
      () => book.replace(4, { quantity: 0n }),
      'E_BAD_QUANTITY',
      'quantity must be a bigint of atoms > 0, got 0',
    ],
    [() => book.replace(4, { price: -5n }), 'E_BAD_PRICE', 'price must be a bigint of atoms > 0, got -5'],
    [
      () => book.sweep({ open: 100n, high: 99n, low: 98n, volume: 1n }),
      'E_BAD_BAR',
      'need low <= open <= high, got 98, 100, 99 atoms',
    ],
    [
      () => book.sweep({ open: 100n, high: 101n, low: 0n, volume: 1n }),
      'E_BAD_BAR',
      'low must be a bigint of atoms > 0',
    ],
    [
      () => book.sweep({ open: 100n, high: 101n, low: 99n, volume: -1n }),
      'E_BAD_BAR',
      'volume must be a bigint of atoms >= 0',
    ],
  ];
  for (const [f, code, message] of cases) {
    throwsExactly(t, f, { name: 'OrderBookError', code, message });
    t.same(sides(book), before, `${code}: nothing changed`);
  }
  t.ok(OrderBookError.is(new OrderBookError('E_BAD_BAR'), 'E_BAD_BAR'));
});
