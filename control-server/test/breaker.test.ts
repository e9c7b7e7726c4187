import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import {
  KeyRing,
  TOPICS,
  createCandle,
  createFeedReport,
  exportPublicKey,
  generateSigner,
  verifyControl,
  type Bus,
  type Control,
  type KeyRing as KeyRingType,
} from '@appliance/protocol';
import { waitFor } from '@appliance/test-kit';
import { DATABASE_FILE, Store } from '../src/store/database.js';
import { setup } from './helpers.js';

const HOUR = 3_600_000;
/** Small windows so a few dozen bars make a baseline; the thresholds are the defaults. */
const CONFIG = { baselineBars: 40, minBaselineBars: 20, volBars: 6, coolDownMs: 24 * HOUR };
const SYMBOLS = ['BTC/USDT', 'ETH/USDT', 'SOL/USDT', 'XRP/USDT'];
const T0 = Date.UTC(2026, 0, 1);

/** The newest breaker control message on the bus, verified with the control server's key. */
async function latestBreaker(bus: Bus, keys: KeyRingType): Promise<Extract<Control, { kind: 'breaker' }>> {
  const found: Control[] = [];
  const sub = await bus.subscribe({
    topic: TOPICS.control,
    from: 'earliest',
    onMessage: (m) => {
      const c = verifyControl(JSON.parse(m.value.toString()), keys, { now: Date.now() });
      if (c.kind === 'breaker') found.push(c);
    },
  });
  await sub.ready;
  await new Promise((r) => setTimeout(r, 50));
  await sub.close();
  const last = found.at(-1);
  if (!last || last.kind !== 'breaker') throw new Error('no breaker message');
  return last;
}

/** Publishes `bars` hourly candles per symbol, a gentle wiggle; `crash` moves one symbol's last bars. */
async function publishBars(
  bus: Bus,
  feed: ReturnType<typeof generateSigner>,
  bars: number,
  crash?: { symbol: string; factor: number },
) {
  for (let i = 0; i < bars; i++)
    for (const [k, symbol] of SYMBOLS.entries()) {
      let close = 100 * (1 + 0.004 * Math.sin(i * 1.7 + k) + 0.003 * Math.cos(i * 0.9 + 2 * k));
      if (crash && symbol === crash.symbol && i >= bars - 2) close *= crash.factor;
      const c = createCandle(
        {
          origin: 'feed-1',
          symbol,
          timeframe: '1h',
          time: T0 + i * HOUR,
          open: close,
          high: close * 1.001,
          low: close * 0.999,
          close,
          volume: 10,
        },
        feed,
      );
      await bus.publish(TOPICS.candles, [{ key: symbol, value: JSON.stringify(c) }]);
    }
}

t.test(
  'one collapsing asset is halted on its own, with the move in words, while the market trades',
  async (t) => {
    const feed = generateSigner();
    const { bus, signer, call } = await setup(t, {
      feedKeys: KeyRing.of(exportPublicKey(feed.publicKey)),
      breaker: { config: CONFIG, tickMs: 60_000 },
    });
    const keys = KeyRing.of(exportPublicKey(signer.publicKey));
    await publishBars(bus, feed, 60, { symbol: 'SOL/USDT', factor: 0.7 });
    await waitFor(async () => {
      const r = await call('GET', '/api/breaker');
      const p = r.body.published as { assets?: Record<string, { level: string }> };
      return p.assets?.['SOL/USDT']?.level === 'halt';
    }, 'SOL/USDT to halt');
    const view = (await call('GET', '/api/breaker')).body as {
      published: { level: string; assets: Record<string, { level: string; reason: string }> };
      events: { type: string; scope: string; reason: string }[];
    };
    t.equal(view.published.level, 'normal', 'the market is not halted by one asset');
    t.same(Object.keys(view.published.assets), ['SOL/USDT'], 'only the collapsing asset has a level');
    t.match(view.published.assets['SOL/USDT']!.reason, /SOL\/USDT fell [23]\d\.\d % in 2 h, \d+\.\d σ/);
    t.ok(
      view.events.some((e) => e.type === 'BreakerTripped' && e.scope === 'SOL/USDT'),
      'the trip is among the events',
    );
    await waitFor(
      async () => (await latestBreaker(bus, keys)).body.assets?.['SOL/USDT']?.level === 'halt',
      'the signed control message to name SOL/USDT',
    );
    const msg = await latestBreaker(bus, keys);
    t.equal(msg.body.level, 'normal');
    t.match(msg.body.assets!['SOL/USDT']!.reason, /fell/);
  },
);

