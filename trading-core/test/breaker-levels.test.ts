import t from 'tap';
import {
  Breaker,
  BreakerError,
  MARKET,
  stricter,
  type BreakerConfigInput,
  type BreakerEvent,
} from '../src/breaker/index.js';
import { HOUR, QUIET, T0, feed, merge, trips, walk } from './helpers/breaker-series.js';
import { throwsExactly } from './helpers/throws.js';

// Peg thresholds stay at their floors (caution 0.005, halt 0.02): the history never gets long enough.
const CFG: BreakerConfigInput = merge(QUIET, { peg: { window: 100_000, minHistory: 100_000 } });
const COOL = 4 * HOUR;
const kinds = (events: readonly BreakerEvent[]) =>
  events.map((e) => ('to' in e ? `${e.type} ${e.scope} ${e.from}->${e.to}` : `${e.type} ${e.scope}`));

t.test('hysteresis: dipping just under the trip threshold does not ease', async (t) => {
  const b = new Breaker(CFG);
  t.same(kinds(b.peg(1.006, T0)), ['BreakerTripped market normal->caution']);
  // 0.004 is under caution (0.005) but over 0.7 × 0.005: it still holds, however long.
  for (let h = 1; h <= 24; h++) t.same(b.peg(0.996, T0 + h * HOUR), [], `hour ${h}`);
  t.equal(b.level(MARKET).level, 'caution');
  t.equal(
    b.level(MARKET).reason,
    'quote stablecoin at 0.9960 against the second stablecoin, 0.4 % off its peg',
  );
  t.equal(b.snapshot().market.easesNoEarlierThan, T0 + 24 * HOUR + COOL);
});

t.test('cool-down: eases one step per coolDownMs of calm', async (t) => {
  const b = new Breaker(CFG);
  t.same(kinds(b.peg(1.03, T0)), ['BreakerTripped market normal->halt']);
  t.same(b.peg(1.0001, T0 + 1000), []);
  t.same(b.tick(T0 + COOL - 1), [], 'not before the cool-down');
  t.equal(b.level(MARKET).reason.endsWith('(calm now; eases one step after a 4 h cool-down)'), true);
  const first = b.tick(T0 + COOL);
  t.same(kinds(first), ['BreakerEased market halt->caution'], 'one step');
  t.equal(first[0]?.type === 'BreakerEased' && first[0].multiplier, 0.5);
  t.same(b.tick(T0 + 2 * COOL - 1), [], 'the next step waits another cool-down');
  t.same(kinds(b.tick(T0 + 2 * COOL)), ['BreakerEased market caution->normal']);
  t.equal(b.level(MARKET).reason, 'normal: no input near its threshold');
  t.equal(b.snapshot().market.easesNoEarlierThan, null);
});

t.test('a sawtooth across the trip threshold faster than the cool-down never flaps', async (t) => {
  const b = new Breaker(CFG);
  const events: BreakerEvent[] = [];
  for (let h = 0; h < 48; h++) events.push(...b.peg(h % 3 === 0 ? 1.006 : 1.001, T0 + h * HOUR));
  t.same(kinds(events), ['BreakerTripped market normal->caution']);
  // The last spike was at hour 45: calm for 4 h after it, then it eases.
  t.same(b.tick(T0 + 49 * HOUR - 1), []);
  t.same(kinds(b.tick(T0 + 49 * HOUR)), ['BreakerEased market caution->normal']);
});

t.test('an override holds against calm inputs, is not lowered, and the operator clears it', async (t) => {
  const b = new Breaker(CFG);
  const set = b.setOverride('BTC/USDT', { level: 'halt', reason: 'exchange maintenance', by: 'alice' }, T0);
  t.same(kinds(set), ['OverrideSet BTC/USDT', 'BreakerTripped BTC/USDT normal->halt']);
  const trip = set[1];
  t.equal(trip?.type === 'BreakerTripped' && trip.reason, 'halt set by alice: exchange maintenance');
  t.equal(trip?.type === 'BreakerTripped' && trip.inputs[0]?.input, 'override');
  feed(b, 'BTC/USDT', walk(50, 0.005, 7));
  t.same(b.tick(T0 + 100 * HOUR), []);
  t.equal(b.level('BTC/USDT').level, 'halt', 'calm inputs and time do not lower it');
  t.equal(b.snapshot().assets['BTC/USDT']?.automatic, 'normal');
  const cleared = b.clearOverride('BTC/USDT', 'bob', T0 + 101 * HOUR);
  t.same(kinds(cleared), ['OverrideCleared BTC/USDT', 'BreakerEased BTC/USDT halt->normal']);
  t.same(cleared[0], {
    type: 'OverrideCleared',
    at: T0 + 101 * HOUR,
    scope: 'BTC/USDT',
    by: 'bob',
    expired: false,
  });
  throwsExactly(t, () => b.clearOverride('BTC/USDT', 'bob', T0 + 102 * HOUR), {
    name: 'BreakerError',
    code: 'E_NO_OVERRIDE',
    message: 'no override on BTC/USDT',
  });
});

