/**
 * Venue health end to end: the real datafeed, as its own process, polls the paper exchange
 * through ccxt's binance class and signs a feed report every 500 ms; the control server (in this
 * process) reads them from librdkafka's mock cluster and its breaker judges the venue. The
 * datafeed talks only Kafka, so both sit on the mock cluster rather than an EmbeddedBus.
 *
 * - the paper exchange's `candlesUnavailable` fault: the venue's failed calls halt the market,
 *   and once the venue answers again the level eases one step per cool-down, never sooner;
 * - its `latencyMs` fault: a slow venue puts the market at caution;
 * - a stalled datafeed (SIGSTOP): no report for longer than the venue-silent threshold halts
 *   the market; after SIGCONT the reports come again.
 *
 * The thresholds are the breaker's own rules with low floors and a short cool-down (CONFIG), so
 * the file runs in well under a minute and a half.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import pino from 'pino';
import { KeyRing, TOPIC_PARTITIONS, exportPublicKey, generateSigner } from '@appliance/protocol';
import { createKafkaBus } from '@appliance/protocol/kafka';
import { DEFAULT_MARKETS, createPaperExchange } from '@appliance/paper-exchange';
import {
  DEFAULT_FILL_COSTS,
  type BreakerEvent,
  type BreakerSnapshot,
  type Candle,
} from '@appliance/trading-core';
import { requireTool, signerWithKeyFile, spawnNode, startKafkaMock, waitFor } from '@appliance/test-kit';
import { startControlServer } from '../src/index.js';
import { ADMIN } from './helpers.js';

const MIN = 60_000;
const ORIGIN = 'feed-venue';
const REPORT_EVERY_MS = 500;
const COOL_DOWN_MS = 3_000;
/**
 * Low floors so that the test is quick; every rule is otherwise the default. venue-silent: with a
 * report every 500 ms its thresholds are max(floor, 3 × and 10 × the usual interval): 2 s and 5 s.
 */
const CONFIG = {
  coolDownMs: COOL_DOWN_MS,
  venueLatency: { caution: { floor: 500 }, halt: { floor: 4_000 } },
  venueSilent: { caution: { floor: 2_000 }, halt: { floor: 4_000 } },
};
/** Well above the latency's caution floor, well below its halt floor. */
const SLOW_MS = 1_200;

interface BreakerView {
  snapshot: BreakerSnapshot;
  published: { level: string; multiplier: number; reason: string };
  events: (BreakerEvent & { rebuilt?: boolean })[];
  feeds: Record<string, { lastReportAt: number }>;
}

