/**
 * Issue #13 end to end: the adaptive circuit breaker, from signed candles on the bus to a
 * device's decisions and its status page. Every part is its own process on librdkafka's mock
 * cluster (control server with the paper exchange, gateway, a signal client), as in
 * simulator-eligibility.test.ts; the control server runs with small breaker windows
 * (`--breaker-config`), so a few dozen hourly bars make a baseline.
 *
 * a. The test publishes signed candles of four assets (the stack's feed key), then one bar in
 *    which SOL/USDT falls 30 %: the control server halts SOL/USDT alone. The device then refuses
 *    a buy of SOL/USDT with R_HALT naming it, buys BTC/USDT, and sells the SOL/USDT it held.
 * b. An operator halts the whole market with `npm run breaker -- override set` (the CLI as a
 *    process, the admin token in its environment): every buy is R_HALT, a sell goes through;
 *    `override clear` lets buys through again (the asset's own halt stays).
 * c. The device's local status page, and `signal-client status`, say both reasons in words.
 *
 * A device acts on a breaker change once the control message reaches it, and the control and
 * signals topics are not ordered with each other: so before each signal that depends on a change
 * the test waits until the device's status page shows it, and every decision is then exact.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { TOPICS, createCandle, createSignal, type DecisionRecord, type Signal } from '@appliance/protocol';
import { createBinance } from '@appliance/runtime/ccxt';
import { READY_MESSAGE, clientOrderId } from '@appliance/signal-client';
import { requireTool, spawnNode, waitFor } from '@appliance/test-kit';
import { candleTimeAt } from './fixtures/process-stack.js';
import { startSimulatorStack } from './fixtures/simulator-stack.js';

const STREAM = 'ema-cross.1h';
const DEVICE = 'dev-home';
const SYMBOLS = ['BTC/USDT', 'ETH/USDT', 'SOL/USDT', 'XRP/USDT'] as const;
type Asset = (typeof SYMBOLS)[number];
/** Around the fixture's own BTC and ETH prices; decimals as the exchange's tick sizes. */
const BASE: Record<Asset, { price: number; decimals: number }> = {
  'BTC/USDT': { price: 50_000, decimals: 2 },
  'ETH/USDT': { price: 3_000, decimals: 2 },
  'SOL/USDT': { price: 100, decimals: 2 },
  'XRP/USDT': { price: 0.5, decimals: 4 },
};
const CRASHED: Asset = 'SOL/USDT';
/** Small windows so that a few dozen bars make a baseline; every threshold is the default. */
const BREAKER_CONFIG = { baselineBars: 40, minBaselineBars: 20, volBars: 6 };
/** Bars before the first signal: more than minBaselineBars + returnBars for every asset. */
const BASELINE_BARS = 26;
/** Codes a device answers with before it has heard the control server. */
const NOT_YET_CONTROLLED = ['R_NO_ELIGIBILITY', 'R_NO_POLICY', 'R_BREAKER_UNKNOWN', 'R_NO_HEARTBEAT'];
const OVERRIDE_REASON = 'exchange incident: withdrawals paused';
const OPERATOR = 'e2e-operator';

/** The part of the device's /status.json the test reads (signal-client/src/status.ts, StatusView). */
interface DeviceStatus {
  breaker: {
    level: string;
    reason: string;
    assets: { symbol: string; level: string; reason: string }[];
  } | null;
}

interface BreakerView {
  published: { level: string; reason: string; assets?: Record<string, { level: string; reason: string }> };
  overrides: { scope: string; level: string; reason: string; by: string }[];
}

