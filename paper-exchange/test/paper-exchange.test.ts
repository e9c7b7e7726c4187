import t from 'tap';
import type { Test } from 'tap';
import {
  AuthenticationError,
  BadRequest,
  binance,
  InsufficientFunds,
  InvalidOrder,
  NetworkError,
  OrderNotFound,
} from 'ccxt';
import { rejectionOf } from '@appliance/test-kit';
import type { Candle } from '@appliance/trading-core';
import {
  createPaperExchange,
  seededRandom,
  type MarketConfig,
  type PaperExchange,
  type PaperExchangeOptions,
} from '../src/index.js';
import { paperExchangeCcxtConfig } from '../src/ccxt-config.js';

// Every URL any ccxt client of this file asks for, checked by the last test.
const requested: string[] = [];
const baseUrls: string[] = [];

const T0 = 1_700_000_100_000; // a multiple of 5 minutes, so 5m klines start on it
const MINUTE = 60_000;
const MARKETS: MarketConfig[] = [
  {
    symbol: 'BTC/USDT',
    base: 'BTC',
    quote: 'USDT',
    tickSize: 0.01,
    stepSize: 0.0001,
    minQty: 0.0001,
    minNotional: 5,
  },
  {
    symbol: 'ETH/USDT',
    base: 'ETH',
    quote: 'USDT',
    tickSize: 0.01,
    stepSize: 0.001,
    minQty: 0.001,
    minNotional: 5,
  },
];
const ALICE = { apiKey: 'alice-key', secret: 'alice-secret' };

function bar(i: number, close: number, o: Partial<Candle> = {}): Candle {
  const open = o.open ?? close;
  return {
    time: T0 + i * MINUTE,
    open,
    high: o.high ?? Math.max(open, close),
    low: o.low ?? Math.min(open, close),
    close,
    volume: o.volume ?? 1,
  };
}

interface Harness {
  px: PaperExchange;
  url: string;
  /** Added to Date.now() for the exchange's clock. */
  clock: { skewMs: number };
  client(apiKey?: string, secret?: string): binance;
  alice: binance;
}

async function start(t: Test, extra: Partial<PaperExchangeOptions> = {}): Promise<Harness> {
  const clock = { skewMs: 0 };
  const px = createPaperExchange({
    accounts: [{ ...ALICE, balances: { USDT: 10_000, BTC: 1 } }],
    markets: MARKETS,
    costs: { slippageBps: 5, feeBps: 10 },
    // ccxt stamps requests with the real clock, so the exchange's clock is real time plus a skew.
    now: () => Date.now() + clock.skewMs,
    ...extra,
  });
  const url = await px.listen();
  baseUrls.push(url);
  t.teardown(() => px.close());
  const client = (apiKey = ALICE.apiKey, secret = ALICE.secret) => {
    const ex = new binance({ apiKey, secret, enableRateLimit: false, ...paperExchangeCcxtConfig(url) });
    ex.fetchImplementation = (input: string, init: RequestInit) => {
      requested.push(input);
      return fetch(input, init);
    };
    return ex;
  };
  return { px, url, clock, client, alice: client() };
}

function balancesNonNegative(t: Test, px: PaperExchange, apiKey = ALICE.apiKey): void {
  for (const [asset, b] of Object.entries(px.account(apiKey).balances)) {
    if (b.free < 0 || b.locked < 0) t.fail(`${asset} went negative: ${JSON.stringify(b)}`);
  }
}

t.test('the ccxt config points every binance api url at the paper exchange', async (t) => {
  const base = 'http://127.0.0.1:9';
  const ex = new binance({ ...paperExchangeCcxtConfig(base) });
  const api = ex.urls['api'] as Record<string, string>;
  const elsewhere = Object.entries(api).filter(([, u]) => !u.startsWith(`${base}/`));
  t.same(elsewhere, [], 'no api entry is left pointing at binance.com');
  t.same(Object.keys(api).sort(), Object.keys(paperExchangeCcxtConfig(base).urls.api).sort());
  t.equal(api['public'], `${base}/api/v3`);
  t.equal(api['private'], `${base}/api/v3`);
  t.throws(() => paperExchangeCcxtConfig('ftp://127.0.0.1'), { code: 'PAPER_ERR_INVALID_OPTION' });
});

t.test('loadMarkets reads only exchangeInfo and derives precision and limits from the filters', async (t) => {
  const h = await start(t);
  const before = requested.length;
  const markets = await h.alice.loadMarkets();
  t.same(requested.slice(before), [`${h.url}/api/v3/exchangeInfo`]);
  const btc = markets['BTC/USDT'];
  t.ok(btc);
  t.equal(btc?.id, 'BTCUSDT');
  t.equal(btc?.spot, true);
  t.same(btc?.precision, { amount: 0.0001, price: 0.01, base: 1e-8, quote: 1e-8 });
  t.same(btc?.limits.amount, { min: 0.0001, max: 9_000_000 });
  t.same(btc?.limits.price, { min: 0.01, max: 1_000_000 });
  t.equal(btc?.limits.cost?.min, 5);
  t.equal(markets['ETH/USDT']?.precision.amount, 0.001);
  t.same(Object.keys(markets).sort(), ['BTC/USDT', 'ETH/USDT']);
});

t.test('public endpoints answer as Binance does, and unserved ones stay local', async (t) => {
  const h = await start(t);
  h.clock.skewMs = -1_234;
  const before = Date.now() - 1_234;
  const time = await h.alice.fetchTime();
  t.ok(
    time !== undefined && time >= before && time <= Date.now() - 1_234,
    'serverTime is the injected clock',
  );
  h.clock.skewMs = 0;
  t.same(await (await fetch(`${h.url}/api/v3/ping`)).json(), {});
  h.px.onCandle('BTC/USDT', bar(0, 50_000.5));
  t.same(await (await fetch(`${h.url}/api/v3/ticker/price?symbol=BTCUSDT`)).json(), {
    symbol: 'BTCUSDT',
    price: '50000.50000000',
  });
  const info = (await (await fetch(`${h.url}/api/v3/exchangeInfo?symbol=ETHUSDT`)).json()) as {
    symbols: { symbol: string; filters: unknown[] }[];
  };
  t.same(
    info.symbols.map((s) => s.symbol),
    ['ETHUSDT'],
  );
  t.same(info.symbols[0]?.filters[1], {
    filterType: 'LOT_SIZE',
    minQty: '0.00100000',
    maxQty: '9000000.00000000',
    stepSize: '0.00100000',
  });
  t.equal(
    await rejectionOf(h.alice.fetchTicker('DOGE/USDT')),
    'BadSymbol: binance does not have market symbol DOGE/USDT',
  );
  t.equal(
    await rejectionOf(h.alice.sapiGetCapitalConfigGetall()),
    'BadRequest: binance {"code":-1020,"msg":"This operation is not supported."}',
  );
});

