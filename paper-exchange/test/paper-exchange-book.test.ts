import t from 'tap';
import type { Test } from 'tap';
import { binance, type Order, type Trade } from 'ccxt';
import type { Candle } from '@appliance/trading-core';
import { createPaperExchange } from '../src/index.js';
import { paperExchangeCcxtConfig } from '../src/ccxt-config.js';

// Resting limit orders share each candle's volume by price, then time priority (trading-core's
// OrderBook), seen as ccxt sees them: PARTIALLY_FILLED orders are 'open' with a filled amount.

const T0 = 1_700_000_100_000;
const MINUTE = 60_000;
const ALICE = { apiKey: 'alice-key', secret: 'alice-secret' };
const BOB = { apiKey: 'bob-key', secret: 'bob-secret' };

function bar(i: number, o: Omit<Candle, 'time'>): Candle {
  return { time: T0 + i * MINUTE, ...o };
}

async function start(t: Test) {
  const px = createPaperExchange({
    markets: [
      {
        symbol: 'BTC/USDT',
        base: 'BTC',
        quote: 'USDT',
        tickSize: 0.01,
        stepSize: 0.0001,
        minQty: 0.0001,
        minNotional: 5,
      },
    ],
    costs: { slippageBps: 5, feeBps: 10 },
    accounts: [
      { ...ALICE, balances: { USDT: 10_000, BTC: 1 } },
      { ...BOB, balances: { USDT: 10_000, BTC: 1 } },
    ],
    now: () => Date.now(),
  });
  const url = await px.listen();
  t.teardown(() => px.close());
  const client = (keys: { apiKey: string; secret: string }) => {
    const ex = new binance({ ...keys, enableRateLimit: false, ...paperExchangeCcxtConfig(url) });
    ex.fetchImplementation = (input: string, init: RequestInit) => {
      if (!input.startsWith(`${url}/`)) throw new Error(`a request left the paper exchange: ${input}`);
      return fetch(input, init);
    };
    return ex;
  };
  return { px, client, alice: client(ALICE), bob: client(BOB) };
}

const idOf = (o: Order): string => String(o.id);

/** What ccxt reports of an order, the fields this file checks. */
const seen = (o: Order) => ({
  status: o.status,
  binanceStatus: (o.info as { status: string }).status,
  amount: o.amount,
  filled: o.filled,
  remaining: o.remaining,
  cost: o.cost,
  average: o.average,
});
const trade = (x: Trade) => ({
  order: x.order,
  price: x.price,
  amount: x.amount,
  cost: x.cost,
  fee: x.fee?.cost,
  feeCurrency: x.fee?.currency,
  takerOrMaker: x.takerOrMaker,
});

t.test(
  'two accounts at one price and a candle with less volume: the earlier fills, the later in part',
  async (t) => {
    const { px, alice, bob } = await start(t);
    px.onCandle('BTC/USDT', bar(0, { open: 50_000, high: 50_000, low: 50_000, close: 50_000, volume: 1 }));
    const first = await alice.createOrder('BTC/USDT', 'limit', 'buy', 0.1, 49_000);
    const second = await bob.createOrder('BTC/USDT', 'limit', 'buy', 0.1, 49_000);
    t.equal(second.status, 'open');

    // Through 49,000 with 0.15 BTC traded: alice's 0.1 first, then 0.05 of bob's.
    px.onCandle('BTC/USDT', bar(1, { open: 49_500, high: 49_600, low: 48_900, close: 49_100, volume: 0.15 }));
    t.same(seen(await alice.fetchOrder(idOf(first), 'BTC/USDT')), {
      status: 'closed',
      binanceStatus: 'FILLED',
      amount: 0.1,
      filled: 0.1,
      remaining: 0,
      cost: 4_900,
      average: 49_000,
    });
    t.same(seen(await bob.fetchOrder(idOf(second), 'BTC/USDT')), {
      status: 'open',
      binanceStatus: 'PARTIALLY_FILLED',
      amount: 0.1,
      filled: 0.05,
      remaining: 0.05,
      cost: 2_450,
      average: 49_000,
    });
    t.same((await bob.fetchMyTrades('BTC/USDT')).map(trade), [
      {
        order: second.id,
        price: 49_000,
        amount: 0.05,
        cost: 2_450,
        fee: 2.45,
        feeCurrency: 'USDT',
        takerOrMaker: 'maker',
      },
    ]);
    t.same(
      (await bob.fetchOpenOrders('BTC/USDT')).map((o) => [o.id, o.filled]),
      [[second.id, 0.05]],
      'a part-filled order is still open',
    );
    const balance = await bob.fetchBalance();
    t.same(balance['BTC'], { free: 1.05, used: 0, total: 1.05 });
    // The reserve was 4,900 + 4.90 fee; the fill spent 2,450 + 2.45.
    t.same(balance['USDT'], { free: 5_095.1, used: 2_452.45, total: 7_547.55 });

    // The next bar gaps down through the limit: the rest fills at its open.
    px.onCandle('BTC/USDT', bar(2, { open: 48_800, high: 48_900, low: 48_700, close: 48_800, volume: 1 }));
    t.same(seen(await bob.fetchOrder(idOf(second), 'BTC/USDT')), {
      status: 'closed',
      binanceStatus: 'FILLED',
      amount: 0.1,
      filled: 0.1,
      remaining: 0,
      cost: 4_890,
      average: 48_900,
    });
    const trades = (await bob.fetchMyTrades('BTC/USDT')).map(trade);
    t.same(
      trades.map((x) => [x.price, x.amount, x.fee]),
      [
        [49_000, 0.05, 2.45],
        [48_800, 0.05, 2.44],
      ],
      'the fees add up to the fee on the whole notional, 4.89',
    );
    const after = await bob.fetchBalance();
    t.same(after['USDT'], { free: 5_105.11, used: 0, total: 5_105.11 }, 'what the lower price saved is back');
    t.same(after['BTC'], { free: 1.1, used: 0, total: 1.1 });
  },
);

