// The control server's eligibility message now says why (`reasons`) and from which simulator
// run (`run`). A device takes both that and the format without them, and buys only what
// `symbols` names: a reason for a symbol is an explanation, never permission.
import t from 'tap';
import pino from 'pino';
import { createControl, generateSigner, KeyRing, type ControlDraft } from '@appliance/protocol';
import { WEEKDAYS, decide, type CentralPolicy, type DecisionState } from '@appliance/trading-core';
import { createControls } from '../src/controls.js';

const NOW = Date.parse('2026-06-10T10:00:00Z');
const control = generateSigner();
const common = { ts: NOW - 1_000, ttlMs: 60_000, origin: 'control' };

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
  const send = (draft: ControlDraft) =>
    controls.accept(JSON.parse(JSON.stringify(createControl(draft, control))));
  send({ kind: 'breaker', version: 1, ...common, body: { level: 'normal', multiplier: 1, reason: 'ok' } });
  send({ kind: 'heartbeat', version: 2, ...common, body: {} });
  /** What decide says to a 100 USDT buy of `symbol` on ema.1h, with what the device holds now. */
  const buy = (symbol: string) => {
    const view = controls.view();
    const state: DecisionState = {
      quote: 'USDT',
      quoteFree: 10_000,
      holdings: {},
      marks: { [symbol]: 100 },
      marketPrice: 100,
      seedEquity: 10_000,
      dayStartEquity: 10_000,
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
      side: 'buy' as const,
      price: 100,
      ts: NOW - 500,
      ttlMs: 60_000,
      authenticity: 'verified' as const,
    };
    const settings = { timeZone: 'UTC', streams: [], paused: false };
    const d = decide(signal, state, POLICY, settings, NOW);
    return d.accept ? 'accept' : d.code;
  };
  return { send, buy, view: () => controls.view(), rejected };
}

t.test(
  'a device takes the eligibility format without reasons and run, and buys only what it names',
  async (t) => {
    const d = device();
    d.send({
      kind: 'eligibility',
      version: 10,
      ...common,
      body: { stream: 'ema.1h', symbols: ['BTC/USDT'] },
    });
    t.same(d.view().eligibility, { 'ema.1h': ['BTC/USDT'] });
    t.equal(d.buy('BTC/USDT'), 'accept');
    t.equal(d.buy('ETH/USDT'), 'R_NOT_ELIGIBLE');
    t.same(d.rejected, [], 'no control message was refused');
  },
);

t.test('a device takes the format with reasons and run, and a reason is not permission to buy', async (t) => {
  const d = device();
  d.send({ kind: 'eligibility', version: 10, ...common, body: { stream: 'ema.1h', symbols: ['BTC/USDT'] } });
  d.send({
    kind: 'eligibility',
    version: 11,
    ...common,
    body: {
      stream: 'ema.1h',
      symbols: ['ETH/USDT'],
      reasons: {
        'BTC/USDT': 'max drawdown 31% over 6 months (limit 20%)',
        'ETH/USDT': 'positive on 1m, 3m, 6m and 1y',
        'DOGE/USDT': 'eligible on every horizon, but blocked by the operator',
      },
      run: { id: 'run-42', at: NOW - 60_000 },
    },
  });
  t.same(d.rejected, [], 'no control message was refused');
  t.same(d.view().eligibility, { 'ema.1h': ['ETH/USDT'] }, 'the newest version, symbols only');
  t.equal(d.buy('ETH/USDT'), 'accept');
  t.equal(d.buy('BTC/USDT'), 'R_NOT_ELIGIBLE', 'removed by the newer message');
  t.equal(d.buy('DOGE/USDT'), 'R_NOT_ELIGIBLE', 'a reason names it; symbols do not');

  // An older message in the old format arriving late changes nothing.
  d.send({ kind: 'eligibility', version: 9, ...common, body: { stream: 'ema.1h', symbols: ['DOGE/USDT'] } });
  t.equal(d.buy('DOGE/USDT'), 'R_NOT_ELIGIBLE');
});
