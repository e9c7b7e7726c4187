import { sign, verify } from 'node:crypto';
import { z } from 'zod';
import { errorClass } from '@appliance/errors';
import {
  TOPICS,
  canonicalBytes,
  type Bus,
  type BusMessage,
  type KeyRing,
  type Signer,
  type Subscription,
} from '@appliance/protocol';
import type { Logger } from '@appliance/runtime';
import type { SimJob } from '../jobs.js';
import type { JobResult } from '../worker.js';

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
 * Both kinds of record are signed by the node that wrote them (its Ed25519 key, in domains of
 * their own) and checked against the pinned simulator keys: whoever can write to the bus without
 * one of those keys cannot plant a job or a result that moves an eligibility decision.
 */
const SIMULATOR_GROUP = 'simulator';
const JOB_UNIT_DOMAIN = 'appliance/simulator-job-unit/v1\n';
const JOB_RESULT_DOMAIN = 'appliance/simulator-job-result/v1\n';
/** A record larger than this is refused before it is parsed. A result with curves is about 40 kB. */
const MAX_JOB_RECORD_BYTES = 1_000_000;

const JOB_QUEUE_ERROR_CODES = {
  E_TOO_LARGE: `the record is larger than ${MAX_JOB_RECORD_BYTES} bytes`,
  E_MALFORMED: 'not JSON, or not a simulator job unit or result',
  E_UNKNOWN_KEY: 'signed with a key that is not a pinned simulator node key',
  E_BAD_SIGNATURE: 'the signature does not verify: forged or altered',
  E_RUN_TIMEOUT: "not every job's result came in before the run's deadline",
  E_CLOSED: 'the job queue is closed',
} as const;
export type JobQueueErrorCode = keyof typeof JOB_QUEUE_ERROR_CODES;
class JobQueueError extends errorClass<JobQueueErrorCode>('JobQueueError', JOB_QUEUE_ERROR_CODES) {}

/** What goes on the jobs topic. `deadline`: when the coordinator stops waiting; later, the unit is skipped. */
export interface JobUnit {
  v: 1;
  runId: string;
  /** Every window of the run ends here (exclusive): a node snapshots its store up to it. */
  end: number;
  coordinator: string;
  deadline: number;
  jobs: SimJob[];
  kid: string;
  sig: string;
}

export interface ResultRecord {
  v: 1;
  runId: string;
  jobId: string;
  /** The node that ran the job. */
  node: string;
  result: JobResult;
  kid: string;
  sig: string;
}

// Non-finite numbers (a Sortino with no downside is Infinity) survive the trip as {"$num": "Infinity"}.
const NON_FINITE = '$num';
function replacer(_key: string, value: unknown): unknown {
  return typeof value === 'number' && !Number.isFinite(value) ? { [NON_FINITE]: String(value) } : value;
}
function reviver(_key: string, value: unknown): unknown {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const keys = Object.keys(value);
    const n = (value as Record<string, unknown>)[NON_FINITE];
    if (keys.length === 1 && typeof n === 'string' && ['Infinity', '-Infinity', 'NaN'].includes(n))
      return Number(n);
  }
  return value;
}

/** The wire form: JSON with non-finite numbers encoded, so what is signed is what is sent. */
function wire(value: object): Record<string, unknown> {
  return JSON.parse(JSON.stringify(value, replacer)) as Record<string, unknown>;
}

function signWire(domain: string, unsigned: Record<string, unknown>, signer: Signer): string {
  return sign(
    null,
    Buffer.concat([Buffer.from(domain), canonicalBytes(unsigned)]),
    signer.privateKey,
  ).toString('base64url');
}

function encodeUnit(unit: Omit<JobUnit, 'v' | 'kid' | 'sig'>, signer: Signer): string {
  const unsigned = wire({ v: 1, ...unit, kid: signer.kid });
  return JSON.stringify({ ...unsigned, sig: signWire(JOB_UNIT_DOMAIN, unsigned, signer) });
}

export function encodeResult(record: Omit<ResultRecord, 'v' | 'kid' | 'sig'>, signer: Signer): string {
  const unsigned = wire({ v: 1, ...record, kid: signer.kid });
  return JSON.stringify({ ...unsigned, sig: signWire(JOB_RESULT_DOMAIN, unsigned, signer) });
}

const id = z.string().min(1).max(200);
const Signed = { v: z.literal(1), kid: z.string().min(1).max(100), sig: z.string().min(1).max(200) };
const Job = z.looseObject({
  runId: id,
  jobId: id,
  stream: id,
  strategy: id,
  symbol: z.string().regex(/^[A-Z0-9]{1,20}\/[A-Z0-9]{1,20}$/),
  timeframe: z.string().regex(/^[1-9]\d{0,3}[mhd]$/),
  source: z.object({ file: z.string().min(1) }),
  range: z.object({ start: z.number(), end: z.number() }),
});
const UnitSchema = z.strictObject({
  ...Signed,
  runId: id,
  end: z.number().int(),
  coordinator: id,
  deadline: z.number().int(),
  jobs: z.array(Job).min(1).max(10_000),
});
const ResultSchema = z.strictObject({
  ...Signed,
  runId: id,
  jobId: id,
  node: id,
  result: z.looseObject({ jobId: id }),
});

