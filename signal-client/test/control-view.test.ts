// The circuit breaker per asset, from the signed control message to the decision and the status
// the person at home reads: an asset the breaker names gets its own level (the stricter of it and
// the market's), the reasons are shown in plain words, and the HTML page escapes them.
import t from 'tap';
import pino from 'pino';
import { createControl, generateSigner, KeyRing, type ControlDraft } from '@appliance/protocol';
import { WEEKDAYS, decide, type CentralPolicy, type DecisionState } from '@appliance/trading-core';
import { emptyState } from '../src/index.js';
import { createControls } from '../src/controls.js';
import { renderStatusHtml, renderStatusText, statusView } from '../src/status.js';

const NOW = Date.parse('2026-06-10T10:00:00Z');
const control = generateSigner();
const common = { ts: NOW - 1_000, ttlMs: 60_000, origin: 'control' };
const DOGE_FELL = 'DOGE/USDT fell 31.0 % in 2 h, 6.2 σ';
const TOGETHER = '6 of 7 assets down together';

const POLICY: CentralPolicy = {
  schema: 1,
  orderQuote: 100,
  maxOrderQuote: 200,
  maxSpendPerDay: 500,
  maxExposurePct: 0.5,
  maxOpenPositions: 3,
  cashReservePct: 0.2,
  maxDrawdownPct: 0.25,
  dailyLossLimitPct: 0.05,
  heartbeatTimeoutMs: 300_000,
  costBufferBps: 50,
  maxPriceDeviationPct: 0.01,
  schedule: Object.fromEntries(
    WEEKDAYS.map((d) => [d, [{ start: '00:00', end: '24:00', maxSpend: null, buying: true }]]),
  ) as CentralPolicy['schedule'],
};

function device() {
  const rejected: string[] = [];
  const logger = pino({ level: 'warn' }, { write: (l: string) => void rejected.push(l) });
  const controls = createControls({
    keys: KeyRing.of(control.publicKey),
    device: { deviceId: 'dev-1', profile: 'family' },
    maxClockSkewMs: 5_000,
    now: () => NOW,
    logger,
  });
  // Through JSON, as a frame from the gateway arrives.
  const send = (draft: ControlDraft) =>
    controls.accept(JSON.parse(JSON.stringify(createControl(draft, control))));
  send({ kind: 'heartbeat', version: 1, ...common, body: {} });
  send({
    kind: 'eligibility',
    version: 1,
    ...common,
    body: { stream: 'ema.1h', symbols: ['BTC/USDT', 'DOGE/USDT'] },
  });
  /** What decide says to a 100 USDT buy (or a sell of 1 held) of `symbol`, with the controls held now. */
  const decideOn = (symbol: string, side: 'buy' | 'sell' = 'buy') => {
    const view = controls.view();
    const state: DecisionState = {
      quote: 'USDT',
      quoteFree: 10_000,
      holdings: { [symbol.split('/')[0]!]: 1 },
      marks: { [symbol]: 100 },
      marketPrice: 100,
      seedEquity: 10_100,
      dayStartEquity: 10_100,
      spends: [],
      lastHeartbeatAt: view.lastHeartbeatAt,
      breaker: view.breaker,
      eligibility: view.eligibility,
      market: { amountStep: 0.0001, priceTick: 0.01, minAmount: 0.0001, minNotional: 5 },
    };
    const signal = {
      id: `sig-${symbol}`,
      stream: 'ema.1h',
      symbol,
      side,
      price: 100,
      ts: NOW - 500,
      ttlMs: 60_000,
      authenticity: 'verified' as const,
    };
    return decide(signal, state, POLICY, { timeZone: 'UTC', streams: [], paused: false }, NOW);
  };
  const status = () =>
    statusView(
      emptyState('dev-1'),
      { connected: true, breaker: controls.view().breaker, marks: {} },
      'USDT',
      NOW,
    );
  return { send, decideOn, view: () => controls.view(), status, rejected };
}

t.test('a signed breaker with assets reaches decide with its reasons and levels per asset', async (t) => {
  const dev = device();
  t.equal(dev.view().breaker, null, 'no breaker heard yet');
  t.match(dev.decideOn('BTC/USDT'), { accept: false, code: 'R_BREAKER_UNKNOWN' });
  t.match(dev.decideOn('BTC/USDT', 'sell'), { accept: true, side: 'sell' }, 'selling never waits for it');

  dev.send({
    kind: 'breaker',
    version: 1,
    ...common,
    body: {
      level: 'caution',
      multiplier: 0.5,
      reason: TOGETHER,
      assets: { 'DOGE/USDT': { level: 'halt', multiplier: 0, reason: DOGE_FELL } },
    },
  });
  t.strictSame(dev.view().breaker, {
    level: 'caution',
    multiplier: 0.5,
    reason: TOGETHER,
    assets: { 'DOGE/USDT': { level: 'halt', multiplier: 0, reason: DOGE_FELL } },
  });
  t.strictSame(dev.decideOn('DOGE/USDT'), {
    accept: false,
    code: 'R_HALT',
    reason: `Buying DOGE/USDT is halted by the circuit breaker: ${DOGE_FELL}`,
  });
  t.match(dev.decideOn('BTC/USDT'), { accept: true, side: 'buy', quote: 50, notes: ['caution: size x0.5'] });
  t.match(
    dev.decideOn('DOGE/USDT', 'sell'),
    { accept: true, side: 'sell', amount: 1 },
    'a halted asset sells',
  );

  // The market halts: every buy stops, every sell still goes.
  dev.send({
    kind: 'breaker',
    version: 2,
    ...common,
    body: {
      level: 'halt',
      multiplier: 0,
      reason: TOGETHER,
      assets: { 'DOGE/USDT': { level: 'normal', multiplier: 1, reason: '' } },
    },
  });
  for (const symbol of ['BTC/USDT', 'DOGE/USDT']) {
    t.strictSame(dev.decideOn(symbol), {
      accept: false,
      code: 'R_HALT',
      reason: `Buying is halted by the circuit breaker (whole market): ${TOGETHER}`,
    });
    t.match(dev.decideOn(symbol, 'sell'), { accept: true, side: 'sell' });
  }
  t.same(dev.rejected, [], 'no control message was refused');
});

