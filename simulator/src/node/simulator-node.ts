import { Piscina } from 'piscina';
import { KeyRing, type BackoffPolicy, type Bus, type Signer } from '@appliance/protocol';
import type { Logger } from '@appliance/runtime';
import type { FillCosts } from '@appliance/trading-core';
import type { SimJob } from '../jobs.js';
import { WORKER_URL } from '../pool.js';
import type { JobResult } from '../worker.js';
import { CandleRecorder } from './candle-recorder.js';
import { CandleStore, type Durability } from './candle-store.js';
import { JobConsumer } from './job-queue.js';
import type { JobUnit } from './job-record.js';
import { ResultCollector } from './result-collector.js';
import { coordinateRun, type RunOutcome } from './run-coordinator.js';
import { RunSnapshots } from './run-snapshots.js';

/**
 * A simulator node: records the `candles` topic into its store, runs units of any node's runs
 * on its worker pool (a member of the `simulator` group), and, when its schedule or `POST /run`
 * says so, coordinates a run: plans it from its store, publishes its units, collects one result
 * per job, aggregates, and submits the signed decisions to the control server (run-coordinator.ts).
 *
 * If the coordinator dies mid-run nothing resumes the run: its units still on the topic are run
 * by the others until their deadline, their results go unread, and the next schedule plans a
 * new run (a new runId) from the candles then stored.
 */
export interface SimulatorNodeOptions {
  bus: Bus;
  dataDir: string;
  signer: Signer;
  /** The other simulator nodes' public keys (base64url); this node's own is always trusted. */
  peerKeys: readonly string[];
  /** The datafeeds' public keys: only candles they signed are stored. */
  candleKeys: readonly string[];
  node: string;
  logger: Logger;
  controlUrl: string;
  /** Strategy names; empty: every registered strategy. */
  strategies: readonly string[];
  /** Pairs; empty: every pair stored on `timeframe`. */
  symbols: readonly string[];
  timeframe: string;
  seed: number;
  costs: FillCosts;
  workers: number;
  runTimeoutMs: number;
  submitAttempts: number;
  submitBackoff?: BackoffPolicy;
  /** When a stored candle counts as stored (default `fsync`); `os` for bulk loads in tests and benches. */
  storeDurability?: Durability;
  now?: () => number;
}

/** A worker thread idle this long exits, and with it the candle files it cached. */
const WORKER_IDLE_MS = 30_000;

export class SimulatorNode {
  readonly #o: SimulatorNodeOptions;
  readonly store: CandleStore;
  readonly recorder: CandleRecorder;
  readonly #pool: Piscina<SimJob, JobResult>;
  readonly #consumer: JobConsumer;
  readonly #collector: ResultCollector;
  readonly #snapshots: RunSnapshots;
  #running: { runId?: string; done: Promise<RunOutcome> } | undefined;
  #last: RunOutcome | undefined;
  #closed = false;

