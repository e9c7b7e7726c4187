// The circuit breaker per asset as well as market-wide: an asset the breaker names gets the
// stricter of its own level and the market's, with the smaller multiplier; sells pass whatever
// the levels; a breaker without `assets` (older control servers) decides as before.
import t from 'tap';
import {
  WEEKDAYS,
  breakerFor,
  decide,
  type BreakerState,
  type Decision,
  type DecisionSignal,
  type DecisionState,
  type ReceivedPolicy,
  type UserSettings,
} from '../src/index.js';

const NOW = Date.parse('2026-06-10T10:00:00Z');
const PRICE = 100;

const POLICY: ReceivedPolicy = {
  schema: 1,
  orderQuote: 100,
  maxOrderQuote: 200,
  maxSpendPerDay: 1_000,
  maxExposurePct: 0.5,
  maxOpenPositions: 5,
  cashReservePct: 0,
  maxDrawdownPct: 0.25,
  dailyLossLimitPct: 0.05,
  heartbeatTimeoutMs: 300_000,
  costBufferBps: 50,
  maxPriceDeviationPct: 0.01,
  schedule: Object.fromEntries(
    WEEKDAYS.map((d) => [d, [{ start: '00:00', end: '24:00', maxSpend: null, buying: true }]]),
  ) as ReceivedPolicy['schedule'],
};
const SETTINGS: UserSettings = { timeZone: 'UTC', streams: [], paused: false };
const SYMBOLS = ['BTC/USDT', 'DOGE/USDT'];

const DOGE_FELL = 'DOGE/USDT fell 31.0 % in 2 h, 6.2 σ';
const TOGETHER = '6 of 7 assets down together';

function decideFor(symbol: string, side: 'buy' | 'sell', breaker: BreakerState | null): Decision {
  const signal: DecisionSignal = {
    id: `sig-${symbol}-${side}`,
    stream: 'ema',
    symbol,
    side,
    price: PRICE,
    ts: NOW - 1_000,
    ttlMs: 60_000,
    authenticity: 'verified',
  };
  const state: DecisionState = {
    quote: 'USDT',
    quoteFree: 10_000,
    holdings: { BTC: 1, DOGE: 1 },
    marks: { 'BTC/USDT': PRICE, 'DOGE/USDT': PRICE },
    marketPrice: PRICE,
    seedEquity: 10_200,
    dayStartEquity: 10_200,
    spends: [],
    lastHeartbeatAt: NOW - 10_000,
    breaker,
    eligibility: { ema: SYMBOLS },
    market: { amountStep: 0.001, priceTick: 0.01, minAmount: 0.001, minNotional: 5 },
  };
  return decide(signal, state, POLICY, SETTINGS, NOW);
}
const buyOf = (symbol: string, b: BreakerState | null) => decideFor(symbol, 'buy', b);
const sellOf = (symbol: string, b: BreakerState | null) => decideFor(symbol, 'sell', b);

const normal = (reason = ''): BreakerState => ({ level: 'normal', multiplier: 1, reason });
const caution = (multiplier: number, reason = ''): BreakerState => ({ level: 'caution', multiplier, reason });
const halt = (reason = ''): BreakerState => ({ level: 'halt', multiplier: 0, reason });
const withAssets = (market: BreakerState, assets: BreakerState['assets']): BreakerState => ({
  ...market,
  assets,
});
const accepted = (quote: number, notes: string[] = []): Decision => ({
  accept: true,
  side: 'buy',
  amount: quote / PRICE,
  price: PRICE,
  quote,
  notes,
});
const refused = (code: string, reason: string) => ({ accept: false, code, reason });

t.test("an asset at halt refuses that asset's buys with R_HALT, while another asset buys", async (t) => {
  const b = withAssets(normal(), { 'DOGE/USDT': halt(DOGE_FELL) });
  t.strictSame(
    buyOf('DOGE/USDT', b),
    refused('R_HALT', `Buying DOGE/USDT is halted by the circuit breaker: ${DOGE_FELL}`),
  );
  t.strictSame(buyOf('BTC/USDT', b), accepted(100));
});