t.test('the circuit breaker halts an asset, then the market, and devices act on it', async (t) => {
  if (!requireTool('kcat', 'kcat')) return t.comment('kcat is not installed: apt-get install kcat');
  const configFile = join(mkdtempSync(join(tmpdir(), 'breaker-e2e-')), 'breaker.json');
  writeFileSync(configFile, JSON.stringify(BREAKER_CONFIG));
  const stack = await startSimulatorStack(t, {
    eligibility: { [STREAM]: [...SYMBOLS] },
    devices: { [DEVICE]: [STREAM] },
    controlArgs: ['--breaker-config', configFile],
    statusPages: true,
  });
  const device = stack.devices.get(DEVICE)!;
  const ready = device.proc.lines.find((l) => l.msg === READY_MESSAGE)!;
  const statusUrl = String(ready.statusPage);
  t.match(statusUrl, /^http:\/\/127\.0\.0\.1:\d+$/, 'the device serves its status page');

  // The market: a gentle wiggle per asset (each its own phase), a bar per step, an hour apart,
  // after the fixture's three. The crashed asset gets no bar after its crash.
  let step = 3;
  const last = new Map<Asset, number>();
  const round = (x: number, d: number) => Math.round(x * 10 ** d) / 10 ** d;
  const priceAt = (symbol: Asset, i: number) => {
    const k = SYMBOLS.indexOf(symbol);
    const { price, decimals } = BASE[symbol];
    return round(price * (1 + 0.004 * Math.sin(i * 1.7 + k) + 0.003 * Math.cos(i * 0.9 + 2 * k)), decimals);
  };
  let crashed = false;
  const decisions: DecisionRecord[] = [];
  /** Publishes the next bar of every asset (the crashed one: its fall, then nothing); returns its step. */
  const publishBar = async (opts: { crash?: boolean } = {}) => {
    const i = step++;
    const records = [];
    for (const symbol of SYMBOLS) {
      if (symbol === CRASHED && crashed) continue;
      let close = priceAt(symbol, i);
      if (symbol === CRASHED && opts.crash) close = round(close * 0.7, BASE[symbol].decimals);
      last.set(symbol, close);
      const candle = createCandle(
        {
          symbol,
          timeframe: '1h',
          time: candleTimeAt(i),
          open: close,
          high: close * 1.001,
          low: close * 0.999,
          close,
          volume: 10,
          origin: 'e2e-feed',
        },
        stack.feed,
      );
      records.push({ key: symbol, value: JSON.stringify(candle) });
    }
    if (opts.crash) crashed = true;
    await stack.bus.publish(TOPICS.candles, records);
    return i;
  };
  /** Waits until the paper exchange prices every asset at its newest close (signals carry it). */
  const pricesTaken = () =>
    waitFor(async () => {
      for (const [symbol, close] of last) {
        const res = await fetch(`${stack.paperUrl}/api/v3/ticker/price?symbol=${symbol.replace('/', '')}`);
        if (!res.ok) return false;
        const price = Number(((await res.json()) as { price: string }).price);
        if (Math.abs(price - close) > close * 1e-9) return false;
      }
      return true;
    }, 'the paper exchange to price every asset at its newest close');
  /** A fresh bar, then a signed signal on it at the asset's price; returns the device's decision. */
  const trade = async (symbol: Asset, side: 'buy' | 'sell') => {
    const i = await publishBar();
    await pricesTaken();
    const signal: Signal = createSignal(
      {
        stream: STREAM,
        symbol,
        side,
        price: last.get(symbol)!,
        candleTime: candleTimeAt(i),
        ts: Date.now(),
        ttlMs: 120_000,
        strength: 1,
        algoVersion: 'e2e/1',
        origin: 'e2e-feed',
      },
      stack.feed,
    );
    await stack.bus.publish(TOPICS.signals, [{ key: STREAM, value: JSON.stringify(signal) }]);
    const decision: DecisionRecord = await stack.decisionOf(DEVICE, signal);
    decisions.push(decision);
    return decision;
  };

  const breakerNow = () => stack.request<BreakerView>('GET', '/api/breaker');
  const deviceStatus = async () => (await (await fetch(`${statusUrl}/status.json`)).json()) as DeviceStatus;
  const deviceShows = async (pred: (b: NonNullable<DeviceStatus['breaker']>) => boolean, what: string) => {
    let seen: DeviceStatus['breaker'] = null;
    await waitFor(async () => {
      seen = (await deviceStatus()).breaker;
      return seen !== null && pred(seen);
    }, `the device's status page to show ${what}`);
    return seen! as NonNullable<DeviceStatus['breaker']>;
  };
  const assetOf = (b: NonNullable<DeviceStatus['breaker']>, symbol: string) =>
    b.assets.find((a) => a.symbol === symbol);
  /** `signal-client status --config FILE`: what the person at home reads in a terminal. */
  const statusCommand = async () => {
    const p = spawnNode('status', 'signal-client/src/main.ts', ['status', '--config', device.configFile]);
    const { code } = await p.exited;
    if (code !== 0) throw new Error(`signal-client status exited ${code}: ${p.text.join('\n')}`);
    return p.text.join('\n');
  };
  /** `npm run breaker -- ARGS` (the script's command), the admin token in its environment only. */
  const breakerCli = async (args: string[]) => {
    const p = stack.track(
      spawnNode('breaker-cli', 'control-server/src/breaker-cli/main.ts', [...args, '--url', stack.api], {
        CONTROL_ADMIN_TOKEN: stack.adminToken,
      }),
    );
    const { code } = await p.exited;
    return { code, out: p.text.join('\n') };
  };

  for (let n = 0; n < BASELINE_BARS; n++) await publishBar();

  await t.test(
    'a: an asset that collapses is halted on its own; the device refuses only its buys',
    async (t) => {
      // The first buy of SOL/USDT that executes, once the device has heard the control server.
      let held = false;
      for (let n = 0; n < 20 && !held; n++) {
        const d = await trade(CRASHED, 'buy');
        if (d.outcome === 'executed') held = true;
        else {
          t.ok(NOT_YET_CONTROLLED.includes(d.code), `the device waits for control (${d.code})`);
          await new Promise((r) => setTimeout(r, 500));
        }
      }
      t.ok(held, `the device holds ${CRASHED} before it falls`);
      t.equal((await breakerNow()).published.assets, undefined, 'no asset has a level of its own yet');

      await publishBar({ crash: true });
      let view: BreakerView | undefined;
      await waitFor(async () => {
        view = await breakerNow();
        return view.published.assets?.[CRASHED]?.level === 'halt';
      }, `GET /api/breaker to show ${CRASHED} halted`);
      const reason = view!.published.assets![CRASHED]!.reason;
      t.match(reason, /^SOL\/USDT fell [23]\d\.\d % in 2 h, \d+\.\d σ/, `the reason in words: ${reason}`);
      t.equal(view!.published.level, 'normal', 'the market is not halted by one asset');
      t.same(Object.keys(view!.published.assets!), [CRASHED], 'only the collapsing asset has a level');
      t.same(view!.overrides, [], 'no operator had a hand in it');

      const seen = await deviceShows((b) => assetOf(b, CRASHED)?.level === 'halt', `${CRASHED} halted`);
      t.equal(seen.level, 'normal', 'the device has the market at normal');

      const refused = await trade(CRASHED, 'buy');
      t.match(
        refused,
        { outcome: 'rejected', code: 'R_HALT', side: 'buy', symbol: CRASHED },
        `the next buy of ${CRASHED} is refused with R_HALT`,
      );
      t.match(
        refused.reason,
        /^Buying SOL\/USDT is halted by the circuit breaker: SOL\/USDT fell/,
        refused.reason,
      );
      const other = await trade('BTC/USDT', 'buy');
      t.equal(other.outcome, 'executed', 'a buy of another asset executes');
      const sold = await trade(CRASHED, 'sell');
      t.match(sold, { outcome: 'executed', side: 'sell' }, `the ${CRASHED} held from before is sold`);

      // What the exchange holds, through ccxt with the device's own keys: an order for each
      // executed decision, none for the refused one.
      const ex = createBinance({ ...device.keys, baseUrl: stack.paperUrl });
      await ex.loadMarkets();
      const ids = new Set<string | undefined>();
      for (const symbol of [CRASHED, 'BTC/USDT'])
        for (const o of await ex.fetchOrders(symbol)) ids.add(o.clientOrderId);
      t.ok(ids.has(clientOrderId(DEVICE, other.signalId)), 'the BTC/USDT buy is an order on the exchange');
      t.ok(ids.has(clientOrderId(DEVICE, sold.signalId)), `so is the ${CRASHED} sell`);
      t.notOk(ids.has(clientOrderId(DEVICE, refused.signalId)), 'the refused buy never reached the exchange');

      // c, for the asset: the status page and `signal-client status` say why, in words.
      const page = await (await fetch(`${statusUrl}/`)).text();
      t.match(
        page,
        /SOL\/USDT: halt \(no buying\) — SOL\/USDT fell [23]\d\.\d % in 2 h/,
        'the status page says why',
      );
      const text = await statusCommand();
      t.match(
        text,
        /^Circuit breaker: normal \(buying as usual\)/m,
        'signal-client status: the market is normal',
      );
      t.match(
        text,
        /^ {2}SOL\/USDT: halt \(no buying\) — SOL\/USDT fell [23]\d\.\d % in 2 h, \d+\.\d σ/m,
        'signal-client status: one line for the halted asset, with its reason',
      );
    },
  );

  await t.test(
    'b: a market halt set with npm run breaker stops every buy; sells pass; clearing it resumes',
    async (t) => {
      const set = await breakerCli([
        'override',
        'set',
        '--scope',
        'market',
        '--level',
        'halt',
        '--reason',
        OVERRIDE_REASON,
        '--operator',
        OPERATOR,
      ]);
      t.equal(set.code, 0, `npm run breaker -- override set exits 0: ${set.out}`);
      t.match(set.out, /^override set: /, 'it says so');
      const view = await breakerNow();
      t.match(
        view.published,
        { level: 'halt', reason: `halt set by ${OPERATOR}: ${OVERRIDE_REASON}` },
        'the control server publishes the market halt with who set it and why',
      );
      t.match(
        view.overrides,
        [{ scope: 'market', level: 'halt', by: OPERATOR, reason: OVERRIDE_REASON }],
        'the override is listed',
      );
      await deviceShows((b) => b.level === 'halt', 'the market halted');

      for (const symbol of ['ETH/USDT', 'XRP/USDT', 'BTC/USDT'] as const) {
        const d = await trade(symbol, 'buy');
        t.match(d, { outcome: 'rejected', code: 'R_HALT' }, `a buy of ${symbol} is refused with R_HALT`);
        t.match(
          d.reason,
          `Buying is halted by the circuit breaker (whole market): halt set by ${OPERATOR}: ${OVERRIDE_REASON}`,
          'the refusal says the whole market is halted, by whom and why',
        );
      }
      const sell = await trade('BTC/USDT', 'sell');
      t.match(sell, { outcome: 'executed', side: 'sell' }, 'a sell of what the device holds passes');

      await t.test('c: the status page and signal-client status say both reasons in words', async (t) => {
        const page = await (await fetch(`${statusUrl}/`)).text();
        t.match(
          page,
          `Circuit breaker: halt (no buying) — halt set by ${OPERATOR}: ${OVERRIDE_REASON}`,
          "the status page: the market's level and the operator's reason",
        );
        t.match(page, /SOL\/USDT: halt \(no buying\) — SOL\/USDT fell/, "and the asset's own reason");
        const text = await statusCommand();
        t.match(
          text,
          new RegExp(
            `^Circuit breaker: halt \\(no buying\\) — halt set by ${OPERATOR}: ${OVERRIDE_REASON}$`,
            'm',
          ),
          'signal-client status: the market line',
        );
        t.match(text, /^ {2}SOL\/USDT: halt \(no buying\) — SOL\/USDT fell/m, 'and the asset line');
      });

      const clear = await breakerCli(['override', 'clear', '--scope', 'market', '--operator', OPERATOR]);
      t.equal(clear.code, 0, `npm run breaker -- override clear exits 0: ${clear.out}`);
      t.match(clear.out, /^override cleared: market$/m, 'it says so');
      t.equal((await breakerNow()).published.level, 'normal', 'the market is normal again');
      await deviceShows((b) => b.level === 'normal', 'the market normal again');

      const eth = await trade('ETH/USDT', 'buy');
      t.equal(eth.outcome, 'executed', 'buys go through again');
      const sol = await trade(CRASHED, 'buy');
      t.equal(sol.code, 'R_HALT', `${CRASHED} keeps its own halt`);
    },
  );

  t.comment(
    `decisions: ${decisions.map((d) => `${d.side} ${d.symbol} ${d.outcome}${d.outcome === 'executed' ? '' : ` ${d.code}`}`).join('; ')}`,
  );
});