t.test('an override expires by itself, checked on any call', async (t) => {
  const b = new Breaker(CFG);
  b.setOverride(MARKET, { level: 'caution', reason: 'CPI at 14:30', by: 'alice', expiresAt: T0 + HOUR }, T0);
  t.same(b.tick(T0 + HOUR - 1), []);
  const ev = b.peg(1, T0 + HOUR);
  t.same(kinds(ev), ['OverrideCleared market', 'BreakerEased market caution->normal']);
  t.same(ev[0], { type: 'OverrideCleared', at: T0 + HOUR, scope: MARKET, by: null, expired: true });
});

t.test(
  'the automatic level can rise above an override, and the override holds what auto would ease',
  async (t) => {
    const b = new Breaker(CFG);
    b.setOverride(MARKET, { level: 'caution', reason: 'watching', by: 'alice' }, T0);
    const ev = b.peg(1.03, T0 + 1);
    t.same(kinds(ev), ['BreakerTripped market caution->halt']);
    t.equal(ev[0]?.type === 'BreakerTripped' && ev[0].inputs.map((r) => r.input).join(), 'peg');
    b.peg(1, T0 + 2);
    b.tick(T0 + 2 + COOL);
    t.same(b.snapshot().market.automatic, 'caution');
    t.same(kinds(b.tick(T0 + 2 + 2 * COOL)), [], 'auto at normal, the override still says caution');
    t.equal(b.level(MARKET).level, 'caution');
    t.equal(b.level(MARKET).reason, 'caution set by alice: watching');
  },
);

t.test('effective combines market and asset: stricter level, smaller multiplier, both reasons', async (t) => {
  const b = new Breaker(CFG);
  t.same(b.effective('DOGE/USDT'), {
    level: 'normal',
    multiplier: 1,
    reason: 'normal: no input near its threshold',
  });
  b.setOverride(MARKET, { level: 'caution', reason: 'CPI', by: 'alice' }, T0);
  t.same(b.effective('DOGE/USDT'), {
    level: 'caution',
    multiplier: 0.5,
    reason: 'caution set by alice: CPI',
  });
  t.same(b.level('DOGE/USDT').level, 'normal', 'an unknown asset is normal on its own');
  b.setOverride('DOGE/USDT', { level: 'halt', reason: 'delisting', by: 'bob' }, T0);
  t.same(b.effective('DOGE/USDT'), {
    level: 'halt',
    multiplier: 0,
    reason: 'halt set by bob: delisting; caution set by alice: CPI',
  });
  t.same(b.effective('BTC/USDT').level, 'caution', 'another asset has only the market');
  t.same(
    stricter(
      { level: 'caution', multiplier: 0.5, reason: 'a' },
      { level: 'caution', multiplier: 0.25, reason: 'b' },
    ),
    { level: 'caution', multiplier: 0.25, reason: 'a; b' },
  );
  t.same(
    stricter({ level: 'normal', multiplier: 1, reason: 'n' }, { level: 'halt', multiplier: 0, reason: 'h' }),
    {
      level: 'halt',
      multiplier: 0,
      reason: 'h',
    },
  );
});

t.test('reasons are at most 500 characters', async (t) => {
  const b = new Breaker(CFG);
  b.setOverride(MARKET, { level: 'halt', reason: 'x'.repeat(300), by: 'a'.repeat(100) }, T0);
  b.peg(1.03, T0);
  b.venue({ venue: 'binance', requests: 40, errors: 40, latencyP99Ms: null }, T0);
  const r = b.level(MARKET).reason;
  t.equal(r.length, 500);
  t.equal(r.endsWith('…'), true);
});

