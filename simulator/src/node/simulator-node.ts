import { mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Piscina } from 'piscina';
import { CSV_HEADER } from '@appliance/datafeed-node';
import {
  KeyRing,
  MAX_ELIGIBILITY_REASON_CHARS,
  MAX_SIMULATOR_DECISIONS,
  type BackoffPolicy,
  type Bus,
  type Signer,
  type SimulatorDecision,
} from '@appliance/protocol';
import { readFileIfExists, writeFileDurable, type Logger } from '@appliance/runtime';
import type { FillCosts } from '@appliance/trading-core';
import type { SimJob } from '../jobs.js';
import type { RunMetrics } from '../metrics.js';
import {
  SimulationError,
  WORKER_URL,
  aggregate,
  planSimulation,
  type EligibilityRecord,
  type SimulationResults,
} from '../runner.js';
import type { JobResult } from '../worker.js';
import { CandleRecorder } from './candle-recorder.js';
import { CandleStore, type Durability } from './candle-store.js';
import {
  JobConsumer,
  ResultCollector,
  publishRun,
  unitsOf,
  type Collected,
  type JobUnit,
} from './job-queue.js';
import { submitDecisions } from './submit.js';

/**
 * A simulator node: records the `candles` topic into its store, runs units of any node's runs
 * on its worker pool (a member of the `simulator` group), and, when its schedule or `POST /run`
 * says so, coordinates a run: plans it from its store, publishes its units, collects one result
 * per job, aggregates, and submits the signed decisions to the control server.
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

export type RunOutcome =
  | {
      ok: true;
      runId: string;
      end: number;
      jobs: number;
      units: number;
      received: number;
      duplicates: number;
      byNode: Record<string, number>;
      decisions: number;
      eligible: number;
    }
  | { ok: false; runId?: string; code: string; error: string };

/** Run folders (candle snapshots) kept besides the newest; older ones are removed. */
const KEEP_RUN_DIRS = 3;
/** A worker thread idle this long exits, and with it the candle files it cached. */
const WORKER_IDLE_MS = 30_000;

export class SimulatorNode {
  readonly #o: SimulatorNodeOptions;
  readonly store: CandleStore;
  readonly recorder: CandleRecorder;
  readonly #pool: Piscina<SimJob, JobResult>;
  readonly #consumer: JobConsumer;
  readonly #collector: ResultCollector;
  readonly #snapshots = new Map<string, Promise<string>>();
  #running: { runId?: string; done: Promise<RunOutcome> } | undefined;
  #last: RunOutcome | undefined;
  #closed = false;