t.test('fetchBalance shows free and locked per asset, and the canWithdraw flag', async (t) => {
  const h = await start(t);
  const balance = await h.alice.fetchBalance();
  t.same(balance['USDT'], { free: 10_000, used: 0, total: 10_000 });
  t.same(balance['BTC'], { free: 1, used: 0, total: 1 });
  t.equal((balance.info as { canWithdraw: boolean }).canWithdraw, false);

  h.px.addAccount({
    apiKey: 'bob-key',
    secret: 'bob-secret',
    balances: { ETH: 2 },
    canWithdraw: true,
    label: 'bob',
  });
  const bob = await h.client('bob-key', 'bob-secret').fetchBalance();
  t.same(bob['ETH'], { free: 2, used: 0, total: 2 });
  t.equal((bob.info as { canWithdraw: boolean }).canWithdraw, true);
  t.equal(h.px.account('bob-key').label, 'bob');
  t.throws(() => h.px.addAccount({ apiKey: 'bob-key', secret: 'x', balances: {} }), {
    code: 'PAPER_ERR_DUPLICATE_ACCOUNT',
  });
});

t.test(
  'market orders fill at the latest close moved by the slippage, and pay the fee in quote',
  async (t) => {
    const h = await start(t);
    h.px.onCandle('BTC/USDT', bar(0, 50_000));

    const buy = await h.alice.createOrder('BTC/USDT', 'market', 'buy', 0.01);
    t.equal(buy.status, 'closed');
    t.equal(buy.average, 50_025); // 50,000 × (1 + 5 bps)
    t.equal(buy.filled, 0.01);
    t.equal(buy.cost, 500.25);
    t.same(buy.fee, { currency: 'USDT', cost: 0.50025 }); // 10 bps of 500.25
    t.same(h.px.account(ALICE.apiKey).balances, {
      USDT: { free: 9_499.24975, locked: 0 },
      BTC: { free: 1.01, locked: 0 },
    });

    const sell = await h.alice.createOrder('BTC/USDT', 'market', 'sell', 0.02);
    t.equal(sell.average, 49_975); // 50,000 × (1 − 5 bps)
    t.equal(sell.cost, 999.5);
    t.same(sell.fee, { currency: 'USDT', cost: 0.9995 });
    const balance = await h.alice.fetchBalance();
    t.same(balance['USDT'], { free: 10_497.75025, used: 0, total: 10_497.75025 }); // + 999.5 − 0.9995
    t.same(balance['BTC'], { free: 0.99, used: 0, total: 0.99 });

    const trades = await h.alice.fetchMyTrades('BTC/USDT');
    t.same(
      trades.map((x) => [x.side, x.price, x.amount, x.cost, x.fee?.cost, x.takerOrMaker]),
      [
        ['buy', 50_025, 0.01, 500.25, 0.50025, 'taker'],
        ['sell', 49_975, 0.02, 999.5, 0.9995, 'taker'],
      ],
    );
  },
);

t.test(
  'a market buy given a price spends that much quote (quoteOrderQty), on the LOT_SIZE grid',
  async (t) => {
    const h = await start(t);
    h.px.onCandle('BTC/USDT', bar(0, 50_000));
    // ccxt sends quoteOrderQty = 0.01 × 50,000 = 500; at 50,025 that buys 0.0099 BTC (0.009995 floored).
    const buy = await h.alice.createOrder('BTC/USDT', 'market', 'buy', 0.01, 50_000);
    t.equal(buy.filled, 0.0099);
    t.equal(buy.average, 50_025);
    t.equal(buy.cost, 495.2475);
    t.same(h.px.account(ALICE.apiKey).balances['USDT'], { free: 9_504.2572525, locked: 0 }); // − 495.2475 − 0.4952475
  },
);

t.test('an IOC limit order that cannot fill on arrival expires and locks nothing', async (t) => {
  const h = await start(t);
  h.px.onCandle('BTC/USDT', bar(0, 50_000));
  const order = await h.alice.createOrder('BTC/USDT', 'limit', 'buy', 0.01, 49_000, { timeInForce: 'IOC' });
  t.equal(order.status, 'expired');
  t.same(h.px.account(ALICE.apiKey).balances['USDT'], { free: 10_000, locked: 0 });
  t.same(await h.alice.fetchOpenOrders('BTC/USDT'), []);
});

t.test('a market order before any candle is refused with a clear error', async (t) => {
  const h = await start(t);
  t.equal(
    await rejectionOf(h.alice.createOrder('BTC/USDT', 'market', 'buy', 0.01)),
    'InvalidOrder: binance {"code":-2010,"msg":"No price for BTCUSDT yet: the paper exchange fills market orders at the latest candle\'s close and has received none."}',
  );
  t.same(h.px.orders(ALICE.apiKey), []);
});

