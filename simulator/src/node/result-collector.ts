import { TOPICS, type Bus, type BusMessage, type KeyRing, type Subscription } from '@appliance/protocol';
import type { Logger } from '@appliance/runtime';
import type { JobResult } from '../worker.js';
import { JobQueueError, decodeResult, type ResultRecord } from './job-record.js';

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
 * The coordinator's side of the job queue (job-queue.ts): one plain subscription to `simulator-results` from its end, opened
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
