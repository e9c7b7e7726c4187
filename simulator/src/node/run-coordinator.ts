import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { MAX_SIMULATOR_DECISIONS } from '@appliance/protocol';
import { readFileIfExists, writeFileDurable } from '@appliance/runtime';
import { aggregate } from '../aggregate.js';
import { SimulationError, planSimulation } from '../plan.js';
import type { EligibilityRecord } from '../results.js';
import type { CandleStore } from './candle-store.js';
import { toDecisions } from './decisions.js';
import { publishRun, unitsOf } from './job-queue.js';
import type { Collected, ResultCollector } from './result-collector.js';
import { fileName, type RunSnapshots } from './run-snapshots.js';
import { submitDecisions } from './submit.js';
import type { SimulatorNodeOptions } from './simulator-node.js';

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

/** What a coordinated run works with: the node's options, its store, snapshots and result collector. */
interface Coordination {
  o: SimulatorNodeOptions;
  store: CandleStore;
  snapshots: RunSnapshots;
  collector: ResultCollector;
}

/**
 * Coordinates one run: plans it from the store, publishes its units, collects one result per
 * job, aggregates, and submits the signed decisions to the control server.
 */
export async function coordinateRun(
  { o, store, snapshots, collector }: Coordination,
  onRunId: (runId: string) => void,
): Promise<RunOutcome> {
  const now = o.now ?? Date.now;
  const series = store
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
        await snapshots.write(
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
  const expected = collector.expect(
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
  const previous = await lastEligibility(o);
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

/** The last run's eligibility, which this run's hysteresis starts from; none if unreadable. */
async function lastEligibility(o: SimulatorNodeOptions): Promise<EligibilityRecord[]> {
  const text = await readFileIfExists(join(o.dataDir, 'eligibility-last.json'));
  if (text === undefined) return [];
  try {
    return JSON.parse(text) as EligibilityRecord[];
  } catch {
    o.logger.warn('eligibility-last.json is not JSON: this run starts without the last decisions');
    return [];
  }
}