t.test('venue health: failed calls, a slow venue and a stalled datafeed move the market', async (t) => {
  if (!requireTool('kcat', 'kcat')) return t.comment('kcat is not installed: apt-get install kcat');
  const dir = mkdtempSync(join(tmpdir(), 'breaker-venue-'));
  const logger = pino({ level: 'silent' });

  const paper = createPaperExchange({ markets: DEFAULT_MARKETS, costs: DEFAULT_FILL_COSTS, logger });
  const paperUrl = await paper.listen({ port: 0 });
  t.teardown(() => paper.close());
  // Closed 1m bars up to a minute ago: the datafeed's first poll takes the newest of them.
  const first = Math.floor(Date.now() / MIN) * MIN - 30 * MIN;
  for (let i = 0; i < 30; i++) {
    const close = 100 + i / 10;
    const bar: Candle = {
      time: first + i * MIN,
      open: close,
      high: close + 1,
      low: close - 1,
      close,
      volume: 10,
    };
    paper.onCandle('BTC/USDT', bar);
  }

  const kafka = await startKafkaMock();
  t.teardown(() => kafka.stop());
  const bus = createKafkaBus({ brokers: kafka.brokers, clientId: 'breaker-venue-test' });
  t.teardown(() => bus.close());
  for (const [topic, n] of Object.entries(TOPIC_PARTITIONS)) await bus.ensureTopic(topic, n);

  const { signer: feed, file: feedKeyFile } = signerWithKeyFile(dir, 'feed.pem');
  const server = await startControlServer({
    bus,
    signer: generateSigner(),
    adminToken: ADMIN,
    logger,
    eligibility: { 'ema-cross.1h': ['BTC/USDT'] },
    feedKeys: KeyRing.of(exportPublicKey(feed.publicKey)),
    breaker: { config: CONFIG, tickMs: 200 },
    paper: false,
  });
  const api = await server.listen(0);
  t.teardown(() => server.close());
  const view = async (): Promise<BreakerView> => {
    const res = await fetch(`${api}/api/breaker`, { headers: { authorization: `Bearer ${ADMIN}` } });
    if (res.status !== 200) throw new Error(`GET /api/breaker: ${res.status} ${await res.text()}`);
    return (await res.json()) as BreakerView;
  };
  /** Polls the API until `pred` holds of its answer, and returns that answer. */
  const viewWhen = async (pred: (v: BreakerView) => boolean, what: string, timeoutMs = 30_000) => {
    let seen: BreakerView | undefined;
    await waitFor(
      async () => {
        seen = await view();
        return pred(seen);
      },
      what,
      timeoutMs,
    );
    return seen!;
  };
  const reading = (v: BreakerView, input: string) =>
    v.snapshot.market.readings.find((r) => r.input === input && r.text.startsWith('venue binance:'));

  const datafeed = spawnNode('datafeed', 'datafeed-node/src/main.ts', [
    '--kafka',
    kafka.bootstrap,
    '--signing-key-file',
    feedKeyFile,
    '--origin',
    ORIGIN,
    '--live',
    '--symbols',
    'BTC/USDT',
    '--timeframe',
    '1m',
    '--ccxt-url',
    paperUrl,
    '--report-every-ms',
    String(REPORT_EVERY_MS),
  ]);
  const pid = datafeed.proc.pid!;
  t.teardown(async () => {
    try {
      process.kill(pid, 'SIGCONT'); // a failed assertion may leave it stopped
    } catch {
      // gone already
    }
    await datafeed.kill('SIGKILL');
  });

  // The first call of a cold process (ccxt's loadMarkets inside it) may be slow enough for
  // caution; the next poll, 10 s later, is not, and a cool-down after it the market is normal.
  const healthy = await viewWhen(
    (v) =>
      reading(v, 'venue-errors')?.value === 0 &&
      v.feeds[ORIGIN] !== undefined &&
      v.published.level === 'normal',
    "the datafeed's reports of a healthy venue",
    40_000,
  );
  t.comment(`healthy: ${healthy.published.reason}`);
  t.match(
    reading(healthy, 'venue-errors')?.text,
    /^venue binance: 0 % of \d+ API calls failed$/,
    'the market starts normal, its venue read from the reports',
  );

  await t.test(
    'klines unavailable: the failed calls halt the market; it eases only after the cool-down',
    async (t) => {
      paper.faults.candlesUnavailable = true;
      const down = await viewWhen(
        (v) => v.published.level === 'halt',
        'the market to halt on the failed calls (the next poll comes within 10 s)',
      );
      t.match(
        down.published.reason,
        /venue binance: 100 % of \d+ API calls failed/,
        `the reason names the failed calls: ${down.published.reason}`,
      );
      const trip = down.events.find((e) => e.type === 'BreakerTripped' && e.scope === 'market')!;
      t.match(
        trip,
        { from: 'normal', to: 'halt', reason: /API calls failed/ },
        'the trip is an event with its reason',
      );

      paper.faults.candlesUnavailable = false;
      // The poller retries after a failure (1 s doubling): the first call that succeeds is calm.
      const calm = await viewWhen(
        (v) => reading(v, 'venue-errors')?.value === 0,
        'a report of calls that succeeded again',
      );
      t.equal(calm.published.level, 'halt', 'a calm venue does not lift the halt at once');
      t.match(
        calm.published.reason,
        /calm now; eases one step after a 3 s cool-down/,
        'the reason says it is calm and when it eases',
      );
      const notBefore = calm.snapshot.market.easesNoEarlierThan!;
      t.ok(notBefore > 0, 'the snapshot says when it may ease');

      const normal = await viewWhen((v) => v.published.level === 'normal', 'the market to ease to normal');
      const eased = normal.events
        .filter((e) => e.type === 'BreakerEased' && e.scope === 'market' && e.at >= trip.at)
        .reverse() as Extract<BreakerEvent, { type: 'BreakerEased' }>[];
      t.same(
        eased.map((e) => [e.from, e.to]),
        [
          ['halt', 'caution'],
          ['caution', 'normal'],
        ],
        'one step at a time',
      );
      t.ok(
        eased[0]!.at >= notBefore,
        'halt eases to caution no sooner than the cool-down after the last failure',
      );
      t.ok(eased[1]!.at - eased[0]!.at >= COOL_DOWN_MS, 'and caution to normal a whole cool-down later');
    },
  );

  await t.test('a slow venue puts the market at caution by its latency', async (t) => {
    paper.faults.latencyMs = SLOW_MS;
    const slow = await viewWhen(
      (v) => v.published.level === 'caution',
      'the market to go to caution on the slow venue (the next poll comes within 10 s)',
    );
    t.match(
      slow.published.reason,
      /venue binance: API latency p99 [\d.]+ (ms|s)\b/,
      `the reason is the venue's latency: ${slow.published.reason}`,
    );
    t.ok(reading(slow, 'venue-latency')!.value >= SLOW_MS, 'the p99 reflects the delay');
    t.equal(slow.published.multiplier, 0.5, 'buys at half size');
    paper.faults.latencyMs = 0;
  });

  await t.test('a stalled datafeed: no report halts the market; reports resume after SIGCONT', async (t) => {
    process.kill(pid, 'SIGSTOP');
    const stalledAt = Date.now();
    const silent = await viewWhen(
      (v) => v.published.level === 'halt',
      'the market to halt when the reports stop',
      20_000,
    );
    t.match(
      silent.published.reason,
      /venue binance: no report for [\d.]+ s \(usually every \d+ ms\)/,
      `the reason says how long the venue has been silent: ${silent.published.reason}`,
    );
    const quiet = reading(silent, 'venue-silent')!;
    t.ok(quiet.value >= quiet.halt, `silent ${quiet.value} ms, past its halt threshold of ${quiet.halt} ms`);
    t.ok(silent.feeds[ORIGIN]!.lastReportAt <= stalledAt, 'no report was taken after the datafeed stopped');
    const lastBeforeStop = silent.feeds[ORIGIN]!.lastReportAt;

    process.kill(pid, 'SIGCONT');
    const resumed = await viewWhen(
      (v) => v.feeds[ORIGIN]!.lastReportAt > lastBeforeStop && reading(v, 'venue-silent')!.value < 2_000,
      'reports to come again',
    );
    t.ok(resumed.feeds[ORIGIN]!.lastReportAt > lastBeforeStop, 'a newer report was taken');
    await viewWhen((v) => v.published.level !== 'halt', 'the halt to ease after the cool-down', 20_000);
    t.pass('the silence halt eases once reports are back');
  });
});
