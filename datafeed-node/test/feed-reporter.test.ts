import t from 'tap';
import pino from 'pino';
import {
  EmbeddedBus,
  KeyRing,
  TOPICS,
  exportPublicKey,
  generateSigner,
  verifyFeedReport,
  type Bus,
  type FeedReport,
} from '@appliance/protocol';
import { join } from 'node:path';
import { manualClock, waitFor } from '@appliance/test-kit';
import { DEFAULT_FILL_COSTS, EmaCrossVolumeStrategy } from '@appliance/trading-core';
import {
  FeedReportBuilder,
  FeedReporter,
  VenueMeter,
  p99,
  reportTtlMs,
  runFeed,
  shortError,
} from '../src/index.js';

const DATA = new URL('../../../shared/data/ohlcv/', import.meta.url).pathname;

const signer = generateSigner();
const keys = KeyRing.of(exportPublicKey(signer.publicKey));

/** A venue meter and a report builder on one manual clock (wall time and durations alike). */
function setup() {
  const clock = manualClock();
  const venue = new VenueMeter('binance', { clock: clock.now });
  const builder = new FeedReportBuilder({ venue, now: clock.now });
  /** A venue call that takes `ms` and then answers, or throws `error`. */
  const call = (ms: number, error?: Error) =>
    venue.measure(async () => {
      clock.advance(ms);
      if (error) throw error;
      return 'ok';
    });
  /** A venue call that takes `ms` and then throws `message` (caught here). */
  const fail = (ms: number, message: string) => call(ms, new Error(message)).catch(() => undefined);
  return { clock, venue, builder, call, fail };
}

t.test('p99 is the nearest-rank 99th percentile; none without samples', async (t) => {
  t.equal(p99([]), null);
  t.equal(p99([7]), 7);
  t.equal(p99([3, 1, 2]), 3);
  const hundred = Array.from({ length: 100 }, (_, i) => 100 - i); // 100..1, unsorted
  t.equal(p99(hundred), 99, 'the 99th of 100');
  t.equal(p99([...hundred, 1000]), 100, 'the 100th of 101 (rank ceil(99.99))');
  t.equal(p99([...hundred, 1000, 1001]), 1000, 'the 101st of 102');
  t.equal(p99(Array.from({ length: 1000 }, (_, i) => i + 1)), 990);
});

t.test('the builder counts calls, errors and the p99 of successful calls over a period', async (t) => {
  const { clock, builder, call } = setup();
  const start = clock.now();
  for (let i = 1; i <= 99; i++) await call(10);
  await call(250);
  await t.rejects(
    call(5_000, new Error('binance GET https://api.binance.com/api/v3/klines?symbol=BTCUSDT 503')),
  );
  t.equal(await call(40), 'ok', 'results pass through');
  const { draft } = builder.take();
  t.same(draft.venue, {
    name: 'binance',
    requests: 102,
    errors: 1,
    latencyP99Ms: 40,
    lastError: 'Error: binance GET <url> 503',
  });
  t.equal(draft.ts, clock.now());
  t.equal(draft.periodMs, clock.now() - start, 'the period runs from the builder start to now');
  t.notOk('house' in draft, 'no house equity given yet');
  t.same(draft.candles, {});
});

t.test('a period rolls over at take: the next one starts empty, from that instant', async (t) => {
  const { clock, builder, call, fail } = setup();
  await call(20);
  await fail(30, 'first');
  clock.advance(15_000);
  const first = builder.take().draft;
  t.same(first.venue, {
    name: 'binance',
    requests: 2,
    errors: 1,
    latencyP99Ms: 20,
    lastError: 'Error: first',
  });
  t.equal(first.periodMs, 15_050);
  clock.advance(15_000);
  const idle = builder.take().draft;
  t.same(idle.venue, { name: 'binance', requests: 0, errors: 0, latencyP99Ms: null }, 'nothing carried over');
  t.equal(idle.periodMs, 15_000);
  await fail(5, 'second');
  await fail(7, 'third');
  clock.advance(1_000);
  const down = builder.take().draft;
  t.same(down.venue, {
    name: 'binance',
    requests: 2,
    errors: 2,
    latencyP99Ms: null,
    lastError: 'Error: third',
  });
  t.equal(down.periodMs, 1_012);
});

