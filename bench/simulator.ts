/**
 * The full eligibility run (every registered strategy × every shared pair × the 4 windows, with
 * the parameter grid the walk-forward and the deflated Sharpe need) on 2 cores: on one thread
 * without a pool (the reference), on the runner's piscina pool, through one simulator node
 * (jobs topic, results topic, snapshot of its store, aggregation, a signed submission), and
 * through two nodes sharing the run over librdkafka's mock cluster. Candles per second per core
 * of each against the thread without a pool is the pool's and the bus's overhead.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pino from 'pino';
import { DEFAULT_FILL_COSTS } from '@appliance/trading-core';
import { EmbeddedBus, exportPublicKey, generateSigner, type Bus, type Signer } from '@appliance/protocol';
import { createKafkaBus } from '@appliance/protocol/kafka';
import { describeCsvFile, readCandleCsv } from '../datafeed-node/src/csv-candles.js';
import { planSimulation } from '../simulator/src/plan.js';
import { runJobs } from '../simulator/src/pool.js';
import runJob from '../simulator/src/worker.js';
import type { RunOutcome } from '../simulator/src/node/run-coordinator.js';
import { SimulatorNode } from '../simulator/src/node/simulator-node.js';
import { requireTool, startKafkaMock } from '@appliance/test-kit';
import { REPO_ROOT } from './ipc.js';
import type { Suite } from './suite.js';
import { fmt, formatTable } from './table.js';

const DEFAULT_DATA = resolve(REPO_ROOT, '../shared/data/ohlcv');
const CORES = 2;

interface Row {
  name: string;
  seconds: number;
  threads: number;
  candles: number;
  note: string;
}

const silent = pino({ level: 'silent' });

/** A control server that takes every submission: the bench times the run, not the approval. */
async function stubControl(): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

async function startNode(
  bus: Bus,
  name: string,
  signer: Signer,
  peers: Signer[],
  dataDir: string,
  controlUrl: string,
  workers: number,
  series: { symbol: string; candles: Awaited<ReturnType<typeof loadAll>>[number]['candles'] }[],
): Promise<SimulatorNode> {
  const node = await SimulatorNode.start({
    bus,
    dataDir,
    signer,
    peerKeys: peers.map((p) => exportPublicKey(p.publicKey)),
    candleKeys: [exportPublicKey(signer.publicKey)],
    node: name,
    logger: silent,
    controlUrl,
    strategies: [],
    symbols: [],
    timeframe: '1h',
    seed: 10_000,
    costs: DEFAULT_FILL_COSTS,
    workers,
    runTimeoutMs: 600_000,
    submitAttempts: 1,
    storeDurability: 'os',
  });
  // Straight into the store: the bench times runs, not recording.
  for (const s of series) for (const c of s.candles) await node.store.append(s.symbol, '1h', c);
  return node;
}

async function loadAll(dir: string) {
  const files = readdirSync(dir)
    .filter((f) => describeCsvFile(f) !== undefined)
    .sort();
  const out = [];
  for (const f of files) {
    const candles = [];
    for await (const c of readCandleCsv(join(dir, f))) candles.push(c);
    out.push({ path: join(dir, f), symbol: describeCsvFile(f)!.symbol, candles });
  }
  return out;
}

function checked(outcome: RunOutcome, what: string): Extract<RunOutcome, { ok: true }> {
  if (!outcome.ok) throw new Error(`simulator bench: ${what}: ${outcome.code} ${outcome.error}`);
  return outcome;
}