t.test('a limit order rests, locks its cost with the fee, and fills on a later candle', async (t) => {
  const h = await start(t);
  h.px.onCandle('BTC/USDT', bar(0, 50_000));
  const order = await h.alice.createOrder('BTC/USDT', 'limit', 'buy', 0.01, 49_000, {
    clientOrderId: 'dip-1',
  });
  t.equal(order.status, 'open');
  t.equal(order.clientOrderId, 'dip-1');
  let balance = await h.alice.fetchBalance();
  t.same(balance['USDT'], { free: 9_509.51, used: 490.49, total: 10_000 }); // 490 + 0.49 fee

  h.px.onCandle('BTC/USDT', bar(1, 49_800, { open: 49_900, low: 49_100 })); // does not reach 49,000
  t.equal((await h.alice.fetchOrder(String(order.id), 'BTC/USDT')).status, 'open');

  // Gaps down through the limit: fills at the open, better than the limit, and the rest is freed.
  t.equal(h.px.onCandle('BTC/USDT', bar(2, 48_500, { open: 48_000, high: 48_600 })), true);
  const filled = await h.alice.fetchOrder('', 'BTC/USDT', { clientOrderId: 'dip-1' });
  t.equal(filled.status, 'closed');
  t.equal(filled.filled, 0.01);
  t.equal(filled.average, 48_000);
  t.equal(filled.cost, 480);
  balance = await h.alice.fetchBalance();
  t.same(balance['USDT'], { free: 9_519.52, used: 0, total: 9_519.52 }); // 10,000 − 480 − 0.48
  t.same(balance['BTC'], { free: 1.01, used: 0, total: 1.01 });
  const [trade] = await h.alice.fetchMyTrades('BTC/USDT');
  t.equal(trade?.takerOrMaker, 'maker');

  // A sell locks base; it fills at its limit when a bar trades through it.
  const sell = await h.alice.createOrder('BTC/USDT', 'limit', 'sell', 0.5, 49_000);
  t.same((await h.alice.fetchBalance())['BTC'], { free: 0.51, used: 0.5, total: 1.01 });
  h.px.onCandle('BTC/USDT', bar(3, 49_050, { open: 48_600, high: 49_100 }));
  const sold = await h.alice.fetchOrder(String(sell.id), 'BTC/USDT');
  t.equal(sold.average, 49_000);
  t.same(h.px.account(ALICE.apiKey).balances, {
    USDT: { free: 33_995.02, locked: 0 }, // 9,519.52 + 24,500 − 24.5
    BTC: { free: 0.51, locked: 0 },
  });
});

t.test('a marketable limit order fills on arrival at the latest close, never beyond its limit', async (t) => {
  const h = await start(t);
  h.px.onCandle('BTC/USDT', bar(0, 50_000));
  const order = await h.alice.createOrder('BTC/USDT', 'limit', 'buy', 0.01, 51_000);
  t.equal(order.status, 'closed');
  t.equal(order.average, 50_000);
  t.same(h.px.account(ALICE.apiKey).balances['USDT'], { free: 9_499.5, locked: 0 });
});

t.test('cancel by client order id frees the locked funds; fetchOpenOrders lists what rests', async (t) => {
  const h = await start(t);
  h.px.onCandle('BTC/USDT', bar(0, 50_000));
  h.px.onCandle('ETH/USDT', bar(0, 3_000));
  await h.alice.createOrder('BTC/USDT', 'limit', 'buy', 0.01, 40_000, { clientOrderId: 'keep' });
  await h.alice.createOrder('BTC/USDT', 'limit', 'sell', 0.1, 60_000, { clientOrderId: 'drop' });
  await h.alice.createOrder('ETH/USDT', 'limit', 'buy', 0.1, 2_000, { clientOrderId: 'eth' });

  const open = await h.alice.fetchOpenOrders('BTC/USDT');
  t.same(
    open.map((o) => [o.clientOrderId, o.side, o.price, o.amount, o.status]),
    [
      ['keep', 'buy', 40_000, 0.01, 'open'],
      ['drop', 'sell', 60_000, 0.1, 'open'],
    ],
  );
  t.same((await h.alice.fetchBalance())['BTC'], { free: 0.9, used: 0.1, total: 1 });

  const canceled = await h.alice.cancelOrder('', 'BTC/USDT', { clientOrderId: 'drop' });
  t.equal(canceled.status, 'canceled');
  t.equal((canceled.info as { origClientOrderId: string }).origClientOrderId, 'drop');
  t.same((await h.alice.fetchBalance())['BTC'], { free: 1, used: 0, total: 1 });
  t.same(
    (await h.alice.fetchOpenOrders('BTC/USDT')).map((o) => o.clientOrderId),
    ['keep'],
  );
  t.equal((await h.alice.fetchOrder('', 'BTC/USDT', { clientOrderId: 'drop' })).status, 'canceled');
  t.equal(
    await rejectionOf(h.alice.cancelOrder('', 'BTC/USDT', { clientOrderId: 'drop' })),
    'OrderNotFound: binance {"code":-2011,"msg":"Unknown order sent."}',
  );
  h.alice.options['fetchOpenOrders'] = { warnWithoutSymbol: false };
  t.same((await h.alice.fetchOpenOrders()).map((o) => o.clientOrderId).sort(), ['eth', 'keep']);
});

t.test('wrong keys, signatures and timestamps are refused as Binance refuses them', async (t) => {
  const h = await start(t);
  t.equal(
    await rejectionOf(h.client(ALICE.apiKey, 'wrong-secret').fetchBalance()),
    'AuthenticationError: binance {"code":-1022,"msg":"Signature for this request is not valid."}',
  );
  t.equal(
    await rejectionOf(h.client('nobody', 'x').fetchBalance()),
    'AuthenticationError: binance {"code":-2015,"msg":"Invalid API-key, IP, or permissions for action."}',
  );

  const raw = await fetch(`${h.url}/api/v3/account?timestamp=${Date.now()}&signature=00`);
  t.equal(raw.status, 401);
  t.same(await raw.json(), { code: -2014, msg: 'API-key format invalid.' });
  const badSig = await fetch(`${h.url}/api/v3/account?timestamp=${Date.now()}&signature=${'0'.repeat(64)}`, {
    headers: { 'X-MBX-APIKEY': ALICE.apiKey },
  });
  t.equal(badSig.status, 400);
  t.same(await badSig.json(), { code: -1022, msg: 'Signature for this request is not valid.' });

  const wrong = await h
    .client(ALICE.apiKey, 'wrong')
    .fetchBalance()
    .catch((e: unknown) => e);
  t.ok(wrong instanceof AuthenticationError, 'the error is an instance of ccxt.AuthenticationError');

  h.clock.skewMs = 20_000; // ccxt sends recvWindow=10000
  t.equal(
    await rejectionOf(h.alice.fetchBalance()),
    'InvalidNonce: binance {"code":-1021,"msg":"Timestamp for this request is outside of the recvWindow."}',
  );
  h.clock.skewMs = -5_000;
  t.equal(
    await rejectionOf(h.alice.fetchBalance()),
    'InvalidNonce: binance {"code":-1021,"msg":"Timestamp for this request was 1000ms ahead of the server\'s time."}',
  );
  h.clock.skewMs = 0;
  t.ok((await h.alice.fetchBalance())['USDT'], 'the right secret within the window works');
});

