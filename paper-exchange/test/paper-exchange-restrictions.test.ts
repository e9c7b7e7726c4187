import t from 'tap';
import type { Test } from 'tap';
import { binance } from 'ccxt';
import { rejectionOf } from '@appliance/test-kit';
import { DEFAULT_FILL_COSTS } from '@appliance/trading-core';
import { DEFAULT_MARKETS } from '../src/default-markets.js';
import { createPaperExchange } from '../src/index.js';
import { paperExchangeCcxtConfig } from '../src/ccxt-config.js';

const TRADER = { apiKey: 'trader-key', secret: 'trader-secret' };
const WITHDRAWER = { apiKey: 'withdrawer-key', secret: 'withdrawer-secret' };
const T0 = 1_700_000_000_000;

async function start(t: Test) {
  const px = createPaperExchange({
    markets: DEFAULT_MARKETS,
    costs: DEFAULT_FILL_COSTS,
    accounts: [
      { ...TRADER, balances: { USDT: 100 } },
      { ...WITHDRAWER, balances: { USDT: 100 }, canWithdraw: true },
    ],
  });
  const url = await px.listen();
  t.teardown(() => px.close());
  const requested: string[] = [];
  const client = (keys: { apiKey: string; secret: string }) => {
    const ex = new binance({ ...keys, enableRateLimit: false, ...paperExchangeCcxtConfig(url) });
    ex.fetchImplementation = (input: string, init: RequestInit) => {
      requested.push(input);
      return fetch(input, init);
    };
    return ex;
  };
  return { px, url, client, requested };
}

t.test("apiRestrictions answers Binance's shape with enableWithdrawals from canWithdraw", async (t) => {
  const before = Date.now();
  const h = await start(t);
  const trader = await h.client(TRADER).sapiGetAccountApiRestrictions();
  const createTime = trader.createTime as number;
  t.ok(createTime >= before && createTime <= Date.now(), 'createTime is when the exchange started');
  t.same(trader, {
    ipRestrict: false,
    createTime,
    enableReading: true,
    enableSpotAndMarginTrading: true,
    enableWithdrawals: false,
    enableInternalTransfer: false,
    enableMargin: false,
    enableFutures: false,
    permitsUniversalTransfer: false,
    enableVanillaOptions: false,
    enableFixApiTrade: false,
    enableFixReadOnly: false,
    enablePortfolioMarginTrading: false,
  });
  const withdrawer = await h.client(WITHDRAWER).sapiGetAccountApiRestrictions();
  t.equal(withdrawer.enableWithdrawals, true);
  t.equal(withdrawer.ipRestrict, true, 'Binance allows withdrawals only on IP-restricted keys');
  t.ok(
    h.requested.every((u) => u.startsWith(`${h.url}/sapi/v1/account/apiRestrictions?timestamp=`)),
    'ccxt reaches it on the paper exchange, signed',
  );
});

t.test('apiRestrictions is signed like every private endpoint', async (t) => {
  const h = await start(t);
  t.equal(
    await rejectionOf(
      h.client({ apiKey: TRADER.apiKey, secret: 'wrong-secret' }).sapiGetAccountApiRestrictions(),
    ),
    'AuthenticationError: binance {"code":-1022,"msg":"Signature for this request is not valid."}',
  );
  t.equal(
    await rejectionOf(h.client({ apiKey: 'nobody-key', secret: 'x' }).sapiGetAccountApiRestrictions()),
    'AuthenticationError: binance {"code":-2015,"msg":"Invalid API-key, IP, or permissions for action."}',
  );
  const unsigned = await fetch(`${h.url}/sapi/v1/account/apiRestrictions?timestamp=${Date.now()}`, {
    headers: { 'X-MBX-APIKEY': TRADER.apiKey },
  });
  t.equal(unsigned.status, 400);
  t.same(await unsigned.json(), {
    code: -1102,
    msg: "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.",
  });
  const anonymous = await fetch(`${h.url}/sapi/v1/account/apiRestrictions?timestamp=${T0}&signature=00`);
  t.equal(anonymous.status, 401);
  t.same(await anonymous.json(), { code: -2014, msg: 'API-key format invalid.' });
});