t.test('an unpublished period is put back: the next report covers both', async (t) => {
  const { clock, builder, call, fail } = setup();
  await call(100);
  await fail(1, 'lost period');
  clock.advance(999);
  const start = clock.now() - 1_100;
  const lost = builder.take();
  await call(300);
  clock.advance(700);
  lost.putBack();
  const { draft } = builder.take();
  t.same(draft.venue, {
    name: 'binance',
    requests: 3,
    errors: 1,
    latencyP99Ms: 300,
    lastError: 'Error: lost period',
  });
  t.equal(draft.periodMs, clock.now() - start, 'the period starts where the lost one did');
});

t.test('newest closed candle per symbol, and house equity with its running peak', async (t) => {
  const { clock, builder } = setup();
  const T = 1_699_990_000_000;
  builder.candle('BTC/USDT', '1h', T, clock.now());
  clock.advance(10);
  builder.candle('ETH/USDT', '1h', T);
  builder.candle('BTC/USDT', '1h', T - 3_600_000, clock.now() + 5); // older: ignored
  builder.house(10_000);
  builder.house(10_500);
  builder.house(9_800);
  builder.house(Number.NaN); // not a number: ignored
  const first = builder.take().draft;
  t.same(first.candles, {
    'BTC/USDT': { timeframe: '1h', time: T, receivedAt: clock.now() - 10 },
    'ETH/USDT': { timeframe: '1h', time: T, receivedAt: clock.now() },
  });
  t.same(first.house, { equity: 9_800, peak: 10_500 });
  clock.advance(60_000);
  builder.candle('BTC/USDT', '1h', T + 3_600_000);
  const second = builder.take().draft;
  t.same(second.candles['BTC/USDT'], { timeframe: '1h', time: T + 3_600_000, receivedAt: clock.now() });
  t.same(second.candles['ETH/USDT'], first.candles['ETH/USDT'], 'a symbol with no new bar keeps its last');
  t.same(second.house, { equity: 9_800, peak: 10_500 }, 'the peak is kept across periods');
});

t.test('error messages are short and carry no URL, key or HTML', async (t) => {
  class ExchangeNotAvailable extends Error {
    override name = 'ExchangeNotAvailable';
  }
  t.equal(
    shortError(
      new ExchangeNotAvailable(
        'binance GET http://127.0.0.1:8091/api/v3/klines?symbol=BTCUSDT&signature=abc123 503 Service Unavailable <html><body>503 Service Unavailable</body></html>',
      ),
    ),
    'ExchangeNotAvailable: binance GET <url> 503 Service Unavailable 503 Service Unavailable',
  );
  t.equal(
    shortError(new Error('bad apiKey=AbCdEf123 secret: s3cr3t')),
    'Error: bad apiKey=<redacted> secret: <redacted>',
  );
  t.equal(shortError('plain'), 'Error: plain');
  const long = shortError(new Error('x'.repeat(500)));
  t.equal(long.length, 200);
  t.ok(long.endsWith('…'));
});

t.test('latency samples are bounded per period', async (t) => {
  const venue = new VenueMeter('binance', { maxSamples: 10, random: () => 0 });
  for (let i = 0; i < 100; i++) venue.succeeded(i);
  const w = venue.take();
  t.equal(w.requests, 100);
  t.equal(w.latencies.length, 10);
});