  private constructor(o: SimulatorNodeOptions, store: CandleStore) {
    this.#o = o;
    this.store = store;
    this.#snapshots = new RunSnapshots(store, o.dataDir);
    this.recorder = new CandleRecorder({
      bus: o.bus,
      store,
      keys: KeyRing.of(...o.candleKeys),
      logger: o.logger,
    });
    const nodes = KeyRing.of(o.signer.publicKey, ...o.peerKeys);
    this.#pool = new Piscina<SimJob, JobResult>({
      filename: WORKER_URL.href,
      minThreads: 0,
      maxThreads: o.workers,
      idleTimeout: WORKER_IDLE_MS,
      maxQueue: Infinity,
    });
    this.#consumer = new JobConsumer({
      bus: o.bus,
      signer: o.signer,
      keys: nodes,
      node: o.node,
      logger: o.logger,
      runUnit: (unit) => this.#runUnit(unit),
      ...(o.now ? { now: o.now } : {}),
    });
    this.#collector = new ResultCollector({ bus: o.bus, keys: nodes, logger: o.logger });
  }

  /** Opens the store and starts recording, consuming jobs and listening for results. */
  static async start(o: SimulatorNodeOptions): Promise<SimulatorNode> {
    const store = await CandleStore.open({
      dir: o.dataDir,
      logger: o.logger,
      ...(o.storeDurability ? { durability: o.storeDurability } : {}),
    });
    o.logger.info(
      {
        series: store.stats().map((s) => `${s.symbol} ${s.timeframe} ${s.count}`),
        repairs: store.repairs.length,
      },
      'candle store opened',
    );
    const node = new SimulatorNode(o, store);
    try {
      // Results first: a run may be asked for as soon as start() resolves.
      await node.#collector.start();
      await node.recorder.start();
      await node.#consumer.start();
    } catch (err) {
      await node.close();
      throw err;
    }
    o.logger.info(
      {
        node: o.node,
        kid: o.signer.kid,
        series: store.stats().map((s) => `${s.symbol} ${s.timeframe} ${s.count}`),
      },
      'simulator node up',
    );
    return node;
  }

  /** Starts a run unless one is under way (then that one's id is given back). */
  runNow(): { started: boolean; runId?: string; done: Promise<RunOutcome> } {
    if (this.#running) return { started: false, ...this.#running };
    const running: { runId?: string; done: Promise<RunOutcome> } = {
      done: Promise.resolve(undefined as never),
    };
    running.done = coordinateRun(
      { o: this.#o, store: this.store, snapshots: this.#snapshots, collector: this.#collector },
      (runId) => (running.runId = runId),
    )
      .catch((err: unknown): RunOutcome => {
        // A bug or an I/O error of this node: reported as the run's outcome, never unhandled.
        this.#o.logger.error({ err }, 'simulator run failed unexpectedly');
        return {
          ok: false,
          ...(running.runId ? { runId: running.runId } : {}),
          code: 'E_FAILED',
          error: String((err as Error).message ?? err),
        };
      })
      .then((outcome) => {
        this.#last = outcome;
        this.#running = undefined;
        if (outcome.ok) this.#o.logger.info(outcome, 'simulator run submitted');
        else this.#o.logger.error(outcome, 'simulator run failed: the next schedule runs it again');
        return outcome;
      });
    this.#running = running;
    return { started: true, ...running };
  }

  status(): Record<string, unknown> {
    return {
      node: this.#o.node,
      running: this.#running?.runId ?? (this.#running ? 'planning' : null),
      lastRun: this.#last ?? null,
      recorder: this.recorder.stats(),
      consumer: this.#consumer.stats(),
      series: this.store.stats(),
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#consumer.close();
    await this.recorder.stop();
    await this.#collector.close();
    await this.#pool.destroy();
    await this.store.close();
  }

  /** Runs one unit's jobs on the pool, each reading this node's own snapshot of its store. */
  async #runUnit(unit: JobUnit): Promise<JobResult[]> {
    return Promise.all(
      unit.jobs.map(async (job) => {
        const local: SimJob = {
          ...job,
          // The node submits decisions, not a report: no curves, so a result is about 1 kB, not 40.
          curve: false,
          source: { file: await this.#snapshots.forUnit(unit, job.symbol, job.timeframe) },
          ...(job.inputs === undefined
            ? {}
            : {
                inputs: Object.fromEntries(
                  await Promise.all(
                    Object.keys(job.inputs).map(
                      async (symbol) =>
                        [
                          symbol,
                          { file: await this.#snapshots.forUnit(unit, symbol, job.timeframe) },
                        ] as const,
                    ),
                  ),
                ),
              }),
        };
        try {
          return await this.#pool.run(local);
        } catch (err) {
          // One job that throws fails alone: aggregate judges it as a run that could not be made.
          this.#o.logger.warn({ err, jobId: job.jobId }, 'simulator job failed');
          const failed: JobResult = {
            jobId: job.jobId,
            threadId: 0,
            metrics: null,
            error: `the job failed: ${(err as Error).message}`,
            candles: 0,
            data: [],
          };
          return failed;
        }
      }),
    );
  }
}