t.test(
  'an override holds against calm inputs, survives a restart, and only an operator clears it',
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'breaker-'));
    const feed = generateSigner();
    const feedKeys = KeyRing.of(exportPublicKey(feed.publicKey));
    const first = await setup(t, { dataDir: dir, feedKeys, breaker: { config: CONFIG } });
    const set = await first.call('POST', '/api/breaker/overrides', {
      scope: 'market',
      level: 'halt',
      reason: 'exchange incident: withdrawals paused',
      operator: 'ana',
    });
    t.equal(set.status, 201);
    t.equal((set.body.published as { level: string }).level, 'halt');
    // Calm candles: the automatic breaker stays normal, the override holds.
    await publishBars(first.bus, feed, 30);
    const during = (await first.call('GET', '/api/breaker')).body as {
      published: { level: string; reason: string };
      snapshot: { market: { automatic: string } };
    };
    t.equal(during.published.level, 'halt', 'calm inputs do not lower an override');
    t.equal(during.snapshot.market.automatic, 'normal');
    t.match(during.published.reason, /exchange incident/);
    await first.server.close();

    const store = Store.open(join(dir, DATABASE_FILE));
    t.same(
      store.db.prepare('SELECT scope, set_by FROM breaker_overrides').all(),
      [{ scope: 'market', set_by: 'ana' }],
      'written to the database in the data folder',
    );
    store.close();

    const second = await setup(t, { dataDir: dir, feedKeys, breaker: { config: CONFIG } });
    const keys = KeyRing.of(exportPublicKey(second.signer.publicKey));
    t.equal(
      (await latestBreaker(second.bus, keys)).body.level,
      'halt',
      'the first breaker message after a restart already carries the override',
    );
    const history = (await second.call('GET', '/api/breaker/history?scope=market')).body as {
      events: { type: string; scope: string; to?: string }[];
    };
    t.same(
      history.events.map((e) => [e.type, e.to ?? null]).reverse(),
      [
        ['OverrideSet', null],
        ['BreakerTripped', 'halt'],
      ],
      "the first run's events are in the history after the restart, and the restart added none",
    );
    t.equal((await second.call('GET', '/api/breaker/history?limit=0')).status, 400);
    const cleared = await second.call('POST', '/api/breaker/overrides/clear', {
      scope: 'market',
      operator: 'ana',
    });
    t.equal(cleared.status, 200);
    t.equal((cleared.body.published as { level: string }).level, 'normal');
    const again = await second.call('POST', '/api/breaker/overrides/clear', { scope: 'market' });
    t.equal(again.status, 404);
    t.equal(again.body.error, 'E_NO_OVERRIDE');
  },
);

t.test('an expired override in an imported overrides file is gone after the start', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'breaker-'));
  writeFileSync(
    join(dir, 'breaker-overrides.json'),
    JSON.stringify({
      v: 1,
      overrides: [
        { scope: 'ETH/USDT', level: 'halt', reason: 'old', by: 'ana', setAt: 1, expiresAt: Date.now() - 1 },
      ],
    }),
  );
  const { call } = await setup(t, { dataDir: dir });
  const view = (await call('GET', '/api/breaker')).body as { overrides: unknown[]; published: object };
  t.same(view.overrides, []);
  t.notOk('assets' in view.published);
});

t.test('bad override requests are refused with the field named, and change nothing', async (t) => {
  const { call } = await setup(t);
  const bad: [unknown, RegExp][] = [
    [{ scope: 'market', level: 'panic', reason: 'x' }, /^level:/],
    [{ scope: 'btc/usdt', level: 'halt', reason: 'x' }, /^scope:/],
    [{ scope: 'BTC%2FUSDT', level: 'halt', reason: 'x' }, /^scope:/],
    [{ scope: 'market', level: 'halt', reason: '   ' }, /^reason:/],
    [{ scope: 'market', level: 'halt', reason: 'x', expiresAt: 1 }, /^expiresAt: must be in the future/],
    [
      { scope: 'market', level: 'halt', reason: 'x', expiresAt: Date.now() + HOUR, expiresInMs: 1 },
      /not both/,
    ],
    [{ scope: 'market', level: 'halt', reason: 'x', extra: true }, /unrecognized|Unrecognized/],
    ['halt everything', /^body:|expected object/],
  ];
  for (const [body, message] of bad) {
    const r = await call('POST', '/api/breaker/overrides', body);
    t.equal(r.status, 400, JSON.stringify(body));
    t.equal(r.body.error, 'E_INVALID');
    t.match(String(r.body.message), message);
  }
  const view = (await call('GET', '/api/breaker')).body as {
    overrides: unknown[];
    published: { level: string };
  };
  t.same(view.overrides, [], 'no override was stored');
  t.equal(view.published.level, 'normal');
});

t.test(
  'feed reports: a failing venue halts the market; forged and held-back reports are dropped',
  async (t) => {
    const feed = generateSigner();
    const stranger = generateSigner();
    const { bus, call } = await setup(t, {
      feedKeys: KeyRing.of(exportPublicKey(feed.publicKey)),
      breaker: { config: CONFIG, tickMs: 60_000 },
    });
    const report = (signer: ReturnType<typeof generateSigner>, ts: number, errors: number) =>
      createFeedReport(
        {
          origin: 'feed-1',
          ts,
          ttlMs: 60_000,
          periodMs: 15_000,
          venue: {
            name: 'binance',
            requests: 20,
            errors,
            latencyP99Ms: errors === 20 ? null : 120,
            ...(errors > 0 && { lastError: 'RequestTimeout' }),
          },
          candles: {},
        },
        signer,
      );
    const send = (r: unknown) =>
      bus.publish(TOPICS.feedReports, [{ key: 'feed-1', value: JSON.stringify(r) }]);
    const now = Date.now();
    await send(report(stranger, now - 2_000, 20));
    await send(report(feed, now - 10 * 60_000, 20));
    await send(report(feed, now - 1_000, 0));
    await send(report(feed, now - 1_000, 20));
    await waitFor(async () => {
      const v = (await call('GET', '/api/breaker')).body as { feedReportsDropped: Record<string, number> };
      return v.feedReportsDropped.refused === 2 && v.feedReportsDropped.old === 1;
    }, 'the forged, the held-back and the repeated report to be dropped');
    t.equal(((await call('GET', '/api/breaker')).body.published as { level: string }).level, 'normal');
    await send(report(feed, now, 20));
    await waitFor(
      async () => ((await call('GET', '/api/breaker')).body.published as { level: string }).level === 'halt',
      'the market to halt on a venue that answers nothing',
    );
    const p = (await call('GET', '/api/breaker')).body.published as { reason: string };
    t.match(p.reason, /100 % of 20 API calls failed/);
  },
);
