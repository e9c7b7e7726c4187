import { writeFileSync, readFileSync } from 'node:fs';
import t from 'tap';
import { createSignal, generateSigner } from '@appliance/protocol';
import { Ledger } from '@appliance/trading-core';
import { createBinance } from '@appliance/runtime/ccxt';
import { rejectionOf, waitFor } from '@appliance/test-kit';
import { clientOrderId, openStateStore } from '../src/index.js';
import { startFakeGateway } from './fake-gateway.js';
import { startStack } from './stack.js';

/** A short not-found grace so the tests run quickly; the exchange's lag is set below it. */
const FAST = { notFoundGraceMs: 300, notFoundLookups: 3, lookupIntervalMs: 50 };

t.test(
  'a valid buy is executed once with the derived client id, and the books match the exchange',
  async (t) => {
    const stack = await startStack(t);
    const dev = await stack.device();
    const s = await stack.signal('buy', 40_000);
    await dev.until(1);
    t.equal(dev.client.connected, true, 'connected, read live from outside');
    t.match(dev.decisions[0], { signalId: s.id, outcome: 'executed', code: 'OK', side: 'buy' });
    const orders = stack.paper.orders(dev.keys.apiKey);
    t.equal(orders.length, 1);
    t.equal(orders[0]!.clientOrderId, clientOrderId('dev-1', s.id));
    t.equal(dev.store.data.fills, 1);
    const books = Ledger.fromJSON(dev.store.data.ledger);
    t.ok(books.isBalanced(), 'the device books balance');
    const acct = stack.paper.account(dev.keys.apiKey);
    t.equal(
      books.cash().toFixed(6),
      Number(acct.balances.USDT!.free).toFixed(6),
      'book cash equals exchange USDT',
    );
    t.equal(
      books.position('BTC').quantity,
      Number(acct.balances.BTC!.free),
      'book position equals exchange BTC',
    );
  },
);

t.test(
  'forged, unknown-key, expired and replayed signals are rejected with their codes and trade nothing',
  async (t) => {
    const stack = await startStack(t);
    const dev = await stack.device();
    const good = await stack.signal('buy', 40_000);
    await dev.until(1);
    await stack.publishRaw({ ...good, price: 1 }); // forged: a signed field changed
    await stack.publishRaw(good); // replayed verbatim
    await stack.signal('buy', 40_000, {}, generateSigner()); // a key nobody pinned
    await stack.signal('buy', 40_000, { ts: Date.now() - 120_000 }); // expired
    await stack.publishRaw({ stream: 'ema.1h', hello: 'world' }); // not a signal at all
    await dev.until(3);
    // The gateway verifies too: the forged, unknown-key and malformed records never reach the device.
    t.same(
      dev.decisions.slice(1).map((d) => `${d.outcome} ${d.code}`),
      ['rejected E_REPLAYED', 'rejected E_EXPIRED'],
    );
    t.match(dev.decisions[2]!.reason, /^signal expired \d+ ms ago$/);
    // A gateway that relays anything (compromised, or older): the device refuses them itself.
    const relay = await startFakeGateway(t);
    const direct = await stack.device({ id: 'dev-2', config: { gatewayUrl: relay.url } });
    const { v: _v, id: _id, kid: _kid, sig: _sig, ...draft } = good;
    for (const [offset, signal] of [
      { ...good, price: 1 },
      createSignal({ ...draft, ts: Date.now() }, generateSigner()),
      { stream: 'ema.1h', hello: 'world' },
    ].entries())
      relay.send({ type: 'signal', stream: 'ema.1h', offset: String(offset + 1), signal });
    await direct.until(3);
    t.same(
      direct.decisions.map((d) => `${d.outcome} ${d.code}`),
      ['rejected E_BAD_SIGNATURE', 'rejected E_UNKNOWN_KEY', 'rejected E_MALFORMED'],
    );
    t.same(direct.store.data.resume, {}, 'and none of them is a resume point');
    t.equal(stack.paper.orders(dev.keys.apiKey).length, 1, 'only the genuine signal traded');
    t.equal(stack.paper.orders(direct.keys.apiKey).length, 0);
  },
);