t.test('the market at halt refuses every buy, named assets included', async (t) => {
  const b = withAssets(halt(TOGETHER), { 'DOGE/USDT': caution(0.5, DOGE_FELL) });
  for (const symbol of SYMBOLS) {
    t.strictSame(
      buyOf(symbol, b),
      refused('R_HALT', `Buying is halted by the circuit breaker (whole market): ${TOGETHER}`),
      symbol,
    );
  }
});

t.test('an asset at normal under a market at halt is halted', async (t) => {
  const b = withAssets(halt(TOGETHER), { 'DOGE/USDT': normal('recovered') });
  t.strictSame(
    buyOf('DOGE/USDT', b),
    refused('R_HALT', `Buying is halted by the circuit breaker (whole market): ${TOGETHER}`),
  );
});

t.test('an asset at halt under a market at halt names both reasons', async (t) => {
  const b = withAssets(halt(TOGETHER), { 'DOGE/USDT': halt(DOGE_FELL) });
  t.strictSame(
    buyOf('DOGE/USDT', b),
    refused(
      'R_HALT',
      `Buying DOGE/USDT is halted by the circuit breaker (whole market and DOGE/USDT itself): ${TOGETHER}; ${DOGE_FELL}`,
    ),
  );
  t.strictSame(breakerFor(withAssets(halt(), { 'DOGE/USDT': halt() }), 'DOGE/USDT').reason, '');
});

t.test('sells pass under an asset halt and under a market halt', async (t) => {
  for (const b of [
    withAssets(normal(), { 'DOGE/USDT': halt(DOGE_FELL) }),
    withAssets(halt(TOGETHER), { 'DOGE/USDT': halt(DOGE_FELL) }),
    halt(TOGETHER),
  ]) {
    for (const symbol of SYMBOLS) {
      t.match(sellOf(symbol, b), { accept: true, side: 'sell', amount: 1 }, `${symbol} under ${b.level}`);
    }
  }
});

t.test('caution for an asset and for the market: the smaller multiplier scales the buy', async (t) => {
  // the asset's is smaller
  t.strictSame(
    buyOf('DOGE/USDT', withAssets(caution(0.8), { 'DOGE/USDT': caution(0.25, DOGE_FELL) })),
    accepted(25, ['caution for DOGE/USDT: size x0.25']),
  );
  // the market's is smaller
  t.strictSame(
    buyOf('DOGE/USDT', withAssets(caution(0.5), { 'DOGE/USDT': caution(0.8) })),
    accepted(50, ['caution: size x0.5']),
  );
  // an asset at caution under a normal market; the other asset buys in full
  const b = withAssets(normal(), { 'DOGE/USDT': caution(0.5) });
  t.strictSame(buyOf('DOGE/USDT', b), accepted(50, ['caution for DOGE/USDT: size x0.5']));
  t.strictSame(buyOf('BTC/USDT', b), accepted(100));
  // an asset at normal under a market at caution: the market's multiplier
  t.strictSame(
    buyOf('DOGE/USDT', withAssets(caution(0.5), { 'DOGE/USDT': normal() })),
    accepted(50, ['caution: size x0.5']),
  );
  // a multiplier sent with an asset's normal level is ignored, as the market's is
  t.strictSame(
    buyOf('DOGE/USDT', withAssets(normal(), { 'DOGE/USDT': { ...normal(), multiplier: 0.1 } })),
    accepted(100),
  );
});

t.test('an asset at caution that cuts the buy below the minimum names the asset (R_CAUTION)', async (t) => {
  t.strictSame(
    buyOf('DOGE/USDT', withAssets(normal(), { 'DOGE/USDT': caution(0.01) })),
    refused(
      'R_CAUTION',
      "The circuit breaker is at caution for DOGE/USDT and cut the order to 1.00 USDT (size x0.01), below the exchange's minimum order for DOGE/USDT (5.00 USDT)",
    ),
  );
});

