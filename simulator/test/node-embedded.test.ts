import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import pino from 'pino';
import { EmbeddedBus, KeyRing, exportPublicKey, generateSigner, type Signer } from '@appliance/protocol';
import { DEFAULT_FILL_COSTS } from '@appliance/trading-core';
import { waitFor } from '@appliance/test-kit';
import { SimulatorNode, type SimulatorNodeOptions } from '../src/node/simulator-node.js';
import { lastCandles, publishCandles, startStubControl } from './fixtures/node-fixtures.js';

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const SYMBOLS = ['BTC/USDT', 'ETH/USDT', 'SOL/USDT'];
/** A little over a year of 1h candles: every window, the 1y one included, has data. */
const CANDLES = 9_000;
const feed = generateSigner();

function nodeOptions(
  bus: EmbeddedBus,
  name: string,
  signer: Signer,
  peer: Signer,
  controlUrl: string,
  dataDir: string,
): SimulatorNodeOptions {
  return {
    bus,
    dataDir,
    signer,
    peerKeys: [exportPublicKey(peer.publicKey)],
    candleKeys: [exportPublicKey(feed.publicKey)],
    node: name,
    logger: logger.child({ node: name }),
    controlUrl,
    strategies: [],
    symbols: [],
    timeframe: '1h',
    seed: 10_000,
    costs: DEFAULT_FILL_COSTS,
    workers: 2,
    runTimeoutMs: 120_000,
    submitAttempts: 2,
    submitBackoff: { initialMs: 10, maxMs: 10, jitter: 'none' },
    storeDurability: 'os',
  };
}

t.test(
  'two nodes on one bus share a run, and the coordinator submits one signed set of decisions covering every job',
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'sim-node-embedded-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const a = generateSigner();
    const b = generateSigner();
    const control = await startStubControl(
      KeyRing.of(exportPublicKey(a.publicKey), exportPublicKey(b.publicKey)),
    );
    t.teardown(() => control.close());
    const bus = new EmbeddedBus();
    const nodeA = await SimulatorNode.start(nodeOptions(bus, 'sim-a', a, b, control.url, join(dir, 'a')));
    t.teardown(() => nodeA.close());
    const nodeB = await SimulatorNode.start(nodeOptions(bus, 'sim-b', b, a, control.url, join(dir, 'b')));
    t.teardown(() => nodeB.close());

    for (const symbol of SYMBOLS) await publishCandles(bus, feed, symbol, await lastCandles(symbol, CANDLES));
    const stored = (n: SimulatorNode) => n.store.stats().reduce((k, s) => k + s.count, 0);
    await waitFor(
      () => stored(nodeA) === SYMBOLS.length * CANDLES && stored(nodeB) === SYMBOLS.length * CANDLES,
      'both stores to hold every candle',
      120_000,
    );

    const run = nodeA.runNow();
    t.equal(run.started, true, 'the run starts');
    t.equal(nodeA.runNow().started, false, 'a second request while it runs does not start another');
    const outcome = await run.done;
    if (!outcome.ok) throw new Error(`run failed: ${outcome.code} ${outcome.error}`);

    t.equal(control.accepted.length, 1, 'exactly one set of decisions reached the control server');
    t.same(control.refused, [], 'the control server refused nothing');
    const submitted = control.accepted[0]!;
    t.equal(submitted.runId, outcome.runId);
    t.equal(submitted.node, 'sim-a');
    t.equal(submitted.kid, a.kid, "signed with the coordinator's key");

    t.ok((outcome.byNode['sim-a'] ?? 0) > 0, `node a ran some jobs (${outcome.byNode['sim-a']})`);
    t.ok((outcome.byNode['sim-b'] ?? 0) > 0, `node b ran some jobs (${outcome.byNode['sim-b']})`);
    t.equal(
      (outcome.byNode['sim-a'] ?? 0) + (outcome.byNode['sim-b'] ?? 0),
      outcome.jobs,
      'every job counted once, by the node that ran it',
    );
    t.equal(outcome.received, outcome.jobs + outcome.duplicates);

    // Every (stream, symbol) the plan covers has one decision: 8 strategies × 3 pairs.
    const pairs = new Set(submitted.decisions.map((d) => `${d.stream} ${d.symbol}`));
    t.equal(pairs.size, submitted.decisions.length, 'each (stream, symbol) decided once');
    for (const symbol of SYMBOLS)
      t.ok(
        submitted.decisions.some((d) => d.symbol === symbol && d.stream === 'ema-cross.1h'),
        `${symbol} is decided`,
      );
    t.equal(submitted.decisions.length, outcome.decisions);
    for (const d of submitted.decisions) t.ok(d.reason.length > 0, `${d.stream} ${d.symbol} has a reason`);

    // Both nodes' consumers together ran exactly the run's units once each (no redelivery here).
    const units = nodeA.status().consumer as { units: number; jobs: number };
    const unitsB = nodeB.status().consumer as { units: number; jobs: number };
    t.equal(units.jobs + unitsB.jobs, outcome.jobs, 'the two consumers ran every job between them');
    t.equal(units.units + unitsB.units, outcome.units);

    // On demand again: a new run id, taken by the control server as a new submission.
    const again = await nodeA.runNow().done;
    t.ok(again.ok, 'a second run completes');
    t.not(again.ok && again.runId, outcome.runId, 'with a new run id');
    t.equal(control.accepted.length, 2);
  },
);

t.test('a refusal by the control server is a clear error, not retried', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sim-node-refused-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const a = generateSigner();
  const b = generateSigner();
  // The control server pins only b's key: a's decisions are refused.
  const control = await startStubControl(KeyRing.of(exportPublicKey(b.publicKey)));
  t.teardown(() => control.close());
  const bus = new EmbeddedBus();
  const nodeA = await SimulatorNode.start({
    ...nodeOptions(bus, 'sim-a', a, b, control.url, join(dir, 'a')),
    strategies: ['ema-cross-volume'],
  });
  t.teardown(() => nodeA.close());
  await publishCandles(bus, feed, 'BTC/USDT', await lastCandles('BTC/USDT', 2_000));
  await waitFor(() => nodeA.store.stats().some((s) => s.count === 2_000), 'candles stored');
  const outcome = await nodeA.runNow().done;
  t.equal(outcome.ok, false);
  if (outcome.ok) return;
  t.equal(outcome.code, 'E_REFUSED');
  t.match(
    outcome.error,
    /^the control server refused run sim-[0-9a-f]+: 400 E_UNKNOWN_KEY simulator-result signed with unknown key /,
  );
  t.equal(control.refused.length, 1, 'sent once: a refusal is not retried');
});

t.test('a node with no candles stored says so instead of submitting', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sim-node-empty-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const a = generateSigner();
  const control = await startStubControl(KeyRing.of(exportPublicKey(a.publicKey)));
  t.teardown(() => control.close());
  const node = await SimulatorNode.start(nodeOptions(new EmbeddedBus(), 'sim-a', a, a, control.url, dir));
  t.teardown(() => node.close());
  const outcome = await node.runNow().done;
  t.same(outcome, { ok: false, code: 'E_NO_CANDLES', error: 'no 1h candles stored yet for any pair' });
  t.equal(control.accepted.length + control.refused.length, 0, 'nothing submitted');
});