t.test(
  'the reporter signs each period and publishes it keyed by origin; a failed publish is carried',
  async (t) => {
    const { clock, builder, call, fail } = setup();
    const bus = new EmbeddedBus();
    const got: { key: string; report: FeedReport }[] = [];
    await bus.subscribe({
      topic: TOPICS.feedReports,
      from: 'earliest',
      onMessage: (m) => void got.push({ key: m.key, report: JSON.parse(m.value.toString()) }),
    });
    let failNext = false;
    const flaky: Bus = Object.create(bus) as Bus;
    flaky.publish = async (topic, records) => {
      if (failNext) throw new Error('bus down');
      return bus.publish(topic, records);
    };
    const lines: { msg: string; failures?: number }[] = [];
    const logger = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
    const reporter = new FeedReporter({
      bus: flaky,
      signer,
      logger,
      origin: 'feed-1',
      everyMs: 15_000,
      builder,
    });
    builder.house(10_000);
    await call(12);
    clock.advance(15_000);
    const first = await reporter.publish();
    t.ok(first);
    t.same(verifyFeedReport(first, keys, { now: clock.now() }), first, 'it verifies with the feed key');
    t.equal(first!.ttlMs, reportTtlMs(15_000));
    t.equal(first!.ttlMs, 45_000);
    t.equal(first!.origin, 'feed-1');

    await fail(1, 'down');
    clock.advance(15_000);
    failNext = true;
    t.equal(await reporter.publish(), null, 'not published');
    t.match(lines.at(-1), { msg: 'feed report not published: its counts go into the next one', failures: 1 });
    failNext = false;
    await fail(2, 'still down');
    clock.advance(15_000);
    const third = await reporter.publish();
    t.same(third!.venue, {
      name: 'binance',
      requests: 2,
      errors: 2,
      latencyP99Ms: null,
      lastError: 'Error: still down',
    });
    t.equal(third!.periodMs, 30_003, 'it covers the unpublished period too');

    await reporter.stop();
    clock.advance(15_000);
    t.equal(await reporter.publish(), null, 'nothing after stop');
    await new Promise((r) => setTimeout(r, 20));
    t.same(
      got.map((g) => [g.key, g.report.id]),
      [first, third].map((r) => ['feed-1', r!.id]),
    );
    await bus.close();
  },
);

t.test('started, the reporter publishes every period until stopped', async (t) => {
  const bus = new EmbeddedBus();
  const venue = new VenueMeter('replay');
  const builder = new FeedReportBuilder({ venue });
  const reporter = new FeedReporter({
    bus,
    signer,
    logger: pino({ level: 'silent' }),
    origin: 'feed-1',
    everyMs: 30,
    builder,
  });
  const got: FeedReport[] = [];
  await bus.subscribe({
    topic: TOPICS.feedReports,
    from: 'earliest',
    onMessage: (m) => void got.push(JSON.parse(m.value.toString())),
  });
  reporter.start();
  await waitFor(() => got.length >= 3, 'three reports');
  await reporter.stop();
  await new Promise((r) => setTimeout(r, 50)); // the bus delivers after publish resolves
  const n = got.length;
  t.ok(n >= 3, `${n} reports`);
  await new Promise((r) => setTimeout(r, 100));
  t.equal(got.length, n, 'none after stop');
  for (const r of got) {
    t.same(verifyFeedReport(r, keys, { now: r.ts }), r);
    t.same(r.venue, { name: 'replay', requests: 0, errors: 0, latencyP99Ms: null });
  }
  await bus.close();
});

t.test('a replay reports too: venue replay, no requests, house equity and the newest candles', async (t) => {
  const bus = new EmbeddedBus();
  const got: FeedReport[] = [];
  await bus.subscribe({
    topic: TOPICS.feedReports,
    from: 'earliest',
    onMessage: (m) => void got.push(JSON.parse(m.value.toString())),
  });
  const result = await runFeed({
    bus,
    signer,
    logger: pino({ level: 'silent' }),
    stream: 'ema-cross.1h',
    strategy: () => new EmaCrossVolumeStrategy(),
    origin: 'feed-replay',
    seed: 10_000,
    ttlMs: 60_000,
    costs: DEFAULT_FILL_COSTS,
    reportEveryMs: 50,
    // 1h candles at 360,000x real time: one every 10 ms, so 60 of them span several periods.
    source: { kind: 'replay', files: [join(DATA, 'binance_BTC-USDT_1h.csv')], speed: 360_000, limit: 60 },
  });
  t.equal(result.candles, 60);
  await waitFor(() => got.length >= 3, 'three reports');
  const last = got.at(-1)!;
  t.same(verifyFeedReport(last, keys, { now: Date.now() }), last);
  t.same(last.venue, { name: 'replay', requests: 0, errors: 0, latencyP99Ms: null });
  t.equal(last.origin, 'feed-replay');
  t.equal(last.candles['BTC/USDT']?.timeframe, '1h');
  t.ok(last.candles['BTC/USDT']!.receivedAt <= last.ts, 'received before the report');
  t.ok(last.house && last.house.peak >= last.house.equity && last.house.equity > 0, 'house equity and peak');
  await new Promise((r) => setTimeout(r, 50)); // the bus delivers after publish resolves
  const n = got.length;
  await new Promise((r) => setTimeout(r, 150));
  t.equal(got.length, n, 'no report once the replay has ended');
  await bus.close();
});
