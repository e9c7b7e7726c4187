import t from 'tap';
import { errorOf } from '@appliance/test-kit';
import {
  CandleSequence,
  candleId,
  createCandle,
  generateSigner,
  signMessage,
  verifyCandle,
  type CandleDraft,
} from '../src/index.js';
import { NOW, keys, signer as feed } from './fixtures.js';

const draft: CandleDraft = {
  origin: 'feed-1',
  symbol: 'BTC/USDT',
  timeframe: '1h',
  time: NOW - 3_600_000,
  open: 43_000,
  high: 43_500,
  low: 42_900,
  close: 43_210.5,
  volume: 12.5,
  ts: NOW,
};

t.test('a signed candle verifies against the pinned key and round-trips through JSON', async (t) => {
  const c = createCandle(draft, feed);
  t.equal(c.id, candleId('feed-1', 'BTC/USDT', '1h', NOW - 3_600_000));
  t.equal(c.kid, feed.kid);
  t.same(verifyCandle(JSON.parse(JSON.stringify(c)), keys), c);
});

t.test('the publication time defaults to now', async (t) => {
  const { ts: _ts, ...rest } = draft;
  const before = Date.now();
  const c = createCandle(rest, feed);
  t.ok(c.ts >= before && c.ts <= Date.now());
  t.same(verifyCandle(c, keys), c);
});

t.test('a candle of any age verifies: a replay publishes bars years old', async (t) => {
  const old = createCandle({ ...draft, time: 1_500_000_000_000, ts: 1_500_000_100_000 }, feed);
  t.same(verifyCandle(old, keys), old);
});

t.test('any change to a signed field breaks the signature', async (t) => {
  const c = createCandle(draft, feed);
  for (const [k, v] of Object.entries({
    open: 1,
    high: 1e6,
    low: 1,
    close: 43_210.6,
    volume: 0,
    ts: NOW + 1,
    origin: 'feed-2',
  })) {
    t.equal(
      errorOf(() => verifyCandle({ ...c, [k]: v }, keys)),
      'E_BAD_SIGNATURE: candle signature does not verify',
      k,
    );
  }
});

t.test(
  'a junk signature, an unknown key and a mis-derived id are each refused with their code',
  async (t) => {
    const c = createCandle(draft, feed);
    t.equal(
      errorOf(() => verifyCandle({ ...c, sig: 'A'.repeat(86) }, keys)),
      'E_BAD_SIGNATURE: candle signature does not verify',
    );
    const stranger = generateSigner();
    t.equal(
      errorOf(() => verifyCandle(createCandle(draft, stranger), keys)),
      `E_UNKNOWN_KEY: candle signed with unknown key ${stranger.kid}`,
    );
    const { sig: _sig, ...unsigned } = c;
    const forgedId = signMessage('candle', { ...unsigned, id: 'f'.repeat(32) }, feed);
    t.equal(
      errorOf(() => verifyCandle(JSON.parse(JSON.stringify(forgedId)), keys)),
      `E_BAD_ID: candle id ${'f'.repeat(32)} is not derived from its origin and bar`,
    );
  },
);

t.test('the pre-signature candle shape and anything not a candle are malformed', async (t) => {
  const { origin: _o, ts: _ts, ...legacy } = draft;
  t.equal(
    errorOf(() => verifyCandle(legacy, keys)),
    'E_MALFORMED: malformed candle: v: Invalid input: expected 1',
  );
  t.match(
    errorOf(() => verifyCandle({ ...createCandle(draft, feed), extra: 1 }, keys)),
    /^E_MALFORMED: /,
  );
  t.match(
    errorOf(() => verifyCandle('candle', keys)),
    /^E_MALFORMED: malformed candle: message: /,
  );
  t.match(
    errorOf(() => verifyCandle({ ...createCandle(draft, feed), close: -1 }, keys)),
    /^E_MALFORMED: .*close/,
  );
});

t.test('signatures are domain-separated: a signal or control signature never makes a candle', async (t) => {
  const c = createCandle(draft, feed);
  const { sig: _sig, ...unsigned } = c;
  for (const domain of ['signal', 'control', 'device-token'] as const) {
    const other = signMessage(domain, unsigned, feed);
    t.equal(
      errorOf(() => verifyCandle(other, keys)),
      'E_BAD_SIGNATURE: candle signature does not verify',
      domain,
    );
  }
});

t.test('CandleSequence takes newer bars and newer publications of a bar, never older ones', async (t) => {
  const seq = new CandleSequence();
  const bar = (time: number, ts: number, symbol = 'BTC/USDT') => ({ symbol, timeframe: '1h', time, ts });
  t.equal(seq.admit(bar(2, 10)), 'new');
  t.equal(seq.admit(bar(2, 10)), 'duplicate', 'the same publication redelivered');
  t.equal(seq.admit(bar(2, 11)), 'new', 'the same bar, published later (still forming)');
  t.equal(seq.admit(bar(2, 10)), 'stale', 'an earlier publication of the bar replayed');
  t.equal(seq.admit(bar(1, 99)), 'stale', 'an older bar, however recently published');
  t.equal(seq.admit(bar(1, 1, 'ETH/USDT')), 'new', 'symbols are independent');
  t.equal(seq.admit(bar(3, 0)), 'new');
  t.equal(seq.order(bar(4, 0)), 'new', 'order() only looks');
  t.equal(seq.order(bar(4, 0)), 'new');
  seq.record(bar(4, 0));
  t.equal(seq.order(bar(4, 0)), 'duplicate');
});