export const simulatorSuite: Suite = {
  name: 'simulator',
  description:
    'the full eligibility run on 2 cores: one thread, the piscina pool, one simulator node, two nodes over Kafka (mock cluster)',
  options: { 'simulator-data': { type: 'string' } },
  async run(ctx) {
    const dir = resolve(String(ctx.options['simulator-data'] ?? DEFAULT_DATA));
    const series = await loadAll(dir);
    const plan = planSimulation({ files: series.map((s) => s.path), timeframe: '1h' });
    const rows: Row[] = [];
    ctx.log(`simulator: ${series.length} pairs, ${plan.jobs.length} jobs`);

    // 1. One thread, no pool: the worker's own function, job after job (its file cache warm after the first).
    {
      await runJob(plan.jobs[0]!);
      const started = performance.now();
      let candles = 0;
      for (const job of plan.jobs) candles += (await runJob(job)).candles;
      rows.push({
        name: 'one thread, no pool',
        seconds: (performance.now() - started) / 1000,
        threads: 1,
        candles,
        note: 'reference',
      });
    }
    // 2. The runner's pool, 2 threads.
    {
      const started = performance.now();
      const results = await runJobs(plan.jobs, { threads: CORES });
      const candles = results.reduce((n, r) => n + r.candles, 0);
      rows.push({
        name: 'piscina pool (runJobs)',
        seconds: (performance.now() - started) / 1000,
        threads: CORES,
        candles,
        note: 'threads start cold',
      });
    }
    const control = await stubControl();
    const work = mkdtempSync(join(tmpdir(), 'bench-simulator-'));
    try {
      // 3. One node on the embedded bus, 2 workers: plan, publish, run, collect, aggregate, submit.
      {
        const signer = generateSigner();
        const node = await startNode(
          new EmbeddedBus(),
          'bench-1',
          signer,
          [],
          join(work, 'one'),
          control.url,
          CORES,
          series,
        );
        try {
          // The first run starts the node's worker threads (tsx compiles the worker's modules in
          // each); the second finds them up, as every scheduled run after the first does.
          for (const round of ['first run', 'second run'] as const) {
            const started = performance.now();
            const outcome = checked(await node.runNow().done, 'one node');
            rows.push({
              name: `one node, embedded bus, ${round}`,
              seconds: (performance.now() - started) / 1000,
              threads: CORES,
              candles: 0,
              note: `${outcome.jobs} jobs in ${outcome.units} units`,
            });
          }
        } finally {
          await node.close();
        }
      }
      // 4. Two nodes over Kafka (one process, a Kafka client each, 1 worker each: 2 cores in all).
      if (!requireTool('kcat', 'kcat')) {
        ctx.log('simulator: kcat is not installed: the Kafka rows are left out');
      } else {
        const kafka = await startKafkaMock();
        try {
          for (const nodes of [1, 2]) {
            const signers = Array.from({ length: nodes }, () => generateSigner());
            const buses = signers.map((_, i) =>
              createKafkaBus({ brokers: kafka.brokers, clientId: `bench-${nodes}-${i}`, logger: silent }),
            );
            const started: SimulatorNode[] = [];
            try {
              for (const [i, s] of signers.entries())
                started.push(
                  await startNode(
                    buses[i]!,
                    `k${nodes}-${i}`,
                    s,
                    signers,
                    join(work, `k${nodes}-${i}`),
                    control.url,
                    CORES / nodes,
                    series,
                  ),
                );
              for (const round of ['first run', 'second run'] as const) {
                const t0 = performance.now();
                const outcome = checked(await started[0]!.runNow().done, `${nodes} node(s) on Kafka`);
                rows.push({
                  name: `${nodes === 1 ? 'one node' : 'two nodes'} on Kafka, ${CORES / nodes === 1 ? '1 worker' : `${CORES / nodes} workers`} each, ${round}`,
                  seconds: (performance.now() - t0) / 1000,
                  threads: CORES,
                  candles: 0,
                  note: `by node: ${Object.values(outcome.byNode).join(' + ')} jobs`,
                });
              }
            } finally {
              for (const n of started) await n.close();
              for (const b of buses) await b.close();
            }
          }
        } finally {
          await kafka.stop();
        }
      }
    } finally {
      await control.close();
      rmSync(work, { recursive: true, force: true });
    }
    // Every configuration runs the same jobs over the same candles.
    const candles = rows[0]!.candles;
    const reference = candles / rows[0]!.seconds;
    const results = rows.map((r) => ({
      ...r,
      candles,
      candlesPerSecPerCore: Math.round(candles / r.seconds / r.threads),
      perCoreVsReference: candles / r.seconds / r.threads / reference,
    }));
    return {
      report: {
        config: { dir, pairs: series.map((s) => s.symbol), jobs: plan.jobs.length, candles, cores: CORES },
        results,
      },
      table: [
        `simulator: the full eligibility run, ${plan.jobs.length} jobs over ${fmt(candles / 1e6)} M candles (${series.length} pairs, every strategy, 4 windows + grid)`,
        ...formatTable(
          ['configuration', 'wall s', 'threads', 'M candles/s/core', 'per core ÷ one thread', 'note'],
          results.map((r) => [
            r.name,
            fmt(r.seconds),
            r.threads,
            fmt(r.candlesPerSecPerCore / 1e6),
            fmt(r.perCoreVsReference),
            r.note,
          ]),
        ),
      ],
    };
  },
};