t.test(
  'a re-signed signal for a candle already acted on is refused even after its id is forgotten',
  async (t) => {
    const stack = await startStack(t);
    const dev = await stack.device({ config: { maxClockSkewMs: 0 } });
    const first = await stack.signal('buy', 40_000, { ttlMs: 300 });
    await dev.until(1);
    t.match(dev.decisions[0], { outcome: 'executed' });
    // Past its ttl the replay guard forgets the id: wait for exactly that, on the clock it reads.
    await waitFor(() => Date.now() > first.ts + first.ttlMs + 1, 'the signal’s ttl to pass');
    // A replayed feed signing the same old candle again, with a fresh ts and the other side.
    const { v: _v, id: _id, kid: _kid, sig: _sig, ...draft } = first;
    await stack.publishRaw(
      createSignal({ ...draft, side: 'sell', ts: Date.now(), ttlMs: 60_000 }, stack.feed),
    );
    await dev.until(2);
    t.match(dev.decisions[1], { outcome: 'rejected', code: 'E_REPLAYED' });
    t.equal(
      dev.decisions[1]!.reason,
      `signal for candle ${first.candleTime} is not newer than one already handled (${first.candleTime})`,
    );
    t.equal(stack.paper.orders(dev.keys.apiKey).length, 1);
  },
);

t.test('sells sell what is held, and the daily limit caps buys', async (t) => {
  const stack = await startStack(t, { policy: { orderQuote: 100, maxSpendPerDay: 150 } });
  const dev = await stack.device({ keys: stack.account(10_000) });
  await stack.signal('sell', 40_000);
  await stack.signal('buy', 40_000);
  await stack.signal('buy', 40_000);
  await stack.signal('buy', 40_000);
  await stack.signal('sell', 40_100); // within 1 % of the buys: the buys may see this price
  await dev.until(5);
  t.same(
    dev.decisions.map((d) => `${d.side} ${d.outcome} ${d.code}`),
    [
      'sell rejected R_NOTHING_TO_SELL',
      'buy executed OK',
      'buy executed OK',
      'buy rejected R_DAILY_LIMIT',
      'sell executed OK',
    ],
  );
  // Buys are sized by quote; the exchange spends a little less (its lot step), so a little is left.
  t.match(
    dev.decisions[3]!.reason,
    /^Only \d\.\d\d USDT of today's 150\.00 USDT spending limit is left, below the exchange's minimum order for BTC\/USDT \(5\.\d\d USDT\)$/,
  );
  const orders = stack.paper.orders(dev.keys.apiKey);
  t.equal(
    Number(orders[4 - 3]!.origQty) < Number(orders[0]!.origQty),
    true,
    'the second buy is cut to what is left of the limit',
  );
  const acct = stack.paper.account(dev.keys.apiKey);
  t.equal(Number(acct.balances.BTC?.free ?? 0), 0, 'the sell sold everything held');
  t.ok(Ledger.fromJSON(dev.store.data.ledger).isBalanced());
});

t.test('a lost exchange response is reconciled by client id, never sent twice', async (t) => {
  const stack = await startStack(t);
  const dev = await stack.device();
  stack.paper.faults.loseResponseRate = 1;
  const s = await stack.signal('buy', 40_000);
  await dev.until(1);
  stack.paper.faults.loseResponseRate = 0;
  t.match(dev.decisions[0], { signalId: s.id, outcome: 'executed' });
  t.equal(stack.paper.orders(dev.keys.apiKey).length, 1, 'one order on the exchange');
  t.equal(dev.store.data.intents[clientOrderId('dev-1', s.id)]?.status, 'done');
});

t.test('a restarted device resumes where it left off: nothing missed, nothing repeated', async (t) => {
  const stack = await startStack(t);
  const keys = stack.account(10_000);
  const first = await stack.device({ keys });
  // Prices within 1 % of each other: a buy decided late sees a later price on the exchange.
  await stack.signal('buy', 40_000);
  await stack.signal('sell', 40_100);
  await first.until(2);
  await first.client.stop();
  const missed = [await stack.signal('buy', 40_200), await stack.signal('sell', 40_300)];
  const second = await stack.device({ keys, stateFile: first.stateFile });
  await second.until(2);
  t.same(
    second.decisions.map((d) => d.signalId),
    missed.map((s) => s.id),
    'exactly the signals published while it was down',
  );
  const live = await stack.signal('buy', 40_400);
  await second.until(3);
  t.equal(second.decisions[2]!.signalId, live.id);
  const orders = stack.paper.orders(keys.apiKey);
  t.equal(orders.length, 5);
  t.equal(new Set(orders.map((o) => o.clientOrderId)).size, 5, 'no client id used twice');
});

