/**
 * Issue #12 end to end: the simulator node's signed decisions go to the control server, which
 * signs eligibility per stream with per-symbol reasons and publishes it on the bus; a device
 * then refuses a buy of a newly ineligible asset with R_NOT_ELIGIBLE while other assets still
 * trade, and the datafeed's house portfolio stops buying it. On a stream under approval
 * (`--eligibility-approval STREAM=manual`) a submission that removes an asset changes nothing
 * (devices still buy it) until the operator approves it through the admin API.
 *
 * Every part is its own process on librdkafka's mock cluster: control server (with the paper
 * exchange), gateway, two signal clients, and a datafeed replaying real candles.
 *
 * The removal on the family stream is decided by the real simulator node process
 * (simulator/src/main.ts) on the bus: it records the signed candles of the test's market, is
 * run with `POST /run`, backtests them and submits its signed decision. It judges ETH/USDT
 * alone, and the few hours of candles it holds are far short of its windows, which it must
 * judge a fail. The other submissions (an earlier run judging both assets eligible, and the
 * run awaiting approval on the mandate stream) are made with the node's own submission code
 * (simulator/src/node/submit.ts: signed with the node's key, POSTed to
 * /api/simulator/results) with decisions the test chooses, since a node's backtests cannot be
 * steered to judge an asset eligible, or to remove one asset and keep another on a stream the
 * seed set, within a test's time.
 */
import { join } from 'node:path';
import t from 'tap';
import {
  exportPublicKey,
  type DecisionRecord,
  type Signal,
  type SimulatorDecision,
} from '@appliance/protocol';
import { createLogger } from '@appliance/runtime';
import { requireTool, signerWithKeyFile, spawnNode, waitFor, type LogLine } from '@appliance/test-kit';
import { submitDecisions } from '../../simulator/src/node/submit.js';
import { startSimulatorStack, type MarketSymbol } from './fixtures/simulator-stack.js';

const DATA = new URL('../../../shared/data/ohlcv/', import.meta.url).pathname;
const STRATEGY = 'ema-cross-volume';
/**
 * The datafeed's default stream, which carries STRATEGY on 1h candles: the simulator names its
 * decisions for it so. A family stream: simulator changes apply at once.
 */
const AUTO = 'ema-cross.1h';
/** A mandate's stream under approval: simulator changes wait for an operator. */
const MANUAL = 'mandate-a.1h';
const BOTH = ['BTC/USDT', 'ETH/USDT'];
/** Codes a device answers with before it has heard the control server (eligibility, policy, breaker, heartbeat). */
const NOT_YET_CONTROLLED = ['R_NO_ELIGIBILITY', 'R_NO_POLICY', 'R_BREAKER_UNKNOWN', 'R_NO_HEARTBEAT'];
const BTC_REASON = 'beat buy-and-hold on 4 of 4 windows, max drawdown 12%';