t.test('bad config throws a typed error naming the field', async (t) => {
  throwsExactly(t, () => new Breaker({ easeRatio: 2 }), {
    name: 'BreakerError',
    code: 'E_BREAKER_CONFIG',
    message: 'breaker config: easeRatio: Too big: expected number to be <=1',
  });
  throwsExactly(t, () => new Breaker({ returnZ: { caution: 5 } }), {
    code: 'E_BREAKER_CONFIG',
    message: 'breaker config: returnZ.halt: must be at least returnZ.caution',
  });
  throwsExactly(t, () => new Breaker({ nope: 1 } as BreakerConfigInput), {
    code: 'E_BREAKER_CONFIG',
    message: 'breaker config: (config): Unrecognized key: "nope"',
  });
});

t.test('bad input throws E_BAD_INPUT and changes nothing', async (t) => {
  const b = new Breaker(CFG);
  feed(b, 'BTC/USDT', walk(5, 0.005, 8));
  b.setOverride(MARKET, { level: 'caution', reason: 'r', by: 'a', expiresAt: T0 + 100 * HOUR }, T0);
  const before = JSON.stringify(b.snapshot());
  const cases: [string, () => unknown, string][] = [
    ['NaN peg', () => b.peg(NaN, T0), 'peg price: must be a finite number above 0, not NaN'],
    ['negative equity', () => b.houseEquity(-1, T0), 'equity: must be a finite number at least 0, not -1'],
    [
      'infinite close',
      () => b.candle({ symbol: 'BTC/USDT', time: T0 + 10 * HOUR, close: Infinity, timeframeMs: HOUR }, T0),
      'BTC/USDT: close must be a finite price above 0, not Infinity',
    ],
    [
      'an old bar',
      () => b.candle({ symbol: 'BTC/USDT', time: T0, close: 1, timeframeMs: HOUR }, T0 + 200 * HOUR),
      `BTC/USDT: bar at ${T0} is not after the last one taken (${T0 + 4 * HOUR})`,
    ],
    ['bad scope', () => b.level('btc-usdt'), 'scope: must be a symbol such as BTC/USDT, not "btc-usdt"'],
    [
      'errors over requests',
      () => b.venue({ venue: 'binance', requests: 1, errors: 2, latencyP99Ms: null }, T0),
      'venue binance: errors must be a whole number from 0 to requests (1), not 2',
    ],
    [
      'expiry in the past',
      () => b.setOverride(MARKET, { level: 'halt', reason: 'r', by: 'a', expiresAt: T0 }, T0 + 1),
      `override expiresAt: must be null or a time after now (${T0 + 1}), not ${T0}`,
    ],
    [
      'unknown level',
      () => b.setOverride(MARKET, { level: 'panic' as 'halt', reason: 'r', by: 'a' }, T0),
      'override level: must be normal, caution or halt, not "panic"',
    ],
    // Well past the market override's expiry: a bad call must not expire it either.
    ['NaN now', () => b.tick(NaN), 'now: must be a finite time in ms, not NaN'],
    ['bad peg late', () => b.peg(-1, T0 + 1000 * HOUR), 'peg price: must be a finite number above 0, not -1'],
  ];
  for (const [name, fn, message] of cases) {
    throwsExactly(t, fn, { name: 'BreakerError', code: 'E_BAD_INPUT', message });
    t.equal(JSON.stringify(b.snapshot()), before, `${name} changed nothing`);
  }
  t.ok(new BreakerError('E_BAD_INPUT') instanceof Error);
});

t.test('memory is bounded: assets beyond maxAssets are refused', async (t) => {
  const b = new Breaker(merge(CFG, { maxAssets: 2 }));
  feed(b, 'BTC/USDT', [1]);
  feed(b, 'ETH/USDT', [1]);
  throwsExactly(t, () => feed(b, 'SOL/USDT', [1]), {
    code: 'E_BAD_INPUT',
    message: 'too many assets: at most 2 (maxAssets)',
  });
  t.same(Object.keys(b.snapshot().assets), ['BTC/USDT', 'ETH/USDT']);
  t.equal(trips(b.tick(T0 + 2 * HOUR)).length, 0);
});