t.test('a stream that starts while the device is down is handled from its first signal', async (t) => {
  const stack = await startStack(t);
  const keys = stack.account(10_000);
  const first = await stack.device({ keys });
  await stack.signal('buy', 40_000);
  await first.until(1);
  await first.client.stop();
  t.ok(first.store.data.since, 'the device kept where the gateway stood when it went live');
  const fresh = [
    await stack.signal('sell', 41_000, { stream: 'ema.4h' }),
    await stack.signal('buy', 42_000, { stream: 'ema.4h' }),
  ];
  const second = await stack.device({ keys, stateFile: first.stateFile });
  await second.until(2);
  t.same(
    second.decisions.map((d) => `${d.stream} ${d.signalId}`),
    fresh.map((s) => `ema.4h ${s.id}`),
    'both signals of the new stream, decided in order',
  );
});

t.test('on start, pending intents are settled with the exchange before the device is ready', async (t) => {
  const stack = await startStack(t);
  const keys = stack.account(10_000);
  const dev = await stack.device({ keys });
  await dev.client.stop();
  // Two crashes after the intent was written: one before the order left, one after.
  const sent = await stack.signal('buy', 40_000);
  const unsent = await stack.signal('buy', 40_000);
  const ex = createBinance({ ...keys, baseUrl: stack.paperUrl });
  await ex.loadMarkets();
  await ex.createOrder('BTC/USDT', 'market', 'buy', 0.001, undefined, {
    newClientOrderId: clientOrderId('dev-1', sent.id),
  });
  const state = JSON.parse(readFileSync(dev.stateFile, 'utf8'));
  for (const [s, n] of [
    [sent, '0'],
    [unsent, '1'],
  ] as const) {
    const id = clientOrderId('dev-1', s.id);
    state.intents[id] = {
      clientOrderId: id,
      signalId: s.id,
      stream: 'ema.1h',
      offset: n,
      symbol: 'BTC/USDT',
      side: 'buy',
      amount: 0.001,
      quote: 40,
      expiresAt: Date.now() + 60_000,
      createdAt: Date.now(),
      status: 'pending',
      attempts: 1,
    };
  }
  state.resume['ema.1h'] = '1';
  state.seen.push([sent.id, Date.now() + 70_000], [unsent.id, Date.now() + 70_000]);
  writeFileSync(dev.stateFile, JSON.stringify(state));
  const again = await stack.device({ keys, stateFile: dev.stateFile, config: { execution: FAST } });
  const intents = again.store.data.intents;
  t.equal(
    intents[clientOrderId('dev-1', sent.id)]?.status,
    'done',
    'found on the exchange: recorded, not re-sent',
  );
  t.equal(
    intents[clientOrderId('dev-1', unsent.id)]?.status,
    'done',
    'not on the exchange and still fresh: sent once',
  );
  const orders = stack.paper.orders(keys.apiKey);
  t.same(
    orders.map((o) => o.clientOrderId).sort(),
    [clientOrderId('dev-1', sent.id), clientOrderId('dev-1', unsent.id)].sort(),
  );
  t.same(
    again.decisions.map((d) => d.outcome),
    ['executed', 'executed'],
  );
});

t.test(
  'a signal redelivered while its order cannot be looked up is left to reconciliation, not replayed',
  async (t) => {
    const stack = await startStack(t);
    const keys = stack.account(10_000);
    const dev = await stack.device({ keys });
    await dev.client.stop();
    // A crash after the order left: intent journalled, order on the exchange, resume not moved.
    const s = await stack.signal('buy', 40_000);
    const id = await stack.orderSentBeforeCrash('dev-1', keys, dev.stateFile, s);
    // The exchange cannot say what became of the order while the device restarts.
    stack.paper.faults.lookupsUnavailable = true;
    const again = await stack.device({
      keys,
      stateFile: dev.stateFile,
      config: { execution: FAST, telemetryIntervalMs: 100 },
    });
    t.equal(again.store.data.intents[id]?.status, 'pending', 'its fate unknown, the intent stays pending');
    t.same(again.decisions, [], 'the redelivered signal is not decided again (no E_REPLAYED)');
    stack.paper.faults.lookupsUnavailable = false;
    await again.until(1);
    t.equal(again.store.data.intents[id]?.status, 'done', 'asked again later, the order is found');
    t.match(again.decisions, [{ signalId: s.id, outcome: 'executed' }]);
    t.equal(again.store.data.resume['ema.1h'], '0', 'and the resume point moves past it');
    t.equal(again.store.data.fills, 1, 'its fill is in the books');
    t.equal(stack.paper.orders(keys.apiKey).length, 1, 'never sent twice');
  },
);

