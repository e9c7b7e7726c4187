import { aggregate } from './aggregate.js';
import { planSimulation, type SimulationOptions } from './plan.js';
import { runJobs } from './pool.js';
import type { SimulationResults } from './results.js';

/**
 * A simulation from files to verdicts: plan the jobs (plan.ts, jobs.ts), run them on a pool of
 * worker threads (pool.ts, worker.ts), and `aggregate` what comes back (aggregate.ts) into runs,
 * deflated Sharpe ratios, walk-forward results and eligibility decisions. `aggregate` is pure, so
 * a simulator node that gets its results from a jobs topic instead of threads judges them the
 * same way.
 */

/** Plans, runs every job on a pool of worker threads, and aggregates. */
export async function runSimulation(options: SimulationOptions): Promise<SimulationResults> {
  const plan = planSimulation(options);
  const results = await runJobs(plan.jobs, {
    ...(options.threads === undefined ? {} : { threads: options.threads }),
    ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
  });
  return aggregate(plan, results, {
    createdAt: options.createdAt ?? new Date().toISOString(),
    ...(options.rule === undefined ? {} : { rule: options.rule }),
    ...(options.previous === undefined ? {} : { previous: options.previous }),
  });
}