t.test('an order the balance cannot pay for is refused and changes nothing', async (t) => {
  const h = await start(t);
  h.px.onCandle('BTC/USDT', bar(0, 50_000));
  const message = 'InsufficientFunds: binance Account has insufficient balance for requested action.';
  t.equal(await rejectionOf(h.alice.createOrder('BTC/USDT', 'market', 'buy', 0.2)), message); // 10,005 + fee
  t.equal(await rejectionOf(h.alice.createOrder('BTC/USDT', 'market', 'sell', 1.0001)), message);
  t.equal(await rejectionOf(h.alice.createOrder('BTC/USDT', 'limit', 'buy', 0.2, 49_990)), message); // 9,998 + 9.998
  t.same(h.px.account(ALICE.apiKey).balances, {
    USDT: { free: 10_000, locked: 0 },
    BTC: { free: 1, locked: 0 },
  });
  t.same(h.px.orders(ALICE.apiKey), []);
  const e = await h.alice.createOrder('BTC/USDT', 'market', 'buy', 0.2).catch((err: unknown) => err);
  t.ok(e instanceof InsufficientFunds, 'the error is an instance of ccxt.InsufficientFunds');
});

t.test('a client order id is unique among open orders only, and queries find the latest', async (t) => {
  const h = await start(t);
  h.px.onCandle('BTC/USDT', bar(0, 50_000));
  const first = await h.alice.createOrder('BTC/USDT', 'limit', 'buy', 0.01, 49_000, {
    clientOrderId: 'sig-1',
  });
  const duplicate = await h.alice
    .createOrder('BTC/USDT', 'limit', 'buy', 0.01, 48_000, { clientOrderId: 'sig-1' })
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  t.ok(duplicate instanceof InvalidOrder, 'ccxt maps -2010 "Duplicate order sent." to InvalidOrder');
  t.notOk(duplicate instanceof OrderNotFound);
  t.equal((duplicate as Error).message, 'binance {"code":-2010,"msg":"Duplicate order sent."}');
  t.equal(h.px.orders(ALICE.apiKey).length, 1);

  // The same id on another symbol is another order.
  h.px.onCandle('ETH/USDT', bar(0, 3_000));
  await h.alice.createOrder('ETH/USDT', 'limit', 'buy', 0.01, 2_000, { clientOrderId: 'sig-1' });

  h.px.onCandle('BTC/USDT', bar(1, 48_900, { open: 49_500 }));
  t.equal((await h.alice.fetchOrder(String(first.id), 'BTC/USDT')).status, 'closed');
  const second = await h.alice.createOrder('BTC/USDT', 'limit', 'buy', 0.01, 40_000, {
    clientOrderId: 'sig-1',
  });
  t.not(second.id, first.id);
  const found = await h.alice.fetchOrder('', 'BTC/USDT', { clientOrderId: 'sig-1' });
  t.equal(found.id, second.id, 'the most recent order with the id');
  t.equal(found.status, 'open');
  t.equal(
    (await h.alice.fetchOrder(String(first.id), 'BTC/USDT')).status,
    'closed',
    'the older one, by order id',
  );

  t.equal(
    await rejectionOf(
      h.alice.createOrder('BTC/USDT', 'limit', 'buy', 0.01, 40_000, { clientOrderId: 'no spaces' }),
    ),
    'BadRequest: binance {"code":-1100,"msg":"Illegal characters found in parameter \'newClientOrderId\'; legal range is \'^[\\\\.A-Z\\\\:/a-z0-9_-]{1,36}$\'."}',
  );
  t.ok(
    (
      await rejectionOf(
        h.alice.createOrder('BTC/USDT', 'limit', 'buy', 0.01, 40_000, { clientOrderId: 'x'.repeat(37) }),
      )
    ).startsWith('BadRequest'),
  );
});

t.test('unknown orders are OrderNotFound', async (t) => {
  const h = await start(t);
  const notFound = 'OrderNotFound: binance {"code":-2013,"msg":"Order does not exist."}';
  t.equal(await rejectionOf(h.alice.fetchOrder('999', 'BTC/USDT')), notFound);
  t.equal(await rejectionOf(h.alice.fetchOrder('', 'BTC/USDT', { clientOrderId: 'never-sent' })), notFound);
  // Another account's order is as unknown as a missing one.
  h.px.onCandle('BTC/USDT', bar(0, 50_000));
  h.px.addAccount({ apiKey: 'carol-key', secret: 'carol-secret', balances: { USDT: 1_000 } });
  const carols = await h
    .client('carol-key', 'carol-secret')
    .createOrder('BTC/USDT', 'limit', 'buy', 0.001, 40_000);
  t.equal(await rejectionOf(h.alice.fetchOrder(String(carols.id), 'BTC/USDT')), notFound);
  t.equal(
    await rejectionOf(h.alice.cancelOrder(String(carols.id), 'BTC/USDT')),
    'OrderNotFound: binance {"code":-2011,"msg":"Unknown order sent."}',
  );
});

