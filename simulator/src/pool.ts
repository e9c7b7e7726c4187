import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import type { SimJob } from './jobs.js';
import { SimulationError } from './plan.js';
import type { JobResult } from './worker.js';

export interface PoolOptions {
  threads?: number;
  onProgress?: (done: number, total: number) => void;
}

/** The worker's file: loaded by path, TypeScript through the `--import tsx` its thread inherits. */
export const WORKER_URL = new URL('./worker.ts', import.meta.url);

/**
 * Runs jobs on a piscina pool of `threads` worker threads (default one per CPU) and returns
 * their results in the order they finished. The pool is destroyed at the end, even on failure.
 */
export async function runJobs(jobs: readonly SimJob[], o: PoolOptions = {}): Promise<JobResult[]> {
  const threads = o.threads ?? availableParallelism();
  if (!(Number.isInteger(threads) && threads >= 1))
    throw new SimulationError('E_INPUT', `threads must be a whole number >= 1, got ${threads}`);
  const pool = new Piscina<SimJob, JobResult>({
    filename: WORKER_URL.href,
    minThreads: threads,
    maxThreads: threads,
    // Every job is queued at once: the pool must hold them all, not refuse the overflow.
    maxQueue: Infinity,
  });
  const results: JobResult[] = [];
  let done = 0;
  o.onProgress?.(0, jobs.length);
  try {
    await Promise.all(
      jobs.map(async (job) => {
        results.push(await pool.run(job));
        o.onProgress?.(++done, jobs.length);
      }),
    );
  } finally {
    await pool.destroy();
  }
  return results;
}
