/**
 * Finding 13 of issue #8: the paper exchange filled from unsigned candles, so anyone who could
 * write the candles topic set its prices. These tests publish forged candles on the topic, as a
 * bus writer would, and check that only candles a pinned datafeed signed move a price or fill an
 * order.
 */
import t from 'tap';
import type { Test } from 'tap';
import pino from 'pino';
import { binance } from 'ccxt';
import {
  EmbeddedBus,
  KeyRing,
  TOPICS,
  createCandle,
  exportPublicKey,
  generateSigner,
  type CandleDraft,
  type CandleMessage,
} from '@appliance/protocol';
import { waitFor } from '@appliance/test-kit';
import { PaperExchangeError } from '@appliance/paper-exchange';
import { paperExchangeCcxtConfig } from '@appliance/paper-exchange/ccxt';
import { CandleIntake, MAX_CANDLE_RECORD_BYTES, startControlServer } from '../src/index.js';

const HOUR = 3_600_000;
const T0 = Math.floor(Date.now() / HOUR) * HOUR - 10 * HOUR;
const ALICE = { apiKey: 'alice-key-0123456789', secret: 'alice-secret-0123456789' };

const feed = generateSigner();
const stranger = generateSigner();

function draft(i: number, close: number, o: Partial<CandleDraft> = {}): CandleDraft {
  const open = o.open ?? close;
  return {
    origin: 'feed-1',
    symbol: 'BTC/USDT',
    timeframe: '1h',
    time: T0 + i * HOUR,
    open,
    high: o.high ?? Math.max(open, close),
    low: o.low ?? Math.min(open, close),
    close,
    volume: 1,
    ts: T0 + (i + 1) * HOUR,
    ...o,
  };
}

/** `feedKeys: null` starts the server with no datafeed key pinned. */
async function setup(t: Test, feedKeys: KeyRing | null = KeyRing.of(exportPublicKey(feed.publicKey))) {
  const bus = new EmbeddedBus();
  const server = await startControlServer({
    bus,
    signer: generateSigner(),
    adminToken: 'admin-token-0123456789',
    logger: pino({ level: 'silent' }),
    ...(feedKeys ? { feedKeys } : {}),
  });
  await server.listen(0);
  t.teardown(() => server.close());
  server.paper!.addAccount({ ...ALICE, balances: { USDT: 10_000 } });
  const alice = new binance({
    ...ALICE,
    enableRateLimit: false,
    ...paperExchangeCcxtConfig(server.paperUrl!),
  });
  const handled = () => {
    const s = server.candles!.stats();
    return s.accepted + Object.values(s.dropped).reduce((a, b) => a + b, 0);
  };
  /** Publishes records on the candles topic and waits until the intake has handled them all. */
  const publish = async (...values: (string | Buffer | CandleMessage | object)[]) => {
    const before = handled();
    await bus.publish(
      TOPICS.candles,
      values.map((v) => ({
        key: 'BTC/USDT',
        value: typeof v === 'string' || Buffer.isBuffer(v) ? v : JSON.stringify(v),
      })),
    );
    await waitFor(
      () => handled() === before + values.length,
      `the intake to handle ${values.length} records`,
    );
  };
  const closes = async () => (await alice.fetchOHLCV('BTC/USDT', '1h')).map((k) => k[4]);
  return { server, alice, publish, closes };
}