t.test('filter failures: LOT_SIZE and PRICE_FILTER are InvalidOrder, NOTIONAL is BadRequest', async (t) => {
  const h = await start(t);
  h.px.onCandle('BTC/USDT', bar(0, 50_000));
  await h.alice.loadMarkets();
  // ccxt rounds amounts and prices to the market's precision itself, so off-grid values go
  // through its implicit API to reach the server.
  const place = (quantity: string, price: string) =>
    h.alice.privatePostOrder({
      symbol: 'BTCUSDT',
      side: 'BUY',
      type: 'LIMIT',
      timeInForce: 'GTC',
      quantity,
      price,
    });

  const off = await place('0.00015', '49000').then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(off instanceof InvalidOrder && !(off instanceof OrderNotFound));
  t.match((off as Error).message, /\{"code":-1013,"msg":"Filter failure: LOT_SIZE"\}$/);
  t.match(await rejectionOf(place('0.00005', '49000')), /^InvalidOrder: .*"Filter failure: LOT_SIZE"/);
  t.match(await rejectionOf(place('10000000', '1')), /^InvalidOrder: .*"Filter failure: LOT_SIZE"/);
  t.match(await rejectionOf(place('0.001', '49000.005')), /^InvalidOrder: .*"Filter failure: PRICE_FILTER"/);
  t.match(await rejectionOf(place('0.001', '0')), /^InvalidOrder: .*"Filter failure: PRICE_FILTER"/);
  // ccxt matches no class to NOTIONAL's message and maps -1013 to BadRequest, as against Binance.
  t.equal(
    await rejectionOf(h.alice.createOrder('BTC/USDT', 'limit', 'buy', 0.0001, 40_000)),
    'BadRequest: binance {"code":-1013,"msg":"Filter failure: NOTIONAL"}',
  );
  h.px.onCandle('ETH/USDT', bar(0, 3_000));
  t.equal(
    await rejectionOf(h.alice.createOrder('ETH/USDT', 'market', 'buy', 0.001)), // 3 USDT at the latest close
    'BadRequest: binance {"code":-1013,"msg":"Filter failure: NOTIONAL"}',
  );
  t.equal(
    await rejectionOf(place('0.000000001', '49000')),
    'BadRequest: binance {"code":-1111,"msg":"Precision is over the maximum defined for this asset."}',
  );
  const notional = await h.alice
    .createOrder('BTC/USDT', 'limit', 'buy', 0.0001, 40_000)
    .catch((e: unknown) => e);
  t.ok(notional instanceof BadRequest && !(notional instanceof InvalidOrder));
  t.same(h.px.orders(ALICE.apiKey), [], 'no refused order was recorded');
  t.same(h.px.account(ALICE.apiKey).balances['USDT'], { free: 10_000, locked: 0 });
});

t.test(
  'a lost response: the order stands, the client sees a network error and finds it by client id',
  async (t) => {
    const draws = [0.9, 0.1];
    const h = await start(t, { random: () => draws.shift() ?? 0.999 });
    h.px.onCandle('BTC/USDT', bar(0, 50_000));
    h.px.faults.loseResponseRate = 0.5;

    const kept = await h.alice.createOrder('BTC/USDT', 'market', 'buy', 0.01, undefined, {
      clientOrderId: 'a-1',
    });
    t.equal(kept.status, 'closed', 'random 0.9 >= 0.5: answered');
    const lost = await rejectionOf(
      h.alice.createOrder('BTC/USDT', 'market', 'buy', 0.01, undefined, { clientOrderId: 'a-2' }),
    );
    t.match(
      lost,
      /^NetworkError: binance POST http:\/\/127\.0\.0\.1:\d+\/api\/v3\/order fetch failed/,
      'random 0.1 < 0.5: lost',
    );
    t.same(draws, []);
    h.px.faults.loseResponseRate = 1;
    const e = await h.alice
      .createOrder('BTC/USDT', 'market', 'buy', 0.01, undefined, { clientOrderId: 'a-3' })
      .catch((err: unknown) => err);
    t.ok(
      e instanceof NetworkError,
      'the error is an instance of ccxt.NetworkError: the client cannot know the outcome',
    );

    t.same(
      h.px.orders(ALICE.apiKey).map((o) => [o.clientOrderId, o.status]),
      [
        ['a-1', 'FILLED'],
        ['a-2', 'FILLED'],
        ['a-3', 'FILLED'],
      ],
      'the lost order was placed',
    );
    h.px.faults.loseResponseRate = 0;
    const found = await h.alice.fetchOrder('', 'BTC/USDT', { clientOrderId: 'a-2' });
    t.equal(found.status, 'closed');
    t.same((await h.alice.fetchBalance())['BTC'], { free: 1.03, used: 0, total: 1.03 });
  },
);

t.test('not found after create: queries say -2013 for a while after an order is accepted', async (t) => {
  const h = await start(t, { faults: { notFoundAfterCreateMs: 3_000 } });
  h.px.onCandle('BTC/USDT', bar(0, 50_000));
  const order = await h.alice.createOrder('BTC/USDT', 'limit', 'buy', 0.01, 40_000, {
    clientOrderId: 'slow',
  });
  const notFound = 'OrderNotFound: binance {"code":-2013,"msg":"Order does not exist."}';
  t.equal(await rejectionOf(h.alice.fetchOrder(String(order.id), 'BTC/USDT')), notFound);
  t.equal(await rejectionOf(h.alice.fetchOrder('', 'BTC/USDT', { clientOrderId: 'slow' })), notFound);
  t.same(
    (await h.alice.fetchOpenOrders('BTC/USDT')).map((o) => o.id),
    [order.id],
    'other endpoints already see it',
  );
  h.clock.skewMs = 3_000;
  t.equal((await h.alice.fetchOrder('', 'BTC/USDT', { clientOrderId: 'slow' })).status, 'open');
  h.px.faults.notFoundAfterCreateMs = 0;
});

