import {
  TOPICS,
  type Bus,
  type BusMessage,
  type KeyRing,
  type Signer,
  type Subscription,
} from '@appliance/protocol';
import type { Logger } from '@appliance/runtime';
import type { SimJob } from '../jobs.js';
import type { JobResult } from '../worker.js';
import { JobQueueError, decodeUnit, encodeResult, encodeUnit, type JobUnit } from './job-record.js';

/**
 * A run's jobs over the bus, so that every simulator node shares the work.
 *
 * - The coordinator publishes the run on `simulator-jobs` as **units**: the jobs of one
 *   (stream, symbol), keyed by the unit's first jobId. A unit is the grain of sharing: its jobs
 *   read the same candle file, so a worker thread reads it once.
 * - Every node consumes `simulator-jobs` as a member of the group `simulator`: the bus hands each
 *   partition to one member and commits a unit's offset only once its handler resolved, i.e.
 *   after every result of the unit was published. A node killed mid-unit leaves it uncommitted,
 *   and the member that takes its partition over runs the unit again (at least once).
 * - Each job's result goes on `simulator-results`, keyed by runId. The coordinator keeps the
 *   first result per jobId of its plan and ignores every other copy (a redelivered unit), so no
 *   job is counted twice.
 *
 * Both kinds of record are signed by the node that wrote them and checked against the pinned
 * simulator keys (job-record.ts); the coordinator's side is result-collector.ts.
 */
const SIMULATOR_GROUP = 'simulator';

/** The plan's jobs grouped by (stream, symbol), in plan order. */
export function unitsOf(jobs: readonly SimJob[]): SimJob[][] {
  const units = new Map<string, SimJob[]>();
  for (const job of jobs) {
    const k = `${job.stream}\n${job.symbol}`;
    const unit = units.get(k) ?? [];
    unit.push(job);
    units.set(k, unit);
  }
  return [...units.values()];
}

export interface PublishRunInput {
  runId: string;
  end: number;
  jobs: readonly SimJob[];
  deadline: number;
}

/** Publishes a run's units on the jobs topic; resolves once the bus accepted every one. */
export async function publishRun(
  bus: Bus,
  signer: Signer,
  coordinator: string,
  run: PublishRunInput,
): Promise<number> {
  const units = unitsOf(run.jobs);
  await bus.publish(
    TOPICS.simulatorJobs,
    units.map((jobs) => ({
      key: jobs[0]!.jobId,
      value: encodeUnit(
        { runId: run.runId, end: run.end, coordinator, deadline: run.deadline, jobs },
        signer,
      ),
    })),
  );
  return units.length;
}

export interface JobConsumerOptions {
  bus: Bus;
  signer: Signer;
  /** The simulator nodes' keys (this node's own included): only their units are run. */
  keys: KeyRing;
  node: string;
  logger: Logger;
  /** Runs one unit's jobs (on the worker pool), in any order; one result per job. */
  runUnit(unit: JobUnit): Promise<JobResult[]>;
  now?: () => number;
}

export interface JobConsumerStats {
  units: number;
  jobs: number;
  skipped: number;
  refused: number;
}

/**
 * This node's member of the `simulator` group: runs each unit it is handed and publishes the
 * results before the unit counts as done. A unit past its deadline is skipped (its coordinator
 * gave up; the run will be planned afresh); a unit that is not genuine is refused and logged.
 */
export class JobConsumer {
  readonly #o: JobConsumerOptions;
  #sub: Subscription | undefined;
  readonly #stats: JobConsumerStats = { units: 0, jobs: 0, skipped: 0, refused: 0 };

  constructor(o: JobConsumerOptions) {
    this.#o = o;
  }

  async start(): Promise<void> {
    this.#sub = await this.#o.bus.subscribe({
      topic: TOPICS.simulatorJobs,
      group: SIMULATOR_GROUP,
      from: 'earliest',
      onMessage: (m) => this.#onMessage(m),
      onError: (err, m) =>
        this.#o.logger.error(
          { err, partition: m.partition, offset: m.offset, key: m.key },
          'simulator unit failed: not run here (its coordinator will time out and the next schedule re-runs it)',
        ),
    });
    await this.#sub.ready;
  }

  stats(): JobConsumerStats {
    return { ...this.#stats };
  }

  async #onMessage(m: BusMessage): Promise<void> {
    const where = { partition: m.partition, offset: m.offset, key: m.key };
    let unit: JobUnit;
    try {
      unit = decodeUnit(m.value, this.#o.keys);
    } catch (err) {
      if (!JobQueueError.is(err)) throw err;
      this.#stats.refused++;
      this.#o.logger.warn({ ...where, code: err.code, error: err.message }, 'simulator unit refused');
      return;
    }
    const now = (this.#o.now ?? Date.now)();
    if (now > unit.deadline) {
      this.#stats.skipped++;
      this.#o.logger.info(
        { ...where, runId: unit.runId },
        'simulator unit skipped: its run is past its deadline',
      );
      return;
    }
    const about = {
      ...where,
      runId: unit.runId,
      unit: unit.jobs[0]!.jobId,
      stream: unit.jobs[0]!.stream,
      symbol: unit.jobs[0]!.symbol,
      jobs: unit.jobs.length,
    };
    this.#o.logger.info(about, 'simulator unit started');
    const results = await this.#o.runUnit(unit);
    await this.#o.bus.publish(
      TOPICS.simulatorResults,
      results.map((result) => ({
        key: unit.runId,
        value: encodeResult(
          { runId: unit.runId, jobId: result.jobId, node: this.#o.node, result },
          this.#o.signer,
        ),
      })),
    );
    this.#stats.units++;
    this.#stats.jobs += results.length;
    this.#o.logger.info(about, 'simulator unit done');
  }

  async close(): Promise<void> {
    await this.#sub?.close();
    this.#sub = undefined;
  }
}
