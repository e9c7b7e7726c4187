import t from 'tap';
import { errorOf } from '@appliance/test-kit';
import {
  MAX_FEED_REPORT_CANDLES,
  MAX_TTL_MS,
  TOPICS,
  TOPIC_PARTITIONS,
  createCandle,
  createFeedReport,
  feedReportId,
  generateSigner,
  signMessage,
  verifyFeedReport,
  type FeedReportDraft,
} from '../src/index.js';
import { NOW, keys, signer as feed } from './fixtures.js';

const draft: FeedReportDraft = {
  origin: 'feed-1',
  ts: NOW,
  ttlMs: 45_000,
  periodMs: 15_000,
  venue: {
    name: 'binance',
    requests: 12,
    errors: 2,
    latencyP99Ms: 184.5,
    lastError: 'binance 503 Service Unavailable',
  },
  candles: {
    'BTC/USDT': { timeframe: '1h', time: NOW - 2 * 3_600_000, receivedAt: NOW - 3_599_000 },
    'ETH/USDT': { timeframe: '1h', time: NOW - 2 * 3_600_000, receivedAt: NOW - 3_598_000 },
  },
  house: { equity: 9_800.25, peak: 10_120 },
};
const at = { now: NOW };

t.test('the topic is feed-reports with 3 partitions', async (t) => {
  t.equal(TOPICS.feedReports, 'feed-reports');
  t.equal(TOPIC_PARTITIONS['feed-reports'], 3);
});

t.test('a signed feed report verifies against the pinned key and round-trips through JSON', async (t) => {
  const r = createFeedReport(draft, feed);
  t.equal(r.id, feedReportId('feed-1', NOW));
  t.equal(r.kid, feed.kid);
  t.equal(r.v, 1);
  t.same(verifyFeedReport(JSON.parse(JSON.stringify(r)), keys, at), r);
  const { house: _house, ...noHouse } = draft;
  const replay = createFeedReport(
    { ...noHouse, venue: { name: 'replay', requests: 0, errors: 0, latencyP99Ms: null } },
    feed,
  );
  t.same(verifyFeedReport(JSON.parse(JSON.stringify(replay)), keys, at), replay, 'without house, a replay');
});

t.test('the signing time defaults to now', async (t) => {
  const { ts: _ts, ...rest } = draft;
  const before = Date.now();
  const r = createFeedReport(rest, feed);
  t.ok(r.ts >= before && r.ts <= Date.now());
  t.same(verifyFeedReport(r, keys, { now: r.ts }), r);
});

t.test('any change to a signed field breaks the signature', async (t) => {
  const r = createFeedReport(draft, feed);
  const changes: Record<string, unknown> = {
    venue: { ...r.venue, errors: 0 },
    candles: {},
    house: { equity: 10_120, peak: 10_120 },
    periodMs: 30_000,
    ttlMs: 60_000,
  };
  for (const [k, v] of Object.entries(changes)) {
    t.equal(
      errorOf(() => verifyFeedReport({ ...r, [k]: v }, keys, at)),
      'E_BAD_SIGNATURE: feed-report signature does not verify',
      k,
    );
  }
  t.equal(
    errorOf(() => verifyFeedReport({ ...r, sig: 'A'.repeat(86) }, keys, at)),
    'E_BAD_SIGNATURE: feed-report signature does not verify',
    'a junk signature',
  );
});

t.test('a wrong key, a mis-derived id and another domain are refused with their codes', async (t) => {
  const stranger = generateSigner();
  t.equal(
    errorOf(() => verifyFeedReport(createFeedReport(draft, stranger), keys, at)),
    `E_UNKNOWN_KEY: feed-report signed with unknown key ${stranger.kid}`,
  );
  const { sig: _sig, ...unsigned } = createFeedReport(draft, feed);
  const forgedId = signMessage('feed-report', { ...unsigned, id: 'f'.repeat(32) }, feed);
  t.equal(
    errorOf(() => verifyFeedReport(forgedId, keys, at)),
    `E_BAD_ID: feed report id ${'f'.repeat(32)} is not derived from its origin and ts`,
  );
  for (const domain of ['signal', 'control', 'candle', 'simulator-result'] as const) {
    t.equal(
      errorOf(() => verifyFeedReport(signMessage(domain, unsigned, feed), keys, at)),
      'E_BAD_SIGNATURE: feed-report signature does not verify',
      domain,
    );
  }
});

