import t from 'tap';
import { errorOf } from '@appliance/test-kit';
import { MAX_PRICE, UnsignedCandleMessage, createSignal, verifySignal } from '../src/index.js';
import { NOW, draft, keys, signer } from './fixtures.js';

// A signature proves who sent a price, not that it is sane (issue #8: a signed 1e308 became a
// holding's valuation). The schema bounds it, so such a signal never reaches `decide`.

const verify = (price: number) => verifySignal(createSignal({ ...draft, price }, signer), keys, { now: NOW });

t.test('a correctly signed signal priced above MAX_PRICE is malformed, naming the price', async (t) => {
  t.equal(MAX_PRICE, 1e9);
  t.equal(verify(MAX_PRICE).price, MAX_PRICE, 'the bound itself is a price');
  t.equal(verify(1e-8).price, 1e-8, 'a tiny price is fine');
  t.equal(
    errorOf(() => verify(1e308)),
    'E_MALFORMED: malformed signal: price: Too big: expected number to be <=1000000000',
  );
  t.equal(
    errorOf(() => verify(MAX_PRICE * (1 + 1e-15))),
    'E_MALFORMED: malformed signal: price: Too big: expected number to be <=1000000000',
  );
  t.equal(
    errorOf(() => verify(0)),
    'E_MALFORMED: malformed signal: price: Too small: expected number to be >0',
  );
  t.equal(
    errorOf(() => verify(-5)),
    'E_MALFORMED: malformed signal: price: Too small: expected number to be >0',
  );
});

t.test('candle prices have the same bound', async (t) => {
  const candle = {
    v: 1,
    id: 'a'.repeat(32),
    origin: 'feed-1',
    symbol: 'BTC/USDT',
    timeframe: '1h',
    time: NOW - 3_600_000,
    open: 43_000,
    high: 43_500,
    low: 42_900,
    close: 43_100,
    volume: 12,
    ts: NOW,
    kid: signer.kid,
  };
  t.ok(UnsignedCandleMessage.safeParse(candle).success, 'a sane candle parses');
  for (const field of ['open', 'high', 'low', 'close'] as const) {
    const parsed = UnsignedCandleMessage.safeParse({ ...candle, [field]: 1e308 });
    t.notOk(parsed.success, `${field} 1e308 is refused`);
    t.same(parsed.error?.issues[0]?.path, [field]);
  }
});