function decode<T>(domain: string, schema: z.ZodType, value: Buffer, keys: KeyRing): T {
  if (value.length > MAX_JOB_RECORD_BYTES)
    throw new JobQueueError('E_TOO_LARGE', `${value.length} bytes, at most ${MAX_JOB_RECORD_BYTES}`);
  let raw: unknown;
  try {
    raw = JSON.parse(value.toString('utf8'));
  } catch {
    throw new JobQueueError('E_MALFORMED', 'not JSON');
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new JobQueueError(
      'E_MALFORMED',
      `${issue?.path.join('.') || 'record'}: ${issue?.message ?? 'invalid'}`,
    );
  }
  const { sig, ...unsigned } = raw as Record<string, unknown> & { sig: string; kid: string };
  const key = keys.get(unsigned.kid);
  if (!key) throw new JobQueueError('E_UNKNOWN_KEY', `signed with unknown key ${unsigned.kid}`);
  const ok = verify(
    null,
    Buffer.concat([Buffer.from(domain), canonicalBytes(unsigned)]),
    key,
    Buffer.from(sig, 'base64url'),
  );
  if (!ok) throw new JobQueueError('E_BAD_SIGNATURE', `signature of ${unsigned.kid} does not verify`);
  // Revived only after the check: the signature covers the wire form.
  return JSON.parse(value.toString('utf8'), reviver) as T;
}

const decodeUnit = (value: Buffer, keys: KeyRing): JobUnit =>
  decode<JobUnit>(JOB_UNIT_DOMAIN, UnitSchema, value, keys);
export const decodeResult = (value: Buffer, keys: KeyRing): ResultRecord =>
  decode<ResultRecord>(JOB_RESULT_DOMAIN, ResultSchema, value, keys);

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

export interface Collected {
  /** One result per jobId of the plan, the first that came. */
  results: Map<string, JobResult>;
  /** Records received for the run, copies included. */
  received: number;
  /** Copies of a result already held (a redelivered unit), ignored. */
  duplicates: number;
  /** By node, how many of the counted results it ran. */
  byNode: Record<string, number>;
}

interface Pending {
  jobIds: Set<string>;
  collected: Collected;
  done: () => void;
}

/**
 * The coordinator's side: one plain subscription to `simulator-results` from its end, opened
 * before any run is published, with the runs under way waiting on it.
 */
export class ResultCollector {
  readonly #bus: Bus;
  readonly #keys: KeyRing;
  readonly #logger: Logger;
  readonly #runs = new Map<string, Pending>();
  #sub: Subscription | undefined;

  constructor(o: { bus: Bus; keys: KeyRing; logger: Logger }) {
    this.#bus = o.bus;
    this.#keys = o.keys;
    this.#logger = o.logger;
  }

  async start(): Promise<void> {
    this.#sub = await this.#bus.subscribe({
      topic: TOPICS.simulatorResults,
      from: 'latest',
      onMessage: (m) => this.#onMessage(m),
    });
    await this.#sub.ready;
  }

  /**
   * Registers a run before its units are published, so no result can come before it is
   * awaited. `wait` resolves with one result per jobId, or rejects with E_RUN_TIMEOUT.
   */
  expect(
    runId: string,
    jobIds: readonly string[],
  ): { wait(timeoutMs: number): Promise<Collected>; cancel(): void } {
    if (!this.#sub) throw new JobQueueError('E_CLOSED', 'the result collector is not started');
    let done!: () => void;
    const finished = new Promise<void>((r) => (done = r));
    const pending: Pending = {
      jobIds: new Set(jobIds),
      collected: { results: new Map(), received: 0, duplicates: 0, byNode: {} },
      done,
    };
    this.#runs.set(runId, pending);
    if (pending.jobIds.size === 0) done();
    return {
      wait: async (timeoutMs) => {
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)));
        try {
          const outcome = await Promise.race([finished.then(() => 'done' as const), timeout]);
          if (outcome === 'timeout') {
            const missing = pending.jobIds.size - pending.collected.results.size;
            throw new JobQueueError(
              'E_RUN_TIMEOUT',
              `run ${runId}: ${missing} of ${pending.jobIds.size} results missing after ${timeoutMs} ms`,
            );
          }
          return pending.collected;
        } finally {
          clearTimeout(timer);
          this.#runs.delete(runId);
        }
      },
      cancel: () => this.#runs.delete(runId),
    };
  }

  async #onMessage(m: BusMessage): Promise<void> {
    const pending = this.#runs.get(m.key);
    if (!pending) return; // another coordinator's run, or one given up
    let record: ResultRecord;
    try {
      record = decodeResult(m.value, this.#keys);
    } catch (err) {
      if (!JobQueueError.is(err)) throw err;
      this.#logger.warn(
        { partition: m.partition, offset: m.offset, code: err.code, error: err.message },
        'simulator result refused',
      );
      return;
    }
    if (record.runId !== m.key || record.result.jobId !== record.jobId || !pending.jobIds.has(record.jobId)) {
      this.#logger.warn(
        { runId: record.runId, jobId: record.jobId },
        'simulator result refused: not a job of this run',
      );
      return;
    }
    const c = pending.collected;
    c.received++;
    if (c.results.has(record.jobId)) {
      c.duplicates++;
      return;
    }
    c.results.set(record.jobId, record.result);
    c.byNode[record.node] = (c.byNode[record.node] ?? 0) + 1;
    if (c.results.size === pending.jobIds.size) pending.done();
  }

  async close(): Promise<void> {
    await this.#sub?.close();
    this.#sub = undefined;
  }
}
