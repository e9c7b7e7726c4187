/**
 * `npm run bench`: runs every benchmark suite, each in a process of its own (`suite-worker.ts`),
 * writes bench/results/latest.json and prints a table per suite. See docs/benchmarks.md.
 *
 *   npm run bench -- --only fanout --clients 100 --no-pin
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { REPO_ROOT, spawnWorker } from './ipc.js';
import type { Pinning, SuiteOutcome } from './suite.js';
import type { SuiteRun } from './suite-worker.js';
import { SUITES } from './suites.js';

/** The whole run is bounded (`--timeout-s`): past this, stop and say so rather than hang. */
const DEFAULT_RUN_TIMEOUT_S = 900;
/** Past the deadline, how long a timed-out suite's process has to stop before the runner exits. */
const STOP_BACKSTOP_MS = 10_000;

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

/** Parses "0-1,3" (taskset's list form) into [0, 1, 3]. */
function parseCpuList(list: string): number[] {
  const out: number[] = [];
  for (const part of list.split(',')) {
    const [a, b] = part.split('-').map(Number);
    if (a === undefined || Number.isNaN(a)) continue;
    for (let c = a; c <= (b ?? a); c++) out.push(c);
  }
  return out;
}

/** Server on one core, load generator on another, as DESIGN asks; when that is possible. */
function choosePinning(disabled: boolean): Pinning {
  if (disabled) return { used: false, reason: '--no-pin' };
  let allowed: number[];
  try {
    const out = execFileSync('taskset', ['-cp', String(process.pid)], { encoding: 'utf8' });
    allowed = parseCpuList(out.split(':').at(-1)!.trim());
  } catch {
    return { used: false, reason: 'taskset is not available (util-linux)' };
  }
  if (allowed.length < 2) return { used: false, reason: `only ${allowed.length} CPU allowed` };
  return { used: true, serverCpu: allowed[0]!, loadCpu: allowed[1]! };
}

function gitCommit(): string | null {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
  } catch {
    return null;
  }
}

async function main(): Promise<void> {
  const options: NonNullable<ParseArgsConfig['options']> = {
    only: { type: 'string', multiple: true },
    'no-pin': { type: 'boolean' },
    out: { type: 'string' },
    'timeout-s': { type: 'string' },
    help: { type: 'boolean' },
  };
  // Every suite's options are parsed here, so a mistyped one fails before anything runs.
  const suites = await Promise.all(SUITES.map((s) => s.load()));
  for (const s of suites) Object.assign(options, s.options);
  const { values } = parseArgs({ options, strict: true });
  const timeoutS = values['timeout-s'] === undefined ? DEFAULT_RUN_TIMEOUT_S : Number(values['timeout-s']);
  if (!Number.isFinite(timeoutS) || timeoutS <= 0) throw new Error('--timeout-s must be a positive number');
  // A suite past the deadline is stopped by its call's timeout below, which lets its process shut
  // down the workers it started; this is the backstop for a hang anywhere else.
  const deadline = setTimeout(
    () => {
      log(`bench: not finished after ${timeoutS} s; giving up`);
      process.exit(1);
    },
    timeoutS * 1000 + STOP_BACKSTOP_MS,
  );
  deadline.unref();
  if (values.help) {
    log(
      `npm run bench -- [--only SUITE]... [--no-pin] [--out FILE] [--timeout-s S] [suite options]\n` +
        suites
          .map(
            (s) =>
              `  ${s.name}: ${s.description}; options: ${Object.keys(s.options)
                .map((o) => `--${o}`)
                .join(' ')}`,
          )
          .join('\n'),
    );
    return;
  }
  const only = (values.only as string[] | undefined) ?? suites.map((s) => s.name);
  for (const name of only)
    if (!suites.some((s) => s.name === name))
      throw new Error(`--only: no suite ${name} (there are: ${suites.map((s) => s.name).join(', ')})`);
  const pinning = choosePinning(values['no-pin'] === true);
  const cpuInfo = cpus();
  const report: Record<string, unknown> & { suites: Record<string, unknown> } = {
    date: new Date().toISOString(),
    commit: gitCommit(),
    machine: {
      cpus: availableParallelism(),
      cpuModel: cpuInfo[0]?.model ?? 'unknown',
      memoryMB: Math.round(totalmem() / 2 ** 20),
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
      // Other work on the machine when the run began: a busy machine makes noisy tails.
      loadAverage1m: loadavg()[0],
    },
    pinning,
    suites: {},
  };
  const tables: string[] = [];
  const runEnds = Date.now() + timeoutS * 1000;
  for (const suite of suites) {
    if (!only.includes(suite.name)) continue;
    const started = performance.now();
    const worker = await spawnWorker<{ run(arg: SuiteRun): Promise<SuiteOutcome> }>(
      `bench:${suite.name}`,
      'bench/suite-worker.ts',
      undefined,
    );
    let outcome: SuiteOutcome;
    try {
      outcome = await worker.call(
        'run',
        { name: suite.name, pinning, options: values as Record<string, string | boolean | undefined> },
        Math.max(1, runEnds - Date.now()),
      );
    } finally {
      await worker.stop();
    }
    report.suites[suite.name] = {
      ...outcome.report,
      durationS: Math.round((performance.now() - started) / 100) / 10,
    };
    tables.push(...outcome.table, '');
  }
  const out =
    typeof values.out === 'string' ? values.out : join(REPO_ROOT, 'bench', 'results', 'latest.json');
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`${tables.join('\n')}\nreport: ${out}\n`);
}

try {
  await main();
  // Kafka clients and sockets may keep timers; the report is written, so leave now.
  process.exit(0);
} catch (err) {
  log(`bench failed: ${(err as Error).stack ?? String(err)}`);
  process.exit(1);
}