t.test('klines come from the candles received, aggregated to longer intervals', async (t) => {
  const h = await start(t);
  const closes = [100, 101, 99, 103, 104, 102, 105];
  closes.forEach((c, i) =>
    h.px.onCandle('ETH/USDT', bar(i, c, { open: c - 1, high: c + 2, low: c - 3, volume: i + 1 })),
  );
  t.equal(h.px.onCandle('ETH/USDT', bar(2, 1)), false, 'an older bar is ignored');

  const oneMinute = await h.alice.fetchOHLCV('ETH/USDT', '1m');
  t.same(
    oneMinute,
    closes.map((c, i) => [T0 + i * MINUTE, c - 1, c + 2, c - 3, c, i + 1]),
  );
  t.same(await h.alice.fetchOHLCV('ETH/USDT', '1m', T0 + 2 * MINUTE, 2), [
    [T0 + 2 * MINUTE, 98, 101, 96, 99, 3],
    [T0 + 3 * MINUTE, 102, 105, 100, 103, 4],
  ]);
  t.same(
    (await h.alice.fetchOHLCV('ETH/USDT', '1m', undefined, 2)).map((k) => k[0]),
    [T0 + 5 * MINUTE, T0 + 6 * MINUTE],
  );
  t.same(await h.alice.fetchOHLCV('ETH/USDT', '5m'), [
    [T0, 99, 106, 96, 104, 15],
    [T0 + 5 * MINUTE, 101, 107, 99, 105, 13],
  ]);

  // A bar still forming replaces the last one.
  h.px.onCandle('ETH/USDT', bar(6, 106, { open: 104, high: 108, low: 102, volume: 9 }));
  t.same((await h.alice.fetchOHLCV('ETH/USDT', '1m')).at(-1), [T0 + 6 * MINUTE, 104, 108, 102, 106, 9]);
  t.same(await h.alice.fetchOHLCV('BTC/USDT', '1m'), []);
  t.equal(
    await rejectionOf(h.alice.fetchOHLCV('ETH/USDT', '3d')),
    'BadRequest: binance {"code":-1120,"msg":"Invalid interval."}',
  );

  const ticker = await h.alice.fetchTicker('ETH/USDT');
  t.equal(ticker.last, 106);
  t.equal(ticker.high, 108);
  t.equal(ticker.low, 96);

  t.throws(() => h.px.onCandle('ETH/USDT', { ...bar(7, 100), high: 50 }), { code: 'PAPER_ERR_BAD_CANDLE' });
  t.throws(() => h.px.onCandle('DOGE/USDT', bar(7, 1)), { code: 'PAPER_ERR_UNKNOWN_SYMBOL' });
});

t.test('over a seeded random run of orders and candles, balances never go negative and add up', async (t) => {
  const h = await start(t);
  const random = seededRandom(42);
  let price = 50_000;
  let placed = 0;
  for (let i = 0; i < 60; i++) {
    const open = price;
    price = Math.round(price * (1 + (random() - 0.5) * 0.02) * 100) / 100;
    h.px.onCandle(
      'BTC/USDT',
      bar(i, price, { open, high: Math.max(open, price) * 1.002, low: Math.min(open, price) * 0.998 }),
    );
    const side = random() < 0.5 ? 'buy' : 'sell';
    const amount = Math.round(random() * 3000) / 10_000 + 0.0001; // up to 0.3 BTC, about 15,000 USDT
    const roll = random();
    const attempt =
      roll < 0.4
        ? h.alice.createOrder('BTC/USDT', 'market', side, amount)
        : roll < 0.85
          ? h.alice.createOrder(
              'BTC/USDT',
              'limit',
              side,
              amount,
              Math.round(price * (side === 'buy' ? 0.995 : 1.005)),
            )
          : h.alice.fetchOpenOrders('BTC/USDT').then(async (open) => {
              const victim = open[0];
              if (victim) await h.alice.cancelOrder(String(victim.id), 'BTC/USDT');
            });
    const outcome = await rejectionOf(attempt);
    if (outcome === 'accepted') placed += roll < 0.85 ? 1 : 0;
    else t.match(outcome, /^InsufficientFunds: /, `step ${i}: only a lack of funds may refuse an order`);
    balancesNonNegative(t, h.px);
  }
  t.ok(placed > 20, `${placed} orders placed`);

  // Money adds up: the balances are the opening ones plus what the fills moved.
  let usdt = 10_000;
  let btc = 1;
  for (const o of h.px.orders(ALICE.apiKey)) {
    for (const f of o.fills) {
      const notional = f.price * f.qty;
      usdt +=
        o.side === 'BUY' ? -(o.cummulativeQuoteQty + f.commission) : o.cummulativeQuoteQty - f.commission;
      btc += o.side === 'BUY' ? f.qty : -f.qty;
      t.ok(Math.abs(notional - o.cummulativeQuoteQty) < 1e-6);
    }
  }
  const { balances } = h.px.account(ALICE.apiKey);
  const locked = h.px
    .orders(ALICE.apiKey)
    .filter((o) => o.status === 'NEW')
    .reduce(
      (sum, o) => ({
        USDT: sum.USDT + (o.side === 'BUY' ? o.locked : 0),
        BTC: sum.BTC + (o.side === 'SELL' ? o.locked : 0),
      }),
      { USDT: 0, BTC: 0 },
    );
  t.ok(
    Math.abs((balances['USDT']?.free ?? 0) + (balances['USDT']?.locked ?? 0) - usdt) < 1e-6,
    'USDT adds up',
  );
  t.ok(Math.abs((balances['BTC']?.free ?? 0) + (balances['BTC']?.locked ?? 0) - btc) < 1e-6, 'BTC adds up');
  t.ok(Math.abs((balances['USDT']?.locked ?? 0) - locked.USDT) < 1e-6, 'locked USDT is what open buys hold');
  t.ok(Math.abs((balances['BTC']?.locked ?? 0) - locked.BTC) < 1e-6, 'locked BTC is what open sells hold');
});

/** An amount as exact 1e-8 units, from a snapshot number (they are whole units at 8 decimals). */
const units = (x: number): bigint => BigInt(x.toFixed(8).replace('.', ''));

t.test(
  'quoteOrderQty: a market buy by cost spends at most that quote, on the LOT_SIZE grid, the fee on top',
  async (t) => {
    const h = await start(t);
    h.px.onCandle('BTC/USDT', bar(0, 50_000));
    const bodies: string[] = [];
    const send = h.alice.fetchImplementation as (input: string, init: RequestInit) => Promise<Response>;
    h.alice.fetchImplementation = (input: string, init: RequestInit) => {
      if (init?.method === 'POST') bodies.push(String(init.body));
      return send(input, init);
    };
    const buy = await h.alice.createMarketBuyOrderWithCost('BTC/USDT', 100, { clientOrderId: 'q-1' });
    const sent = new URLSearchParams(bodies[0]);
    t.equal(sent.get('quoteOrderQty'), '100', 'ccxt sends the cost as quoteOrderQty');
    t.equal(sent.get('quantity'), null, 'and no quantity');
    // 100 / 50,025 = 0.0019990 BTC, floored to the 0.0001 step: 0.0019 BTC for 95.0475 USDT.
    t.equal(buy.filled, 0.0019);
    t.equal(buy.cost, 95.0475);
    t.equal(buy.clientOrderId, 'q-1');
    const [order] = h.px.orders(ALICE.apiKey);
    t.match(order, {
      origQuoteOrderQty: 100,
      origQty: 0.0019,
      cummulativeQuoteQty: 95.0475,
      status: 'FILLED',
    });
    t.same(h.px.account(ALICE.apiKey).balances, {
      USDT: { free: 9_904.8574525, locked: 0 }, // − 95.0475 − 0.0950475 fee (10 bps)
      BTC: { free: 1.0019, locked: 0 },
    });
    // Found again by client order id, as the device reconciles.
    const found = await h.alice.fetchOrder('', 'BTC/USDT', { clientOrderId: 'q-1' });
    t.match(found, { status: 'closed', filled: 0.0019, cost: 95.0475 });
  },
);