t.test('a breaker without assets decides as before', async (t) => {
  t.strictSame(buyOf('DOGE/USDT', { level: 'normal', multiplier: 1 }), accepted(100));
  t.strictSame(
    buyOf('DOGE/USDT', { level: 'caution', multiplier: 0.5 }),
    accepted(50, ['caution: size x0.5']),
  );
  t.strictSame(
    buyOf('DOGE/USDT', { level: 'halt', multiplier: 0 }),
    refused('R_HALT', 'Buying is halted by the circuit breaker (whole market)'),
  );
  t.strictSame(buyOf('DOGE/USDT', withAssets(normal(), {})), accepted(100), 'an empty list');
});

t.test('an unknown breaker still refuses every buy, and sells still pass', async (t) => {
  for (const symbol of SYMBOLS) {
    t.strictSame(
      buyOf(symbol, null),
      refused(
        'R_BREAKER_UNKNOWN',
        'Buying is off: the state of the central circuit breaker is not known yet',
      ),
    );
    t.match(sellOf(symbol, null), { accept: true, side: 'sell' });
  }
});

t.test('a long reason is cut to about 200 characters, on one line', async (t) => {
  const long = `first line\n${'x'.repeat(600)}`;
  const d = buyOf('DOGE/USDT', withAssets(normal(), { 'DOGE/USDT': halt(long) }));
  t.equal(d.accept, false);
  if (d.accept) return;
  t.equal(d.code, 'R_HALT');
  const reason = d.reason.slice('Buying DOGE/USDT is halted by the circuit breaker: '.length);
  t.equal(Array.from(reason).length, 200);
  t.match(reason, /^first line x+…$/);
});

t.test('only own entries of assets count, and a malformed one is bad input for buys only', async (t) => {
  const inherited = Object.create({ 'DOGE/USDT': halt('inherited') }) as Record<string, BreakerState>;
  t.strictSame(buyOf('DOGE/USDT', withAssets(normal(), inherited)), accepted(100));
  const bad = withAssets(normal(), {
    'DOGE/USDT': { level: 'stop', multiplier: 0 } as unknown as BreakerState,
  });
  t.strictSame(
    buyOf('BTC/USDT', bad),
    refused(
      'R_BAD_INPUT',
      'The device could not decide: the circuit breaker state of "DOGE/USDT" is invalid ({"level":"stop","multiplier":0})',
    ),
  );
  t.match(sellOf('DOGE/USDT', bad), { accept: true, side: 'sell' }, 'a sell does not read the breaker');
  const notARecord = { ...normal(), assets: ['DOGE/USDT'] } as unknown as BreakerState;
  t.strictSame(
    buyOf('BTC/USDT', notARecord),
    refused(
      'R_BAD_INPUT',
      "The device could not decide: the circuit breaker's assets are not a list by symbol",
    ),
  );
});

t.test('breakerFor says which scope decides', async (t) => {
  const b = withAssets(caution(0.5, TOGETHER), {
    'DOGE/USDT': halt(DOGE_FELL),
    'ETH/USDT': caution(0.5, 'eth'),
    'SOL/USDT': normal('fine'),
  });
  t.strictSame(breakerFor(b, 'DOGE/USDT'), {
    level: 'halt',
    multiplier: 0,
    reason: DOGE_FELL,
    scope: 'asset',
  });
  t.strictSame(breakerFor(b, 'ETH/USDT'), {
    level: 'caution',
    multiplier: 0.5,
    reason: `${TOGETHER}; eth`,
    scope: 'both',
  });
  t.strictSame(breakerFor(b, 'SOL/USDT'), {
    level: 'caution',
    multiplier: 0.5,
    reason: TOGETHER,
    scope: 'market',
  });
  t.strictSame(breakerFor(b, 'BTC/USDT'), {
    level: 'caution',
    multiplier: 0.5,
    reason: TOGETHER,
    scope: 'market',
  });
  t.strictSame(breakerFor({ level: 'normal', multiplier: 1 }, 'BTC/USDT'), {
    level: 'normal',
    multiplier: 1,
    reason: '',
    scope: 'market',
  });
});