t.test('a truncated or corrupt state file makes the device refuse to trade, saying why', async (t) => {
  const stack = await startStack(t);
  const dev = await stack.device();
  await stack.signal('buy', 40_000);
  await dev.until(1);
  await dev.client.stop();
  const text = readFileSync(dev.stateFile, 'utf8');
  writeFileSync(dev.stateFile, text.slice(0, text.length / 2));
  t.equal(
    await rejectionOf(openStateStore(dev.stateFile, 'dev-1')),
    `E_STATE_CORRUPT: state file ${dev.stateFile} is not valid JSON (truncated or corrupt): refusing to trade`,
  );
  writeFileSync(dev.stateFile, JSON.stringify({ ...JSON.parse(text), fills: -1 }));
  t.match(
    await rejectionOf(openStateStore(dev.stateFile, 'dev-1')),
    /^E_STATE_CORRUPT: state file .* does not match its schema at fills: .*: refusing to trade$/,
  );
  t.equal(
    await rejectionOf(
      openStateStore(dev.stateFile.replace('state.json', 'x/state.json'), 'dev-1').then(() =>
        openStateStore(dev.stateFile, 'dev-2'),
      ),
    ),
    `E_STATE_CORRUPT: state file ${dev.stateFile} does not match its schema at fills: Too small: expected number to be >=0: refusing to trade`,
  );
  await waitFor(() => true, 'nothing');
});

t.test('an order the exchange hides for a while after accepting it is found, not sent twice', async (t) => {
  const stack = await startStack(t);
  const dev = await stack.device({ config: { execution: { ...FAST, notFoundGraceMs: 1_000 } } });
  stack.paper.faults.loseResponseRate = 1;
  stack.paper.faults.notFoundAfterCreateMs = 500; // shorter than the grace
  const s = await stack.signal('buy', 40_000);
  await dev.until(1);
  t.match(dev.decisions[0], { signalId: s.id, outcome: 'executed' });
  t.equal(stack.paper.orders(dev.keys.apiKey).length, 1, 'one order on the exchange');
});

t.test(
  'past the grace period, a fill no journalled order explains stops a re-send until the order shows',
  async (t) => {
    const stack = await startStack(t);
    const dev = await stack.device({ config: { execution: FAST } });
    stack.paper.faults.loseResponseRate = 1;
    stack.paper.faults.notFoundAfterCreateMs = 1_200; // longer than the grace: only the trades tell
    const s = await stack.signal('buy', 40_000);
    await dev.until(1);
    t.match(dev.decisions[0], { signalId: s.id, outcome: 'executed' });
    t.equal(
      stack.paper.orders(dev.keys.apiKey).length,
      1,
      'still one order: the unexplained fill held the re-send back',
    );
  },
);

t.test('a duplicate-order answer sends the device to reconcile, not to retry', async (t) => {
  const stack = await startStack(t);
  const keys = stack.account(10_000);
  const dev = await stack.device({ keys, config: { execution: FAST } });
  await stack.signal('sell', 40_000);
  await dev.until(1);
  await dev.client.stop();
  const s = await stack.signal('buy', 40_000);
  // An order under the device's client id is already open (as if its first attempt rested).
  const ex = createBinance({ ...keys, baseUrl: stack.paperUrl });
  await ex.loadMarkets();
  await ex.createOrder('BTC/USDT', 'limit', 'buy', 0.001, 30_000, {
    newClientOrderId: clientOrderId('dev-1', s.id),
  });
  const again = await stack.device({ keys, stateFile: dev.stateFile, config: { execution: FAST } });
  await again.until(1); // the signal published while it was down
  t.match(again.decisions[0], { signalId: s.id, outcome: 'executed' });
  t.equal(stack.paper.orders(keys.apiKey).length, 1, 'the duplicate was not placed');
  t.equal(
    again.store.data.intents[clientOrderId('dev-1', s.id)]?.result?.status,
    'open',
    'the open order is what the journal records',
  );
});

t.test(
  'a device that has never seen a signal still gets the ones published while it was offline',
  async (t) => {
    const stack = await startStack(t);
    const keys = stack.account(10_000);
    await stack.signal('sell', 40_000); // the stream exists before the device first connects
    const dev = await stack.device({ keys });
    await dev.client.stop();
    const s = await stack.signal('buy', 40_000);
    const again = await stack.device({ keys, stateFile: dev.stateFile });
    await again.until(1);
    t.equal(again.decisions[0]!.signalId, s.id);
    t.equal(again.decisions.length, 1, 'and not the one from before it first connected');
  },
);
