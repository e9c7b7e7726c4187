/**
 * Issue #8, finding 7: "the spending caps bind the signal's price, not what is paid". A correctly
 * signed buy at 5,000 while the market stood at 50,000 bought 0.02 BTC (100 USDT / 5,000) and
 * paid 1,000.5 USDT against orderQuote 100 and maxOrderQuote 250; a signed price of 1e308
 * became the holding's valuation. Reproduced here end to end: signed signals through the
 * gateway to a device whose real ccxt binance class trades on the paper exchange.
 */
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import type { Test } from 'tap';
import WebSocket, { WebSocketServer } from 'ws';
import { MAX_PRICE as PROTOCOL_MAX_PRICE, TOPICS, type Telemetry } from '@appliance/protocol';
import { MAX_PRICE as DECIDE_MAX_PRICE } from '@appliance/trading-core';
import { waitFor } from '@appliance/test-kit';
import { clientOrderId } from '../src/index.js';
import { statusView } from '../src/status.js';
import { startStack } from './stack.js';

/** Exact 1e-8 units of an amount the paper exchange reports (whole units at 8 decimals). */
const units = (x: number): bigint => BigInt(x.toFixed(8).replace('.', ''));

const MARKET = 50_000;

t.test('the protocol and decide bound prices alike', async (t) => {
  t.equal(PROTOCOL_MAX_PRICE, DECIDE_MAX_PRICE);
});

t.test(
  "a correctly signed buy at a tenth of the exchange's price is refused (R_PRICE_DEVIATION): no order, nothing paid",
  async (t) => {
    const stack = await startStack(t, { policy: { orderQuote: 100, maxOrderQuote: 250 } });
    const dev = await stack.device({ keys: stack.account(10_000) });
    const s = await stack.signal('buy', 5_000, {}, stack.feed, MARKET);
    await dev.until(1);
    t.match(dev.decisions[0], { signalId: s.id, outcome: 'rejected', code: 'R_PRICE_DEVIATION' });
    t.equal(
      dev.decisions[0]!.reason,
      "The signal's price of 5000 USDT is 90% below the exchange's current price of 50000 USDT; the most allowed is 1%, so it was not acted on",
    );
    t.same(stack.paper.orders(dev.keys.apiKey), [], 'no order reached the exchange');
    t.same(stack.paper.account(dev.keys.apiKey).balances, { USDT: { free: 10_000, locked: 0 } });
    t.same(dev.store.data.spends, [], 'nothing spent');
    t.same(dev.client.runtime().marks, { 'BTC/USDT': MARKET }, "the mark is the exchange's price");
  },
);

t.test(
  'signed buys within the deviation pay at most maxOrderQuote and maxSpendPerDay, to the atom, whatever their price',
  async (t) => {
    // orderQuote above maxOrderQuote: the per-order cap binds; then the day's cap.
    const stack = await startStack(t, {
      policy: { orderQuote: 300, maxOrderQuote: 250, maxSpendPerDay: 400 },
    });
    const dev = await stack.device({ keys: stack.account(10_000) });
    await stack.signal('buy', 49_600, {}, stack.feed, MARKET); // 0.8 % below the exchange
    await stack.signal('buy', 50_400, {}, stack.feed, MARKET); // 0.8 % above
    await stack.signal('buy', 50_000, {}, stack.feed, MARKET);
    await dev.until(3);
    t.same(
      dev.decisions.map((d) => `${d.outcome} ${d.code}`),
      ['executed OK', 'executed OK', 'rejected R_DAILY_LIMIT'],
    );
    const orders = stack.paper.orders(dev.keys.apiKey);
    const intents = Object.values(dev.store.data.intents).sort((a, b) => a.createdAt - b.createdAt);
    t.same(
      intents.map((i) => i.quote),
      [250, 150],
      'sized at the exchange price: 250 (order cap), then what is left of the 400 day',
    );
    t.same(
      orders.map((o) => o.origQuoteOrderQty),
      [250, 150],
      'sent as quoteOrderQty, never as a quantity from the signal price',
    );
    // 250 / 50,025 (5 bps slippage) = 0.0049975 -> 0.00499 BTC; 150 / 50,025 -> 0.00299 BTC.
    t.same(
      orders.map((o) => [o.executedQty, o.cummulativeQuoteQty]),
      [
        [0.00499, 249.62475],
        [0.00299, 149.57475],
      ],
    );
    let paid = 0n;
    for (const o of orders) {
      t.ok(
        units(o.cummulativeQuoteQty) <= units(o.origQuoteOrderQty),
        'no order paid more than it was given',
      );
      paid += units(o.cummulativeQuoteQty) + units(o.fills[0]!.commission);
    }
    const notional = orders.reduce((sum, o) => sum + units(o.cummulativeQuoteQty), 0n);
    t.ok(notional <= units(400), `all buys of the day paid ${notional} units <= maxSpendPerDay 400`);
    t.equal(paid, units(249.62475 + 0.24962475 + 149.57475 + 0.14957475), 'fees of 10 bps on top');
    t.same(stack.paper.account(dev.keys.apiKey).balances, {
      USDT: { free: 9_600.4013005, locked: 0 }, // 10,000 − 399.1995 − 0.3991995, to the atom
      BTC: { free: 0.00798, locked: 0 },
    });
    t.same(
      dev.store.data.spends.map((x) => x.quote),
      [249.62475, 149.57475],
      'the day counts what was paid',
    );
  },
);

