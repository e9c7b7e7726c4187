import t from 'tap';
import { UnsignedCandleMessage, timeframeMs } from '../src/index.js';

t.test('timeframeMs reads a count of 1 to 9999 and a unit, and nothing else', async (t) => {
  t.equal(timeframeMs('1m'), 60_000);
  t.equal(timeframeMs('15m'), 900_000);
  t.equal(timeframeMs('1h'), 3_600_000);
  t.equal(timeframeMs('4h'), 14_400_000);
  t.equal(timeframeMs('1d'), 86_400_000);
  t.equal(timeframeMs('9999d'), 9999 * 86_400_000);
  for (const bad of [
    '0h',
    '01h',
    '10000m',
    '1w',
    '1H',
    'h',
    '1',
    '',
    ' 1h',
    '1h ',
    '1h\n',
    '-1h',
    '1.5h',
    '1e2m',
  ])
    t.equal(timeframeMs(bad), undefined, JSON.stringify(bad));
});

t.test('a candle message carries only a timeframe timeframeMs reads', async (t) => {
  const message = {
    v: 1,
    id: '0'.repeat(32),
    origin: 'feed-1',
    symbol: 'BTC/USDT',
    time: 1_700_000_000_000,
    open: 1,
    high: 1,
    low: 1,
    close: 1,
    volume: 0,
    ts: 1_700_000_000_000,
    kid: 'k'.repeat(16),
  };
  for (const timeframe of ['0h', '01h', '10000m', '1w'])
    t.notOk(UnsignedCandleMessage.safeParse({ ...message, timeframe }).success, `${timeframe} refused`);
  const ok = UnsignedCandleMessage.safeParse({ ...message, timeframe: '1h' });
  t.ok(ok.success, ok.success ? '1h accepted' : JSON.stringify(ok.error.issues));
});