t.test('forged candles on the topic change neither prices nor fills; genuine ones do', async (t) => {
  const { server, alice, publish, closes } = await setup(t);

  const bar0 = createCandle(draft(0, 50_000, { low: 48_000 }), feed);
  await publish(bar0);
  t.same(await closes(), [50_000], 'a genuine candle sets the price');
  const order = await alice.createOrder('BTC/USDT', 'limit', 'buy', 0.01, 49_000, { clientOrderId: 'dip' });
  t.equal(order.status, 'open', 'the limit rests below the market');

  // Bar 1 as the datafeed will sign it: it does not reach the limit.
  const bar1 = createCandle(draft(1, 49_800, { open: 50_000, low: 49_500 }), feed);
  const crash = { close: 40_000, low: 40_000 };
  const legacy = {
    symbol: 'BTC/USDT',
    timeframe: '1h',
    time: T0 + HOUR,
    open: 50_000,
    high: 50_000,
    ...crash,
    volume: 1,
  };
  await publish(
    { ...createCandle(draft(1, 40_000), feed), sig: 'A'.repeat(86) }, // junk signature
    createCandle(draft(1, 40_000), stranger), // a valid shape, signed by a key nobody pinned
    { ...bar1, ...crash }, // a genuine candle with its close altered
    legacy, // the unsigned candle of before
    'not json',
    'x'.repeat(MAX_CANDLE_RECORD_BYTES + 1),
    bar0, // the genuine bar 0 again, whose low (48,000) is under the limit
    createCandle(draft(1, 40_000, { high: 39_000 }), feed), // genuine, but impossible
  );
  t.same(
    server.candles!.stats(),
    {
      accepted: 1,
      dropped: {
        'too-large': 1,
        malformed: 2,
        'unknown-key': 1,
        'bad-signature': 2,
        'bad-id': 0,
        duplicate: 1,
        stale: 0,
        'unknown-symbol': 0,
        'bad-candle': 1,
      },
    },
    'each forgery is dropped and counted under its reason',
  );
  t.same(await closes(), [50_000], 'no forged candle reached the price history');
  const [resting] = server.paper!.orders(ALICE.apiKey);
  t.match(
    resting,
    { clientOrderId: 'dip', status: 'NEW', executedQty: 0 },
    'nothing forged filled the order',
  );
  t.same(server.paper!.account(ALICE.apiKey).balances.USDT, { free: 9_509.51, locked: 490.49 });

  // The genuine bar 1, then a genuine bar 2 that trades through the limit.
  await publish(bar1, createCandle(draft(2, 48_800, { open: 49_700, low: 48_700 }), feed));
  t.same(await closes(), [50_000, 49_800, 48_800], 'genuine candles move the price');
  const [filled] = server.paper!.orders(ALICE.apiKey);
  t.match(filled, { status: 'FILLED', executedQty: 0.01, fills: [{ price: 49_000 }] }, 'and fill the order');
  t.equal(server.candles!.stats().accepted, 3);

  // An old genuine candle replayed after newer ones cannot roll the price back.
  await publish(createCandle(draft(1, 30_000, { ts: T0 + 50 * HOUR }), feed));
  t.equal(server.candles!.stats().dropped.stale, 1);
  t.same(await closes(), [50_000, 49_800, 48_800]);
});

t.test('with no datafeed key pinned, the paper exchange takes no candle at all', async (t) => {
  const { server, publish, closes } = await setup(t, null);
  await publish(createCandle(draft(0, 50_000), feed));
  t.match(server.candles!.stats(), { accepted: 0, dropped: { 'unknown-key': 1 } });
  t.same(await closes(), []);
});

t.test(
  'the intake counts genuine candles the exchange cannot take, and logs drops without flooding',
  async (t) => {
    const lines: { level: number; msg: string; reason?: string; count?: number }[] = [];
    const logger = pino(
      { level: 'debug' },
      { write: (l: string) => void lines.push(JSON.parse(l) as (typeof lines)[number]) },
    );
    const taken: number[] = [];
    const intake = new CandleIntake({
      keys: KeyRing.of(exportPublicKey(feed.publicKey)),
      logger,
      sink: (symbol, c) => {
        if (symbol === 'ETH/USDT') throw new PaperExchangeError('PAPER_ERR_UNKNOWN_SYMBOL', 'no ETH here');
        if (symbol !== 'BTC/USDT') throw new Error('a bug of ours');
        taken.push(c.close);
        return true;
      },
    });
    const record = (v: unknown, offset = '0') => ({
      partition: 0,
      offset,
      timestamp: 0,
      value: Buffer.from(JSON.stringify(v)),
    });
    t.equal(intake.onMessage(record(createCandle(draft(0, 100), feed))), 'accepted');
    t.same(taken, [100]);
    t.equal(
      intake.onMessage(record(createCandle(draft(0, 100, { symbol: 'ETH/USDT' }), feed))),
      'unknown-symbol',
    );
    t.throws(
      () => intake.onMessage(record(createCandle(draft(0, 100, { symbol: 'SOL/USDT' }), feed))),
      /a bug of ours/,
      'a fault of our own is thrown (the bus logs it), not counted as a bad candle',
    );
    for (let i = 0; i < 2_000; i++) intake.onMessage(record({ junk: i }, String(i)));
    const junk = lines.filter((l) => l.reason === 'malformed');
    t.same(
      junk.map((l) => l.count),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1_000, 2_000],
      'the first ten drops of a reason are logged, then every thousandth',
    );
    t.equal(junk[0]!.msg, 'candle dropped: not JSON, or not a signed candle (E_MALFORMED)');
    t.equal(intake.stats().dropped.malformed, 2_000);
  },
);