t.test('a report is refused outside its window: held back, or from the future', async (t) => {
  const r = createFeedReport(draft, feed);
  t.same(verifyFeedReport(r, keys, { now: NOW + 45_000 }), r, 'valid to the end of its ttl');
  t.equal(
    errorOf(() => verifyFeedReport(r, keys, { now: NOW + 45_001 })),
    'E_EXPIRED: feed report expired 1 ms ago',
  );
  t.same(verifyFeedReport(r, keys, { now: NOW - 5_000 }), r, 'within the default clock skew');
  t.equal(
    errorOf(() => verifyFeedReport(r, keys, { now: NOW - 5_001 })),
    'E_NOT_YET_VALID: feed report issued 5001 ms in the future',
  );
  t.equal(
    errorOf(() => verifyFeedReport(r, keys, { now: NOW - 1_000, maxClockSkewMs: 500 })),
    'E_NOT_YET_VALID: feed report issued 1000 ms in the future',
  );
});

t.test('extra fields, bad values and oversized reports are malformed', async (t) => {
  const r = createFeedReport(draft, feed);
  const malformed = (input: unknown) => errorOf(() => verifyFeedReport(input, keys, at));
  t.match(malformed({ ...r, extra: 1 }), /^E_MALFORMED: malformed feed-report: message: /);
  t.match(
    malformed({ ...r, venue: { ...r.venue, token: 'x' } }),
    /^E_MALFORMED: malformed feed-report: venue: /,
  );
  t.match(
    malformed({ ...r, candles: { 'BTC/USDT': { ...r.candles['BTC/USDT'], close: 1 } } }),
    /^E_MALFORMED: malformed feed-report: candles\.BTC\/USDT: /,
  );
  t.equal(
    malformed({ ...r, venue: { ...r.venue, errors: 13 } }),
    'E_MALFORMED: malformed feed-report: venue.errors: more errors than requests',
  );
  t.equal(
    malformed({ ...r, house: { equity: 10, peak: 9 } }),
    'E_MALFORMED: malformed feed-report: house.peak: peak is below equity',
  );
  t.match(malformed({ ...r, house: { equity: -1, peak: 9 } }), /^E_MALFORMED: .*house\.equity/);
  t.match(malformed({ ...r, venue: { ...r.venue, requests: 1.5 } }), /^E_MALFORMED: .*venue\.requests/);
  t.match(malformed({ ...r, venue: { ...r.venue, name: 'Binance' } }), /^E_MALFORMED: .*venue\.name/);
  t.match(
    malformed({ ...r, venue: { ...r.venue, latencyP99Ms: -1 } }),
    /^E_MALFORMED: .*venue\.latencyP99Ms/,
  );
  t.match(
    malformed({ ...r, venue: { ...r.venue, lastError: 'x'.repeat(201) } }),
    /^E_MALFORMED: .*venue\.lastError/,
  );
  t.match(malformed({ ...r, ttlMs: MAX_TTL_MS + 1 }), /^E_MALFORMED: .*ttlMs/);
  t.match(malformed({ ...r, periodMs: 0 }), /^E_MALFORMED: .*periodMs/);
  t.match(malformed({ ...r, candles: { btc: r.candles['BTC/USDT'] } }), /^E_MALFORMED: .*candles/);
  const many = Object.fromEntries(
    Array.from({ length: MAX_FEED_REPORT_CANDLES + 1 }, (_, i) => [
      `C${i}/USDT`,
      { timeframe: '1h', time: NOW, receivedAt: NOW },
    ]),
  );
  t.equal(
    malformed({ ...r, candles: many }),
    `E_MALFORMED: malformed feed-report: candles: at most ${MAX_FEED_REPORT_CANDLES} candles`,
  );
  t.match(
    malformed(
      createCandle(
        {
          origin: 'feed-1',
          symbol: 'BTC/USDT',
          timeframe: '1h',
          time: NOW,
          open: 1,
          high: 1,
          low: 1,
          close: 1,
          volume: 1,
        },
        feed,
      ),
    ),
    /^E_MALFORMED: /,
    'a candle is not a report',
  );
  t.match(malformed('report'), /^E_MALFORMED: malformed feed-report: message: /);
});

t.test('a report at the bounds (1000 candles, a 200-character error) verifies', async (t) => {
  const full = Object.fromEntries(
    Array.from({ length: MAX_FEED_REPORT_CANDLES }, (_, i) => [
      `C${i}/USDT`,
      { timeframe: '1m', time: NOW - 60_000, receivedAt: NOW },
    ]),
  );
  const r = createFeedReport(
    { ...draft, candles: full, venue: { ...draft.venue, lastError: 'x'.repeat(200) } },
    feed,
  );
  t.same(verifyFeedReport(r, keys, at), r);
});
