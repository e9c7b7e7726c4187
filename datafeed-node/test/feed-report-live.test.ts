/**
 * The datafeed's feed reports, end to end: a live feed through ccxt's real binance class against
 * the paper exchange, on the embedded bus. A candle outage and an overloaded venue (the paper
 * exchange's `candlesUnavailable` and `latencyMs` faults) show in the next reports, and every
 * report verifies with the datafeed's public key.
 */
import t from 'tap';
import pino from 'pino';
import {
  EmbeddedBus,
  KeyRing,
  TOPICS,
  exportPublicKey,
  generateSigner,
  verifyFeedReport,
  type FeedReport,
} from '@appliance/protocol';
import { DEFAULT_MARKETS, createPaperExchange } from '@appliance/paper-exchange';
import { createBinance } from '@appliance/runtime/ccxt';
import { DEFAULT_FILL_COSTS, EmaCrossVolumeStrategy, type Candle } from '@appliance/trading-core';
import { waitFor } from '@appliance/test-kit';
import { runFeed } from '../src/index.js';

const MIN = 60_000;
const EVERY_MS = 250;

t.test('feed reports show a candle outage and a slow venue, signed by the feed', async (t) => {
  const paper = createPaperExchange({
    markets: DEFAULT_MARKETS,
    costs: DEFAULT_FILL_COSTS,
    logger: pino({ level: 'silent' }),
  });
  const url = await paper.listen({ port: 0 });
  t.teardown(() => paper.close());
  const first = Math.floor(Date.now() / MIN) * MIN - 30 * MIN;
  const bar = (i: number): Candle => ({
    time: first + i * MIN,
    open: 100 + i,
    high: 101 + i,
    low: 99 + i,
    close: 100 + i,
    volume: 10,
  });
  for (let i = 0; i < 30; i++) paper.onCandle('BTC/USDT', bar(i)); // bar 29 closed a minute ago at most

  const signer = generateSigner();
  const keys = KeyRing.of(exportPublicKey(signer.publicKey));
  const bus = new EmbeddedBus();
  const reports: FeedReport[] = [];
  const recordKeys = new Set<string>();
  const refused: string[] = [];
  await bus.subscribe({
    topic: TOPICS.feedReports,
    from: 'earliest',
    onMessage: (m) => {
      try {
        reports.push(verifyFeedReport(JSON.parse(m.value.toString()), keys, { now: Date.now() }));
        recordKeys.add(m.key);
      } catch (err) {
        refused.push(String(err));
      }
    },
  });
  const abort = new AbortController();
  const done = runFeed({
    bus,
    signer,
    logger: pino({ level: 'silent' }),
    stream: 'ema-cross.1m',
    strategy: () => new EmaCrossVolumeStrategy(),
    origin: 'feed-live',
    seed: 10_000,
    ttlMs: 60_000,
    costs: DEFAULT_FILL_COSTS,
    reportEveryMs: EVERY_MS,
    signal: abort.signal,
    source: {
      kind: 'live',
      exchange: createBinance({ baseUrl: url }),
      symbols: ['BTC/USDT'],
      timeframe: '1m',
      pollMs: 40,
    },
  });
  /** The first report whose whole period began after `since` and that satisfies `pred`. */
  const next = async (since: number, pred: (r: FeedReport) => boolean, what: string) => {
    let found: FeedReport | undefined;
    await waitFor(() => {
      found = reports.find((r) => r.ts - r.periodMs >= since && pred(r));
      return found !== undefined;
    }, what);
    return found!;
  };

  const healthy = await next(0, (r) => r.venue.requests > 0 && 'BTC/USDT' in r.candles, 'a healthy report');
  t.equal(healthy.venue.name, 'binance', 'the venue is the ccxt exchange id');
  t.equal(healthy.venue.errors, 0);
  t.not(healthy.venue.latencyP99Ms, null);
  t.same(healthy.candles['BTC/USDT']!.time, bar(29).time, 'the newest closed candle');
  t.equal(healthy.candles['BTC/USDT']!.timeframe, '1m');
  t.same(healthy.house, { equity: 10_000, peak: 10_000 }, 'the house portfolio, untouched');
  t.equal(healthy.ttlMs, 3 * EVERY_MS);

  const outage = Date.now() + 50;
  paper.faults.candlesUnavailable = true;
  const down = await next(outage, (r) => r.venue.requests > 0, 'a report from the outage');
  t.equal(down.venue.errors, down.venue.requests, `every call failed (${down.venue.requests})`);
  t.equal(down.venue.latencyP99Ms, null, 'no successful call to time');
  t.match(down.venue.lastError, /^ExchangeNotAvailable: binance GET <url> 503 Service Unavailable/);
  t.notMatch(down.venue.lastError, /https?:|127\.0\.0\.1|<html/, 'no URL, no HTML');
  t.same(down.candles['BTC/USDT'], healthy.candles['BTC/USDT'], 'the newest candle is as it was');

  const slow = Date.now() + 50;
  paper.faults.latencyMs = 300;
  paper.faults.candlesUnavailable = false;
  const loaded = await next(
    slow,
    (r) => r.venue.requests > 0 && r.venue.errors === 0,
    'a report from the slow venue',
  );
  t.ok(
    loaded.venue.latencyP99Ms! >= 300,
    `p99 ${Math.round(loaded.venue.latencyP99Ms!)} ms reflects the 300 ms delay`,
  );
  t.notOk('lastError' in loaded.venue, 'no error in a period without one');

  paper.faults.latencyMs = 0;
  abort.abort();
  const result = await done;
  t.equal(result.error, undefined, 'the feed ran on through the outage');
  await new Promise((r) => setTimeout(r, 50)); // the bus delivers after publish resolves
  const after = reports.length;
  await new Promise((r) => setTimeout(r, 3 * EVERY_MS));
  t.equal(reports.length, after, 'nothing is published once the feed is stopped');
  t.same(refused, [], 'every report verifies with the feed key on arrival');
  t.same([...recordKeys], ['feed-live'], 'every report keyed by its origin');
  await bus.close();
});