/**
 * A gateway that relays whatever it is told to: the frames between the device and the real
 * gateway pass through, and `inject` sends the device a frame of our own (a compromised or
 * misconfigured gateway; the real one verifies signals and drops a malformed one).
 */
async function relay(t: Test, gatewayUrl: string) {
  const proxy = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await once(proxy, 'listening');
  t.teardown(() => proxy.close());
  let device: WebSocket | undefined;
  proxy.on('connection', (ws, req) => {
    device = ws;
    const upstream = new WebSocket(gatewayUrl, {
      headers: { authorization: req.headers.authorization ?? '' },
    });
    const queued: string[] = [];
    upstream.on('open', () => queued.splice(0).forEach((m) => upstream.send(m)));
    ws.on('message', (d) => {
      if (upstream.readyState === WebSocket.OPEN) upstream.send(d.toString());
      else queued.push(d.toString());
    });
    upstream.on('message', (d) => ws.readyState === WebSocket.OPEN && ws.send(d.toString()));
    upstream.on('close', () => ws.close());
    ws.on('close', () => upstream.close());
  });
  return {
    url: `ws://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
    inject: (frame: unknown) => device!.send(JSON.stringify(frame)),
  };
}

t.test(
  'a signed price of 1e308 is refused at the schema; signal prices never become the valuation',
  async (t) => {
    const stack = await startStack(t);
    const telemetry: Telemetry[] = [];
    await stack.bus.subscribe({
      topic: TOPICS.telemetry,
      from: 'latest',
      onMessage: (m) => {
        const frame = JSON.parse(m.value.toString()) as Telemetry;
        if (frame.type === 'telemetry') telemetry.push(frame);
      },
    });
    const gatewayUrl = ((await stack.deviceConfig('dev-1', 'x')) as { gatewayUrl: string }).gatewayUrl;
    const gateway = await relay(t, gatewayUrl);
    const dev = await stack.device({
      keys: stack.account(10_000),
      config: { gatewayUrl: gateway.url, telemetryIntervalMs: 100 },
    });
    await stack.signal('buy', MARKET);
    await dev.until(1);
    t.match(dev.decisions[0], { outcome: 'executed' });
    const balances = () => stack.paper.account(dev.keys.apiKey).balances;
    const held = balances()['BTC']!.free;
    const usdt = balances()['USDT']!.free;
    const value = () =>
      statusView(dev.store.data, dev.client.runtime(), 'USDT', Date.now()).holdings[0]?.value;
    t.equal(value(), held * MARKET, 'holdings valued at the exchange price');

    // Through the bus: signed, but the gateway drops it; and a buy in bounds but 20 % off.
    const huge = await stack.signal('sell', 1e308, {}, stack.feed, MARKET);
    const off = await stack.signal('buy', 60_000, {}, stack.feed, MARKET);
    await waitFor(() => dev.decisions.some((d) => d.signalId === off.id), 'the decision on the 20 % signal');
    t.match(dev.decisions.at(-1), { signalId: off.id, outcome: 'rejected', code: 'R_PRICE_DEVIATION' });
    t.notOk(
      dev.decisions.some((d) => d.signalId === huge.id && d.code !== 'E_MALFORMED'),
      'the 1e308 signal was never acted on',
    );
    // Relayed to the device anyway: its own schema check refuses it.
    const before = dev.decisions.length;
    gateway.inject({ type: 'signal', stream: huge.stream, offset: '999', signal: huge });
    await dev.until(before + 1);
    t.match(dev.decisions.at(-1), {
      signalId: huge.id,
      outcome: 'rejected',
      code: 'E_MALFORMED',
      reason: 'malformed signal: price: Too big: expected number to be <=1000000000',
    });
    t.same(dev.client.runtime().marks, { 'BTC/USDT': MARKET }, 'the marks are still the exchange price');
    t.equal(value(), held * MARKET, 'the valuation is unchanged');
    t.equal(stack.paper.orders(dev.keys.apiKey).length, 1, 'nothing traded');
    t.same(balances(), { USDT: { free: usdt, locked: 0 }, BTC: { free: held, locked: 0 } });
    const since = telemetry.length;
    await waitFor(() => telemetry.length > since + 1, 'telemetry after the signals');
    const last = telemetry.at(-1)!;
    t.equal(last.equity, usdt + held * MARKET, 'telemetry values the holding at the exchange price');
    t.same(last.positions, { BTC: held });
  },
);

t.test(
  "without the exchange's price no buy is placed; a sell still goes through, even far from the signal's price",
  async (t) => {
    const stack = await startStack(t);
    const dev = await stack.device({ keys: stack.account(10_000) });
    await stack.signal('buy', MARKET);
    await dev.until(1);
    stack.paper.faults.tickerUnavailable = true;
    await stack.signal('buy', MARKET);
    await dev.until(2);
    t.match(dev.decisions[1], { outcome: 'rejected', code: 'R_NO_MARKET_PRICE' });
    t.equal(
      dev.decisions[1]!.reason,
      "Buying is off: the exchange's current price for BTC/USDT is not known, so the signal's price cannot be checked against it",
    );
    t.equal(stack.paper.orders(dev.keys.apiKey).length, 1, 'no second buy');
    // A crash: the signal says 50,000 (the candle's close) while the exchange is at 40,000.
    await stack.signal('sell', MARKET, {}, stack.feed, 40_000);
    await dev.until(3);
    t.match(dev.decisions[2], { side: 'sell', outcome: 'executed' }, 'sold with the ticker down');
    stack.paper.faults.tickerUnavailable = false;
    await stack.signal('sell', 50_000, {}, stack.feed, 40_000);
    await dev.until(4);
    t.match(dev.decisions[3], { side: 'sell', outcome: 'rejected', code: 'R_NOTHING_TO_SELL' });
    t.equal(stack.paper.account(dev.keys.apiKey).balances['BTC']!.free, 0, 'everything was sold');
  },
);

t.test(
  'a pending buy journalled without a quote amount (an older version, sized at a signal price) is never sent',
  async (t) => {
    const stack = await startStack(t);
    const keys = stack.account(10_000);
    const dev = await stack.device({ keys });
    await dev.client.stop();
    const s = await stack.signal('buy', MARKET);
    const id = clientOrderId('dev-1', s.id);
    const state = JSON.parse(readFileSync(dev.stateFile, 'utf8'));
    state.intents[id] = {
      clientOrderId: id,
      signalId: s.id,
      stream: s.stream,
      offset: '0',
      symbol: 'BTC/USDT',
      side: 'buy',
      amount: 0.02, // 100 USDT at a signed 5,000: 1,000 USDT at the market
      expiresAt: Date.now() + 60_000,
      createdAt: Date.now(),
      status: 'pending',
      attempts: 1,
    };
    state.seen.push([s.id, Date.now() + 70_000]);
    state.lastCandle[`${s.stream} ${s.symbol}`] = s.candleTime;
    writeFileSync(dev.stateFile, JSON.stringify(state));
    const again = await stack.device({
      keys,
      stateFile: dev.stateFile,
      config: { execution: { notFoundGraceMs: 300, notFoundLookups: 3, lookupIntervalMs: 50 } },
    });
    const intent = again.store.data.intents[id];
    t.match(intent, {
      status: 'failed',
      error: { code: 'E_ORDER_REJECTED', message: 'a buy without a quote amount is not sent' },
    });
    t.same(stack.paper.orders(keys.apiKey), [], 'nothing reached the exchange');
    t.match(again.decisions, [{ signalId: s.id, outcome: 'failed', code: 'E_ORDER_REJECTED' }]);
  },
);