t.test(
  'a breaker from a control server before the per-asset breaker (no assets) works as before',
  async (t) => {
    const dev = device();
    dev.send({
      kind: 'breaker',
      version: 1,
      ...common,
      body: { level: 'normal', multiplier: 1, reason: 'calm' },
    });
    t.strictSame(dev.view().breaker, { level: 'normal', multiplier: 1, reason: 'calm' });
    t.match(dev.decideOn('DOGE/USDT'), { accept: true, side: 'buy', quote: 100 });
    t.equal(
      renderStatusText(dev.status()).split('\n')[1],
      'Circuit breaker: normal (buying as usual) — calm',
    );
  },
);

t.test('the status shows the market level with its reason and one line per asset', async (t) => {
  const dev = device();
  t.match(
    renderStatusText(dev.status()),
    /\nCircuit breaker: unknown \(no buying until the control server is heard\)\n/,
  );
  dev.send({
    kind: 'breaker',
    version: 1,
    ...common,
    body: {
      level: 'caution',
      multiplier: 0.5,
      reason: TOGETHER,
      assets: {
        'ETH/USDT': { level: 'caution', multiplier: 0.8, reason: 'ETH/USDT fell 9.8 % in 2 h, 4.1 σ' },
        'SOL/USDT': { level: 'caution', multiplier: 0.25, reason: '' },
        'DOGE/USDT': { level: 'halt', multiplier: 0, reason: DOGE_FELL },
      },
    },
  });
  const view = dev.status();
  t.match(view.breaker, {
    level: 'caution',
    reason: TOGETHER,
    assets: [
      { symbol: 'DOGE/USDT', level: 'halt', applies: { level: 'halt', scope: 'asset' } },
      {
        symbol: 'ETH/USDT',
        level: 'caution',
        multiplier: 0.8,
        applies: { multiplier: 0.5, scope: 'market' },
      },
      { symbol: 'SOL/USDT', level: 'caution', applies: { multiplier: 0.25, scope: 'asset' } },
    ],
  });
  const lines = renderStatusText(view).split('\n');
  t.strictSame(lines.slice(1, 5), [
    `Circuit breaker: caution (buys at half size) — ${TOGETHER}`,
    `  DOGE/USDT: halt (no buying) — ${DOGE_FELL}`,
    "  ETH/USDT: caution (buys at half size: the whole market's level applies) — ETH/USDT fell 9.8 % in 2 h, 4.1 σ",
    '  SOL/USDT: caution (buys at 25 % of the size)',
  ]);
});

t.test('a reason on the status page is escaped, kept on one line and cut short', async (t) => {
  const dev = device();
  const script = '<script>alert("pwned")</script> & more';
  dev.send({
    kind: 'breaker',
    version: 1,
    ...common,
    body: {
      level: 'halt',
      multiplier: 0,
      reason: script,
      assets: {
        'DOGE/USDT': {
          level: 'halt',
          multiplier: 0,
          reason: `line one\nCircuit breaker: normal ${'x'.repeat(440)}`,
        },
      },
    },
  });
  t.same(dev.rejected, [], 'the control message was taken');
  const view = dev.status();
  const html = renderStatusHtml(view);
  t.notMatch(html, /<script>/, 'no script element from a reason');
  t.match(
    html,
    'Circuit breaker: halt (no buying) — &#60;script&#62;alert(&#34;pwned&#34;)&#60;/script&#62; &#38; more',
  );
  const text = renderStatusText(view);
  t.notMatch(text, /\nCircuit breaker: normal/, 'a line break in a reason cannot forge a status line');
  const doge = text.split('\n').find((l) => l.startsWith('  DOGE/USDT: '))!;
  t.match(doge, /^ {2}DOGE\/USDT: halt \(no buying\) — /, 'halted by the market and by itself');
  const reason = doge.slice(doge.indexOf(' — ') + 3);
  t.equal(Array.from(reason).length, 200, 'cut to 200 characters');
  t.match(reason, /^line one Circuit breaker: normal x+…$/);
});