t.test('a better price placed later fills before an earlier worse one', async (t) => {
  const { px, alice, bob } = await start(t);
  px.onCandle('BTC/USDT', bar(0, { open: 50_000, high: 50_000, low: 50_000, close: 50_000, volume: 1 }));
  const earlier = await alice.createOrder('BTC/USDT', 'limit', 'buy', 0.1, 49_000);
  const better = await bob.createOrder('BTC/USDT', 'limit', 'buy', 0.1, 49_100);
  px.onCandle('BTC/USDT', bar(1, { open: 49_500, high: 49_500, low: 48_900, close: 49_000, volume: 0.12 }));
  t.same(
    [
      seen(await bob.fetchOrder(idOf(better), 'BTC/USDT')),
      seen(await alice.fetchOrder(idOf(earlier), 'BTC/USDT')),
    ].map((o) => [o.binanceStatus, o.filled, o.average]),
    [
      ['FILLED', 0.1, 49_100],
      ['PARTIALLY_FILLED', 0.02, 49_000],
    ],
  );
  // Sells too: the lowest ask first.
  const highAsk = await alice.createOrder('BTC/USDT', 'limit', 'sell', 0.1, 51_000);
  const lowAsk = await bob.createOrder('BTC/USDT', 'limit', 'sell', 0.1, 50_500);
  px.onCandle('BTC/USDT', bar(2, { open: 49_000, high: 51_200, low: 49_000, close: 51_000, volume: 0.15 }));
  t.same((await bob.fetchOrder(idOf(lowAsk), 'BTC/USDT')).filled, 0.1);
  t.same((await alice.fetchOrder(idOf(highAsk), 'BTC/USDT')).filled, 0.05);
  // The same bar also reached alice's buy: each side shares the bar's volume on its own.
  t.same((await alice.fetchOrder(idOf(earlier), 'BTC/USDT')).filled, 0.1);
});

t.test('accounts never trade with each other: crossed orders of two accounts both rest', async (t) => {
  const { px, alice, bob } = await start(t);
  // No candle yet, so neither is marketable on arrival.
  const buy = await alice.createOrder('BTC/USDT', 'limit', 'buy', 0.1, 50_100);
  const sell = await bob.createOrder('BTC/USDT', 'limit', 'sell', 0.1, 49_900);
  t.same([buy.status, sell.status], ['open', 'open']);
  t.same(await alice.fetchMyTrades('BTC/USDT'), []);
  t.same(await bob.fetchMyTrades('BTC/USDT'), []);
  // A candle then fills each against the market, at the open (better than either limit).
  px.onCandle('BTC/USDT', bar(0, { open: 50_000, high: 50_000, low: 50_000, close: 50_000, volume: 1 }));
  t.same(
    (await alice.fetchMyTrades('BTC/USDT')).map((x) => [x.side, x.price, x.amount]),
    [['buy', 50_000, 0.1]],
  );
  t.same(
    (await bob.fetchMyTrades('BTC/USDT')).map((x) => [x.side, x.price, x.amount]),
    [['sell', 50_000, 0.1]],
  );
});