  private constructor(o: SimulatorNodeOptions, store: CandleStore) {
    this.#o = o;
    this.store = store;
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
    running.done = this.#coordinate((runId) => (running.runId = runId))
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

  async #coordinate(onRunId: (runId: string) => void): Promise<RunOutcome> {
    const o = this.#o;
    const now = o.now ?? Date.now;
    const series = this.store
      .series()
      .filter((s) => s.timeframe === o.timeframe && (o.symbols.length === 0 || o.symbols.includes(s.symbol)));
    if (series.length === 0)
      return {
        ok: false,
        code: 'E_NO_CANDLES',
        error: `no ${o.timeframe} candles stored yet for ${o.symbols.join(', ') || 'any pair'}`,
      };
    // The plan's files: a snapshot of the store, in a folder named after this moment so that
    // the runId (derived from the files, the end, the strategies and the costs) is new each run.
    const planDir = join(o.dataDir, 'runs', `plan-${o.node}-${now()}`);
    let plan;
    try {
      await mkdir(planDir, { recursive: true });
      const files: string[] = [];
      for (const s of series)
        files.push(
          await this.#writeSnapshot(
            join(planDir, fileName(s.symbol, s.timeframe)),
            s.symbol,
            s.timeframe,
            Infinity,
          ),
        );
      plan = planSimulation({
        files,
        symbols: series.map((s) => s.symbol),
        timeframe: o.timeframe,
        ...(o.strategies.length > 0 ? { strategies: o.strategies } : {}),
        seed: o.seed,
        costs: o.costs,
      });
    } catch (err) {
      if (!(err instanceof SimulationError)) throw err;
      return { ok: false, code: err.code, error: err.message };
    } finally {
      await rm(planDir, { recursive: true, force: true });
    }
    onRunId(plan.runId);
    const units = unitsOf(plan.jobs).length;
    const deadline = now() + o.runTimeoutMs;
    const expected = this.#collector.expect(
      plan.runId,
      plan.jobs.map((j) => j.jobId),
    );
    o.logger.info(
      { runId: plan.runId, end: plan.end, jobs: plan.jobs.length, units, skipped: plan.skipped.length },
      'simulator run started',
    );
    let collected: Collected;
    try {
      await publishRun(o.bus, o.signer, o.node, {
        runId: plan.runId,
        end: plan.end,
        jobs: plan.jobs,
        deadline,
      });
      collected = await expected.wait(o.runTimeoutMs);
    } catch (err) {
      expected.cancel();
      const e = err as Error & { code?: string };
      return { ok: false, runId: plan.runId, code: e.code ?? 'E_RUN', error: e.message };
    }
    const previous = await this.#previous();
    const results = aggregate(plan, collected.results.values(), {
      createdAt: new Date(now()).toISOString(),
      previous,
    });
    const decisions = toDecisions(results);
    if (decisions.length > MAX_SIMULATOR_DECISIONS)
      return {
        ok: false,
        runId: plan.runId,
        code: 'E_TOO_MANY',
        error: `${decisions.length} decisions, the control server takes at most ${MAX_SIMULATOR_DECISIONS}: judge fewer strategies or pairs`,
      };
    try {
      await submitDecisions(
        { runId: plan.runId, end: plan.end, node: o.node, decisions },
        {
          controlUrl: o.controlUrl,
          signer: o.signer,
          logger: o.logger,
          attempts: o.submitAttempts,
          ...(o.submitBackoff ? { backoff: o.submitBackoff } : {}),
          ...(o.now ? { now: o.now } : {}),
        },
      );
    } catch (err) {
      const e = err as Error & { code?: string };
      return { ok: false, runId: plan.runId, code: e.code ?? 'E_SUBMIT', error: e.message };
    }
    // The hysteresis of the next run starts from these.
    await writeFileDurable(
      join(o.dataDir, 'eligibility-last.json'),
      `${JSON.stringify(results.eligibility)}\n`,
    );
    return {
      ok: true,
      runId: plan.runId,
      end: plan.end,
      jobs: plan.jobs.length,
      units,
      received: collected.received,
      duplicates: collected.duplicates,
      byNode: collected.byNode,
      decisions: decisions.length,
      eligible: decisions.filter((d) => d.eligible).length,
    };
  }

  async #previous(): Promise<EligibilityRecord[]> {
    const text = await readFileIfExists(join(this.#o.dataDir, 'eligibility-last.json'));
    if (text === undefined) return [];
    try {
      return JSON.parse(text) as EligibilityRecord[];
    } catch {
      this.#o.logger.warn('eligibility-last.json is not JSON: this run starts without the last decisions');
      return [];
    }
  }

  /** Runs one unit's jobs on the pool, each reading this node's own snapshot of its store. */
  async #runUnit(unit: JobUnit): Promise<JobResult[]> {
    return Promise.all(
      unit.jobs.map(async (job) => {
        const local: SimJob = {
          ...job,
          // The node submits decisions, not a report: no curves, so a result is about 1 kB, not 40.
          curve: false,
          source: { file: await this.#snapshot(unit, job.symbol, job.timeframe) },
          ...(job.inputs === undefined
            ? {}
            : {
                inputs: Object.fromEntries(
                  await Promise.all(
                    Object.keys(job.inputs).map(
                      async (symbol) =>
                        [symbol, { file: await this.#snapshot(unit, symbol, job.timeframe) }] as const,
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

  /** The CSV of this node's candles of a series before the run's end, written once per run. */
  #snapshot(unit: JobUnit, symbol: string, timeframe: string): Promise<string> {
    const dir = join(this.#o.dataDir, 'runs', unit.runId);
    const path = join(dir, fileName(symbol, timeframe));
    let made = this.#snapshots.get(path);
    if (!made) {
      const isNewRun = ![...this.#snapshots.keys()].some((p) => p.startsWith(`${dir}/`));
      made = (async () => {
        await mkdir(dir, { recursive: true });
        if (isNewRun) await this.#pruneRunDirs(unit.runId);
        return this.#writeSnapshot(path, symbol, timeframe, unit.end);
      })();
      made.catch(() => this.#snapshots.delete(path));
      this.#snapshots.set(path, made);
    }
    return made;
  }

  async #writeSnapshot(path: string, symbol: string, timeframe: string, end: number): Promise<string> {
    const candles = await this.store.read(symbol, timeframe, Number.isFinite(end) ? { end: end - 1 } : {});
    const rows = candles.map((c) => `${c.time},${c.open},${c.high},${c.low},${c.close},${c.volume}`);
    // Written aside and renamed: a worker never reads a half-written snapshot.
    await writeFile(`${path}.tmp`, `${CSV_HEADER}\n${rows.join('\n')}\n`);
    await rename(`${path}.tmp`, path);
    return path;
  }

  /** Keeps the newest KEEP_RUN_DIRS run folders besides `keep`'s. */
  async #pruneRunDirs(keep: string): Promise<void> {
    const root = join(this.#o.dataDir, 'runs');
    const dirs = await Promise.all(
      (await readdir(root))
        .filter((d) => d !== keep && !d.startsWith('plan-'))
        .map(async (d) => ({ d, t: (await stat(join(root, d))).mtimeMs })),
    );
    dirs.sort((a, b) => b.t - a.t);
    for (const { d } of dirs.slice(KEEP_RUN_DIRS)) {
      await rm(join(root, d), { recursive: true, force: true });
      for (const p of this.#snapshots.keys())
        if (p.startsWith(`${join(root, d)}/`)) this.#snapshots.delete(p);
    }
  }
}

function fileName(symbol: string, timeframe: string): string {
  return `${symbol.replace('/', '-')}_${timeframe}.csv`;
}

/** Figures of the one-year run shown beside a decision (finite numbers only, as the schema wants). */
const SHOWN_METRICS = ['totalReturn', 'sharpe', 'sortino', 'maxDrawdown', 'trades', 'exposure'] as const;

/** One decision per (stream, symbol) judged, and one refusal per (stream, symbol) the plan could not run. */
function toDecisions(results: SimulationResults): SimulatorDecision[] {
  const reason = (text: string) =>
    text.length <= MAX_ELIGIBILITY_REASON_CHARS
      ? text
      : `${text.slice(0, MAX_ELIGIBILITY_REASON_CHARS - 1)}…`;
  const decisions: SimulatorDecision[] = results.eligibility.map((e) => {
    const year = results.runs.find(
      (r) => r.stream === e.stream && r.symbol === e.symbol && r.window === '1y',
    )?.metrics;
    const metrics = year ? shownMetrics(year) : undefined;
    return {
      stream: e.stream,
      symbol: e.symbol,
      eligible: e.eligible,
      reason: reason(e.reason || (e.eligible ? 'eligible' : 'not eligible')),
      ...(metrics ? { metrics } : {}),
    };
  });
  for (const s of results.skipped)
    if (!decisions.some((d) => d.stream === s.stream && d.symbol === s.symbol))
      decisions.push({
        stream: s.stream,
        symbol: s.symbol,
        eligible: false,
        reason: reason(`not run: ${s.reason}`),
      });
  return decisions;
}

function shownMetrics(m: RunMetrics): Record<string, number> | undefined {
  const out: Record<string, number> = {};
  for (const k of SHOWN_METRICS) {
    const v = m[k];
    if (typeof v === 'number' && Number.isFinite(v)) out[k] = v;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}