t.test(
  'quoteOrderQty: over random prices and amounts, never a unit more than asked, and the most the grid allows',
  async (t) => {
    const h = await start(t, { costs: { slippageBps: 7, feeBps: 7.5 } });
    h.px.addAccount({ apiKey: 'rich-key', secret: 'rich-secret', balances: { USDT: 10_000_000, ETH: 100 } });
    const rich = h.client('rich-key', 'rich-secret');
    const random = seededRandom(8);
    const step = units(0.001); // ETH/USDT's LOT_SIZE step
    for (let i = 0; i < 40; i++) {
      const close = Math.round((50 + random() * 9_950) * 100) / 100; // 50.00 .. 10,000.00
      h.px.onCandle('ETH/USDT', bar(i, close));
      const quote = Math.round((10 + random() * 5_000) * 100) / 100;
      const side = i % 4 === 3 ? 'sell' : 'buy';
      const before = h.px.account('rich-key').balances;
      const o =
        side === 'buy'
          ? await rich.createMarketBuyOrderWithCost('ETH/USDT', quote)
          : await rich.createMarketSellOrderWithCost('ETH/USDT', quote);
      const snap = h.px.orders('rich-key').at(-1)!;
      const [fill] = snap.fills;
      const asked = units(quote);
      const paid = units(snap.cummulativeQuoteQty);
      const price = units(fill!.price);
      const qty = units(snap.executedQty);
      t.equal(units(snap.origQuoteOrderQty), asked, `${i}: the order records what was asked`);
      t.ok(paid <= asked, `${i}: ${side} of ${quote} at ${close}: ${snap.cummulativeQuoteQty} <= ${quote}`);
      t.equal(paid, (qty * price) / 10n ** 8n, `${i}: the notional is quantity x fill price, rounded down`);
      t.ok(((qty + step) * price) / 10n ** 8n > asked, `${i}: one more step would pass what was asked`);
      t.equal(qty % step, 0n, `${i}: on the LOT_SIZE grid`);
      const usdt = units(h.px.account('rich-key').balances['USDT']!.free) - units(before['USDT']!.free);
      const fee = units(fill!.commission);
      t.equal(
        usdt,
        side === 'buy' ? -(paid + fee) : paid - fee,
        `${i}: the balance moved by exactly that, fee included`,
      );
      t.ok(o.cost !== undefined && o.cost <= quote, `${i}: ccxt's cost ${o.cost} <= ${quote}`);
    }
  },
);