t.test('simulator decisions reach devices and the house portfolio as signed eligibility', async (t) => {
  if (!requireTool('kcat', 'kcat')) return t.comment('kcat is not installed: apt-get install kcat');
  const stack = await startSimulatorStack(t, {
    eligibility: { [AUTO]: BOTH, [MANUAL]: BOTH },
    approval: { [MANUAL]: 'manual' },
    devices: { 'dev-family': [AUTO], 'dev-mandate': [MANUAL] },
  });

  // The datafeed, with the control server's key pinned: its house portfolio on AUTO follows
  // eligibility. It signs with a key of its own that the gateway and the paper exchange do not
  // pin, so its replayed candles and signals (real prices from another year) do not reach the
  // devices, whose decisions the test drives with its own market below.
  const { file: houseKey } = signerWithKeyFile(stack.dir, 'house-feed.pem');
  const datafeed = stack.track(
    spawnNode('datafeed', 'datafeed-node/src/main.ts', [
      '--kafka',
      stack.kafka.bootstrap,
      '--signing-key-file',
      houseKey,
      '--origin',
      'house-feed',
      '--strategy',
      STRATEGY,
      '--stream',
      AUTO,
      '--control-key',
      exportPublicKey(stack.control.publicKey),
      '--replay',
      join(DATA, 'binance_BTC-USDT_1h.csv'),
      join(DATA, 'binance_ETH-USDT_1h.csv'),
      '--limit',
      '40000',
      // 36 ms per market hour: the replay outlasts the test, which stops it.
      '--speed',
      '100000',
    ]),
  );
  const eligibilityChange = (symbols: string[]) => (l: LogLine) =>
    l.msg === `eligibility of ${AUTO} changed` && JSON.stringify(l.symbols) === JSON.stringify(symbols);
  await datafeed.waitForLog(eligibilityChange(BOTH), 'the datafeed to hold the seeded eligibility');

  let step = 3;
  /** Publishes a fresh candle of every symbol and a buy signal of `symbol` on it; returns the decision. */
  const buy = async (device: string, stream: string, symbol: MarketSymbol) => {
    const i = step++;
    await stack.publishMarket(i);
    const signal = await stack.publishSignal(stream, symbol, 'buy', i);
    return { signal, decision: await stack.decisionOf(device, signal) };
  };
  /** Buys until the device has heard the control server; the first executed buy ends it. */
  const warmUp = async (device: string, stream: string) => {
    for (let n = 0; n < 20; n++) {
      const { decision } = await buy(device, stream, 'BTC/USDT');
      if (decision.outcome === 'executed') return;
      t.ok(
        NOT_YET_CONTROLLED.includes(decision.code ?? ''),
        `${device} waits for control (${decision.code})`,
      );
    }
    throw new Error(`${device} never executed a buy`);
  };
  /**
   * Buys `symbol` until the device refuses it, as a change of eligibility takes effect once the
   * device has it (the control topic and the signals topic are not ordered with each other).
   * Bounded: a device that never refuses fails the test.
   */
  const buyUntilRefused = async (device: string, stream: string, symbol: MarketSymbol) => {
    for (let n = 0; n < 10; n++) {
      const { signal, decision } = await buy(device, stream, symbol);
      if (decision.outcome !== 'executed') return { signal, decision, executedBefore: n };
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new Error(`${device} kept buying ${symbol} on ${stream}`);
  };
  const logger = createLogger({ name: 'e2e-simulator', level: 'silent' });
  let run = 0;
  const submit = (decisions: SimulatorDecision[]) =>
    submitDecisions(
      { runId: `sim-e2e-${Date.now()}-${++run}`, end: Date.now() - 60_000, node: 'sim-e2e', decisions },
      { controlUrl: stack.api, signer: stack.simulator, logger, attempts: 1 },
    );
  interface EligibilityView {
    streams: Record<
      string,
      {
        symbols: string[];
        reasons?: Record<string, string>;
        run?: { id: string };
        approval: string;
        source: string;
      }
    >;
    pending: { changeId: string; stream: string; runId: string; wouldRemove: string[]; wouldAdd: string[] }[];
    latest: {
      stream: string;
      symbol: string;
      eligible: boolean;
      runId: string;
      node: string;
      status: string;
    }[];
  }
  const eligibilityNow = () => stack.request<EligibilityView>('GET', '/api/eligibility');

  await t.test('auto: an asset the simulator drops is refused at once, with its code', async (t) => {
    await warmUp('dev-family', AUTO);
    const before = await buy('dev-family', AUTO, 'ETH/USDT');
    t.equal(before.decision.outcome, 'executed', 'ETH is bought while eligible');

    // An earlier run judged both assets eligible (submitted with the node's own code); from
    // then on the stream's eligibility is the simulator's, symbol by symbol.
    const earlier = await submit([
      { stream: AUTO, symbol: 'BTC/USDT', eligible: true, reason: BTC_REASON },
      { stream: AUTO, symbol: 'ETH/USDT', eligible: true, reason: 'beat buy-and-hold on 3 of 4 windows' },
    ]);
    t.match(
      (await eligibilityNow()).streams[AUTO],
      { symbols: BOTH, run: { id: earlier.runId }, source: 'simulator' },
      'the earlier run is in force',
    );

    // The real simulator node, judging ETH/USDT only: it records the candles the test's market
    // publishes (signed by the pinned datafeed key) and, run on demand, backtests them. The few
    // hours it holds are far short of the windows it needs, which it must judge a fail: ETH
    // becomes ineligible, with the node's own reason, and BTC keeps the earlier decision.
    const node = stack.track(
      spawnNode('simulator', 'simulator/src/main.ts', [
        '--kafka',
        stack.kafka.bootstrap,
        '--data-dir',
        join(stack.dir, 'simulator'),
        '--control-url',
        stack.api,
        '--signing-key-file',
        stack.simulatorKeyFile,
        '--node',
        'sim-e2e',
        '--http-port',
        '0',
        '--strategies',
        STRATEGY,
        '--symbols',
        'ETH/USDT',
        '--timeframe',
        '1h',
        '--workers',
        '1',
        '--candle-key',
        exportPublicKey(stack.feed.publicKey),
        '--every-hours',
        '744',
        '--run-timeout-min',
        '2',
      ]),
    );
    const ready = await node.waitForLog(
      (l) => String(l.msg).startsWith('simulator node ready'),
      'the simulator node to start',
    );
    const nodeUrl = `http://127.0.0.1:${String(ready.port)}`;
    const published = step;
    await waitFor(async () => {
      const health = (await (await fetch(`${nodeUrl}/health`)).json()) as {
        series: { symbol: string; timeframe: string; count: number }[];
      };
      const eth = health.series.find((s) => s.symbol === 'ETH/USDT' && s.timeframe === '1h');
      return (eth?.count ?? 0) >= published;
    }, 'the simulator node to record the ETH candles');
    const trigger = await fetch(`${nodeUrl}/run`, { method: 'POST' });
    t.equal(trigger.status, 202, 'the node starts a run on POST /run');
    const submitted = await Promise.race([
      node.waitForLog((l) => l.msg === 'simulator run submitted', 'the run to be submitted', 120_000),
      node
        .waitForLog((l) => String(l.msg).startsWith('simulator run failed'), 'a failed run', 120_000)
        .then((l) => {
          throw new Error(`the simulator run failed: ${JSON.stringify(l)}`);
        }),
    ]);
    const runId = String(submitted.runId);
    const view = await eligibilityNow();
    t.match(
      view.streams[AUTO],
      {
        symbols: ['BTC/USDT'],
        reasons: { 'BTC/USDT': BTC_REASON, 'ETH/USDT': /\S/ },
        run: { id: runId },
        approval: 'auto',
        source: 'simulator',
      },
      "the control server applied the node's decision at once, with its reason",
    );
    t.match(
      view.latest.find((d) => d.stream === AUTO && d.symbol === 'ETH/USDT'),
      { eligible: false, runId, node: 'sim-e2e', status: 'applied' },
      "the decision is the node's, from its run",
    );
    const ethReason = view.streams[AUTO]!.reasons!['ETH/USDT']!;
    t.comment(`the node's reason for ETH/USDT: ${ethReason}`);
    t.same(view.pending, [], 'nothing waits');

    // What devices and the datafeed act on: the control server's signed message on the bus.
    await waitFor(
      () =>
        stack.eligibilityMessages.some(
          (m) => m.body.stream === AUTO && m.body.run?.id === runId && m.body.symbols.join() === 'BTC/USDT',
        ),
      'the signed eligibility of the run on the control topic',
    );
    const signed = stack.eligibilityMessages.find((m) => m.body.run?.id === runId)!;
    t.equal(signed.body.reasons?.['ETH/USDT'], ethReason, 'the signed eligibility says why ETH is out');

    const refused = await buyUntilRefused('dev-family', AUTO, 'ETH/USDT');
    t.equal(refused.decision.code, 'R_NOT_ELIGIBLE', 'the device refuses ETH as not eligible');
    t.match(refused.decision.reason, /ETH\/USDT/, 'the refusal names the asset');
    t.comment(`ETH buys executed after the submission, before the device had it: ${refused.executedBefore}`);
    const again = await buy('dev-family', AUTO, 'ETH/USDT');
    t.equal(again.decision.code, 'R_NOT_ELIGIBLE', 'and keeps refusing it');
    const btc = await buy('dev-family', AUTO, 'BTC/USDT');
    t.equal(btc.decision.outcome, 'executed', 'BTC, still eligible, is still bought');

    // The house portfolio: it had both, then only BTC, and from then on skips ETH buys only.
    const changed = await datafeed.waitForLog(
      eligibilityChange(['BTC/USDT']),
      'the datafeed to take the new eligibility',
    );
    const skip = (symbol: string) => (l: LogLine) =>
      l.msg ===
      `house portfolio does not buy ${symbol} on ${AUTO}: not eligible (logged once until eligibility changes)`;
    await datafeed.waitForLog(skip('ETH/USDT'), 'the house portfolio to skip an ETH buy', 90_000);
    const lines = datafeed.lines;
    const seeded = lines.findIndex(eligibilityChange(BOTH));
    const at = lines.indexOf(changed);
    t.notOk(
      lines.slice(seeded, at).some((l) => String(l.msg).startsWith('house portfolio does not buy')),
      'while both were eligible the house skipped no buy',
    );
    t.ok(lines.slice(at).some(skip('ETH/USDT')), 'after the change the house skips ETH buys');
    t.notOk(lines.slice(at).some(skip('BTC/USDT')), 'and no BTC buy');

    // Its stats, as it reports them every 1000 candles, count the buys it skipped.
    const progress = await datafeed.waitForLog(
      (l) => l.msg === 'replay progress' && lines.indexOf(l) > at && Number(l.skippedBuys) > 0,
      'a progress report counting skipped buys',
      90_000,
    );
    t.match(
      progress,
      { ledgerBalanced: true },
      `its books balance (${String(progress.skippedBuys)} buys skipped)`,
    );
    t.ok(Number(progress.fills) > 0, 'its house portfolio has trades');
    await datafeed.kill('SIGTERM');
  });

  await t.test('manual: a removal waits for the operator and changes nothing until approved', async (t) => {
    await warmUp('dev-mandate', MANUAL);
    const published = stack.eligibilityMessages.length;
    const result = await submit([
      { stream: MANUAL, symbol: 'BTC/USDT', eligible: false, reason: 'deflated Sharpe 0.41 (minimum 0.95)' },
      { stream: MANUAL, symbol: 'ETH/USDT', eligible: true, reason: 'beat buy-and-hold on 3 of 4 windows' },
    ]);
    const changeId = `${result.runId}~${MANUAL}`;
    let view = await eligibilityNow();
    t.match(view.streams[MANUAL], { symbols: BOTH, approval: 'manual' }, 'what is in force did not change');
    t.match(
      view.pending,
      [{ changeId, stream: MANUAL, runId: result.runId, wouldRemove: ['BTC/USDT'], wouldAdd: [] }],
      'the change is listed as pending, with what it would remove',
    );

    // Eligibility is re-issued with every heartbeat: the next ones still list BTC.
    await waitFor(
      () => stack.eligibilityMessages.slice(published).some((m) => m.body.stream === MANUAL),
      'a re-issue of the manual stream after the submission',
    );
    t.ok(
      stack.eligibilityMessages
        .slice(published)
        .every((m) => m.body.stream !== MANUAL || m.body.symbols.includes('BTC/USDT')),
      'nothing published for the stream drops BTC',
    );
    const stillBought: { decision: DecisionRecord; signal: Signal } = await buy(
      'dev-mandate',
      MANUAL,
      'BTC/USDT',
    );
    t.equal(stillBought.decision.outcome, 'executed', 'the device still buys BTC while the change waits');

    const approved = await stack.request<{ approved: string; eligibility: { symbols: string[] } }>(
      'POST',
      `/api/eligibility/pending/${encodeURIComponent(changeId)}/approve`,
      { operator: 'e2e-operator', reason: 'reviewed the run' },
    );
    t.match(
      approved,
      { approved: changeId, eligibility: { symbols: ['ETH/USDT'] } },
      'the operator approves it',
    );
    view = await eligibilityNow();
    t.same(view.pending, [], 'nothing waits any more');
    t.same(view.streams[MANUAL]!.symbols, ['ETH/USDT'], 'BTC is out of the mandate stream');
    t.same(view.streams[AUTO]!.symbols, ['BTC/USDT'], 'the family stream is untouched');

    const refused = await buyUntilRefused('dev-mandate', MANUAL, 'BTC/USDT');
    t.equal(refused.decision.code, 'R_NOT_ELIGIBLE', 'after approval the device refuses BTC as not eligible');
    const eth = await buy('dev-mandate', MANUAL, 'ETH/USDT');
    t.equal(eth.decision.outcome, 'executed', 'ETH, still eligible, is still bought');
    const history = await stack.request<{ entries: { type: string; changeId?: string; by?: unknown }[] }>(
      'GET',
      '/api/eligibility/history?limit=10',
    );
    t.match(
      history.entries.find((e) => e.type === 'approved'),
      { changeId, by: { operator: 'e2e-operator' } },
      'the approval is in the history with who approved it',
    );
  });
});