t.test('cancelling a part-filled order frees what is left and keeps what filled', async (t) => {
  const { px, bob } = await start(t);
  px.onCandle('BTC/USDT', bar(0, { open: 50_000, high: 50_000, low: 50_000, close: 50_000, volume: 1 }));
  const sell = await bob.createOrder('BTC/USDT', 'limit', 'sell', 0.4, 51_000);
  px.onCandle('BTC/USDT', bar(1, { open: 50_500, high: 51_000, low: 50_500, close: 51_000, volume: 0.1 }));
  const canceled = await bob.cancelOrder(idOf(sell), 'BTC/USDT');
  t.same([canceled.status, canceled.filled, canceled.remaining], ['canceled', 0.1, 0.3]);
  t.same((await bob.fetchBalance())['BTC'], { free: 0.9, used: 0, total: 0.9 });
  t.same(
    (await bob.fetchBalance())['USDT'],
    { free: 15_094.9, used: 0, total: 15_094.9 },
    '5,100 less 5.10 fee',
  );
  t.same(await bob.fetchOpenOrders('BTC/USDT'), []);
});

t.test('a newer version of the forming bar shares only the volume it added', async (t) => {
  const { px, bob } = await start(t);
  px.onCandle('BTC/USDT', bar(0, { open: 50_000, high: 50_000, low: 50_000, close: 50_000, volume: 1 }));
  const buy = await bob.createOrder('BTC/USDT', 'limit', 'buy', 0.1, 49_000);
  px.onCandle('BTC/USDT', bar(1, { open: 49_500, high: 49_500, low: 49_000, close: 49_000, volume: 0.03 }));
  t.equal((await bob.fetchOrder(idOf(buy), 'BTC/USDT')).filled, 0.03);
  px.onCandle('BTC/USDT', bar(1, { open: 49_500, high: 49_500, low: 49_000, close: 49_000, volume: 0.05 }));
  t.equal((await bob.fetchOrder(idOf(buy), 'BTC/USDT')).filled, 0.05, 'the same bar again: only 0.02 more');
  px.onCandle('BTC/USDT', bar(2, { open: 49_500, high: 49_500, low: 49_200, close: 49_300, volume: 5 }));
  t.equal((await bob.fetchOrder(idOf(buy), 'BTC/USDT')).filled, 0.05, 'a bar above the limit fills nothing');
});

t.test('a market whose maxQty or maxPrice the order book cannot count exactly is refused', async (t) => {
  const market = {
    symbol: 'DOGE/USDT',
    base: 'DOGE',
    quote: 'USDT',
    tickSize: 0.00001,
    stepSize: 1,
    minQty: 1,
    minNotional: 1,
  };
  const message =
    'markets[DOGE/USDT]: maxQty and maxPrice must be at most 90071992.54740991 (2^53 - 1 atoms, what the order book counts exactly)';
  for (const big of [{ maxQty: 100_000_000 }, { maxPrice: 100_000_000 }]) {
    t.throws(
      () => createPaperExchange({ markets: [{ ...market, ...big }], costs: { slippageBps: 0, feeBps: 0 } }),
      {
        code: 'PAPER_ERR_INVALID_OPTION',
        message,
      },
    );
  }
  t.doesNotThrow(() =>
    createPaperExchange({
      markets: [{ ...market, maxQty: 90_000_000 }],
      costs: { slippageBps: 0, feeBps: 0 },
    }),
  );
});

t.test(
  'many accounts cannot all fill on one candle: together they get its volume, in priority',
  async (t) => {
    const { px, client } = await start(t);
    px.onCandle('BTC/USDT', bar(0, { open: 50_000, high: 50_000, low: 50_000, close: 50_000, volume: 1 }));
    const keys = Array.from({ length: 40 }, (_, i) => `device-${i}`);
    const clients = keys.map((apiKey) => {
      px.addAccount({ apiKey, secret: `${apiKey}-secret`, balances: { USDT: 1_000 } });
      return client({ apiKey, secret: `${apiKey}-secret` });
    });
    // One after the other, so time priority is the order of the list; every other one bids higher.
    for (const [i, c] of clients.entries())
      await c.createOrder('BTC/USDT', 'limit', 'buy', 0.01, i % 2 ? 49_100 : 49_000);
    px.onCandle(
      'BTC/USDT',
      bar(1, { open: 49_500, high: 49_500, low: 48_000, close: 48_500, volume: 0.255 }),
    );
    const filled = keys.map((k) => px.orders(k)[0]!.executedQty);
    const total = filled.reduce((a, b) => a + b, 0);
    t.equal(Math.round(total * 1e8), 25_500_000, 'exactly the candle volume, 0.255 BTC, filled in all');
    const expected = keys.map((_, i) => (i % 2 ? 0.01 : i < 10 ? 0.01 : i === 10 ? 0.005 : 0));
    t.same(filled, expected, 'the 20 higher bids whole, then the lower ones oldest first, one in part');
    t.same(keys.map((k) => px.orders(k)[0]!.status).filter((s) => s === 'PARTIALLY_FILLED').length, 1);
  },
);