t.test('quoteOrderQty is refused as Binance refuses it, and a refusal changes nothing', async (t) => {
  const h = await start(t);
  h.px.onCandle('BTC/USDT', bar(0, 50_000));
  const order = (params: Record<string, string>) =>
    rejectionOf(h.alice.privatePostOrder({ symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', ...params }));
  t.equal(
    await order({ quantity: '0.01', quoteOrderQty: '100' }),
    'BadRequest: binance {"code":-1106,"msg":"Parameter \'quoteOrderQty\' sent when not required."}',
    'both quantity and quoteOrderQty',
  );
  t.equal(
    await order({}),
    'BadRequest: binance {"code":-1102,"msg":"Param \'quantity\' or \'quoteOrderQty\' must be sent, but both were empty/null!"}',
    'neither',
  );
  t.equal(
    await order({
      type: 'LIMIT',
      timeInForce: 'GTC',
      price: '50000',
      quantity: '0.01',
      quoteOrderQty: '100',
    }),
    'BadRequest: binance {"code":-1106,"msg":"Parameter \'quoteOrderQty\' sent when not required."}',
    'quoteOrderQty on a limit order',
  );
  t.equal(
    await order({ quoteOrderQty: '100.123456789' }),
    'BadRequest: binance {"code":-1111,"msg":"Precision is over the maximum defined for this asset."}',
    'more than 8 decimals',
  );
  t.equal(
    await order({ quoteOrderQty: '4' }),
    'InvalidOrder: binance order amount should be evenly divisible by lot size {"code":-1013,"msg":"Filter failure: LOT_SIZE"}',
    'too little quote for one step',
  );
  t.equal(
    await order({ quoteOrderQty: '9995' }),
    'InsufficientFunds: binance Account has insufficient balance for requested action.',
    'the quote and its fee are more than the balance',
  );
  t.same(h.px.orders(ALICE.apiKey), []);
  t.same(h.px.account(ALICE.apiKey).balances, {
    USDT: { free: 10_000, locked: 0 },
    BTC: { free: 1, locked: 0 },
  });
});

t.test(
  'the ticker a device asks before a buy is the latest close; before any candle it has none',
  async (t) => {
    const h = await start(t);
    await h.alice.loadMarkets();
    t.equal((await h.alice.fetchTicker('BTC/USDT')).last, undefined, 'no candle yet: no price');
    h.px.onCandle('BTC/USDT', bar(0, 50_000, { open: 49_000 }));
    h.px.onCandle('BTC/USDT', bar(1, 50_123.45));
    t.equal((await h.alice.fetchTicker('BTC/USDT')).last, 50_123.45);
    h.px.faults.tickerUnavailable = true;
    const down = await h.alice.fetchTicker('BTC/USDT').catch((err: unknown) => err);
    t.ok(down instanceof NetworkError, 'a ticker outage is a network error: no price, never a made-up one');
    t.equal((await fetch(`${h.url}/api/v3/ticker/price?symbol=BTCUSDT`)).status, 503);
    await h.alice.createOrder('BTC/USDT', 'market', 'sell', 0.01);
    t.equal(h.px.orders(ALICE.apiKey).length, 1, 'orders still fill at the latest close meanwhile');
    h.px.faults.tickerUnavailable = false;
    t.equal((await h.alice.fetchTicker('BTC/USDT')).last, 50_123.45, 'and the price is back with the ticker');
  },
);

t.test(
  'candles unavailable: klines answer 503 and ccxt fetchOHLCV fails, the rest still answers',
  async (t) => {
    const h = await start(t);
    h.px.onCandle('BTC/USDT', bar(0, 50_000));
    t.equal((await h.alice.fetchOHLCV('BTC/USDT', '1m')).length, 1);
    h.px.faults.candlesUnavailable = true;
    const down = await h.alice.fetchOHLCV('BTC/USDT', '1m').catch((err: unknown) => err);
    t.ok(down instanceof NetworkError, 'a candle outage is a network error to ccxt');
    t.match(String(down), /503 Service Unavailable/);
    const raw = await fetch(`${h.url}/api/v3/klines?symbol=BTCUSDT&interval=1m`);
    t.equal(raw.status, 503);
    t.equal((await h.alice.fetchTicker('BTC/USDT')).last, 50_000, 'the tickers still answer');
    h.px.faults.candlesUnavailable = false;
    t.same(
      (await h.alice.fetchOHLCV('BTC/USDT', '1m')).map((k) => k[4]),
      [50_000],
      'and the candles are back',
    );
  },
);

t.test('latency: every response, refusals and 503s too, waits latencyMs', async (t) => {
  const h = await start(t, { faults: { latencyMs: 150 } });
  h.px.onCandle('BTC/USDT', bar(0, 50_000));
  const timed = async (url: string) => {
    const started = performance.now();
    const res = await fetch(`${h.url}${url}`);
    await res.arrayBuffer();
    return { status: res.status, ms: performance.now() - started };
  };
  const ok = await timed('/api/v3/klines?symbol=BTCUSDT&interval=1m');
  t.equal(ok.status, 200);
  t.ok(ok.ms >= 145, `an answer waited ${ok.ms.toFixed(0)} ms`);
  const refused = await timed('/api/v3/klines?symbol=NOPEUSDT&interval=1m');
  t.equal(refused.status, 400);
  t.ok(refused.ms >= 145, `a refusal waited ${refused.ms.toFixed(0)} ms`);
  h.px.faults.candlesUnavailable = true;
  const outage = await timed('/api/v3/klines?symbol=BTCUSDT&interval=1m');
  t.equal(outage.status, 503);
  t.ok(outage.ms >= 145, `a 503 waited ${outage.ms.toFixed(0)} ms`);
  h.px.faults.candlesUnavailable = false;
  h.px.faults.latencyMs = 0;
  const fast = await timed('/api/v3/klines?symbol=BTCUSDT&interval=1m');
  t.ok(fast.ms < 145, `with latencyMs 0 it answers at once (${fast.ms.toFixed(0)} ms)`);
  h.px.faults.latencyMs = 120;
  const started = performance.now();
  t.equal((await h.alice.fetchOHLCV('BTC/USDT', '1m')).length, 1, 'ccxt still gets its answer');
  t.ok(performance.now() - started >= 115, 'only later');
});

t.test('options are checked and name what is wrong', async (t) => {
  const base = { markets: MARKETS, costs: { slippageBps: 5, feeBps: 10 } };
  t.throws(() => createPaperExchange({ ...base, markets: [] }), {
    code: 'PAPER_ERR_INVALID_OPTION',
    message: 'markets must list at least one market',
  });
  t.throws(() => createPaperExchange({ ...base, costs: { slippageBps: 5, feeBps: 10_000 } }), {
    message: 'costs.feeBps must be in [0, 10000), got 10000',
  });
  t.throws(() => createPaperExchange({ ...base, markets: [{ ...MARKETS[0]!, stepSize: 0 }] }), {
    message: 'markets[BTC/USDT].stepSize must be a positive amount with at most 8 decimals, got 0',
  });
  t.throws(() => createPaperExchange({ ...base, markets: [{ ...MARKETS[0]!, symbol: 'BTCUSDT' }] }), {
    message: "markets[BTCUSDT].symbol must be 'BTC/USDT' for base BTC and quote USDT",
  });
  t.throws(
    () => createPaperExchange({ ...base, accounts: [{ apiKey: 'has space', secret: 's', balances: {} }] }),
    { message: 'accounts[].apiKey must be 1 to 128 printable ASCII characters without spaces' },
  );
  t.throws(() => createPaperExchange({ ...base, faults: { candlesUnavailable: 1 as unknown as boolean } }), {
    code: 'PAPER_ERR_INVALID_OPTION',
    message: 'faults.candlesUnavailable must be true or false, got 1',
  });
  t.throws(() => createPaperExchange({ ...base, faults: { latencyMs: -1 } }), {
    message: 'faults.latencyMs must be a finite number >= 0, got -1',
  });
  t.throws(() => createPaperExchange({ ...base, faults: { latencyMs: Number.POSITIVE_INFINITY } }), {
    message: 'faults.latencyMs must be a finite number >= 0, got Infinity',
  });
  t.throws(() => createPaperExchange({ ...base, faults: { latencyMs: 600_001 } }), {
    message: 'faults.latencyMs must be at most 600000 (10 minutes), got 600001',
  });
  t.throws(
    () => createPaperExchange({ ...base, accounts: [{ apiKey: 'k', secret: 's', balances: { USDT: -1 } }] }),
    {
      message: 'accounts[k].balances.USDT must be an upper-case asset with a finite amount >= 0, got -1',
    },
  );
});

t.test('no ccxt request of this file went anywhere but the paper exchanges on 127.0.0.1', async (t) => {
  t.ok(requested.length > 50, `${requested.length} requests seen`);
  const elsewhere = requested.filter((u) => !baseUrls.some((b) => u.startsWith(`${b}/`)));
  t.same(elsewhere, []);
  t.ok(baseUrls.every((b) => /^http:\/\/127\.0\.0\.1:\d+$/.test(b)));
});
