/**
 * `@appliance/runtime/ccxt` takes ccxt's binance and error classes from ccxt's own module files
 * rather than its index (runtime/src/ccxt/classes.ts). They must be the very classes the index
 * exports, so an error thrown by a `binance` made either way is recognised by `instanceof`: a
 * path that reached another copy of ccxt would give look-alike classes and fail here.
 */
import t from 'tap';
import index from 'ccxt';
import { ccxt, createBinance } from '../src/ccxt/index.js';

t.test("the classes are the ones ccxt's index exports", async (t) => {
  t.equal(ccxt.binance, index.binance, 'binance');
  const errorNames = Object.keys(ccxt).filter((k) => k !== 'binance');
  t.ok(errorNames.length >= 30, `ccxt's error classes are all there (${errorNames.length})`);
  for (const name of [
    'BaseError',
    'NetworkError',
    'AuthenticationError',
    'InsufficientFunds',
    'OrderNotFound',
  ])
    t.ok(errorNames.includes(name), name);
  const differ = errorNames.filter((k) => ccxt[k as keyof typeof ccxt] !== index[k as keyof typeof index]);
  t.same(differ, [], 'every error class is the index one');
});

t.test("an error a binance throws is an instance of the index's classes and ours", async (t) => {
  // Nothing listens on port 9: the request fails as a network error, inside ccxt.
  const exchange = createBinance({ baseUrl: 'http://127.0.0.1:9', timeoutMs: 2_000 });
  const err = await exchange.fetchTicker('BTC/USDT').then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(err instanceof ccxt.NetworkError, 'ours');
  t.ok(err instanceof index.NetworkError, "the index's");
});
