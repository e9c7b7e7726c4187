/**
 * A process started by the `processes` bench, with its log lines and its memory: RSS from
 * /proc/PID/status and, for processes run by node, a probe (an `--import` of a data: URL) that
 * writes `process.memoryUsage()` and V8's heap spaces when sent SIGUSR2.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { randomBytes } from 'node:crypto';
import { REPO_ROOT } from './ipc.js';

/** How long a process may take to print what it is waited for, in ms. */
export const READY_TIMEOUT_MS = 60_000;

const PROBE = `
import { writeFileSync } from 'node:fs';
import v8 from 'node:v8';
process.on('SIGUSR2', () => writeFileSync(process.env.BENCH_MEMORY_FILE, JSON.stringify({
  memory: process.memoryUsage(),
  spaces: Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name, s.space_used_size])),
})));`;
export const PROBE_ARGS = ['--import', `data:text/javascript,${encodeURIComponent(PROBE)}`];

export interface Probe {
  memory: NodeJS.MemoryUsage;
  spaces: Record<string, number>;
}

export interface Sample {
  readyMs: number;
  rssMiB: number;
  /** RSS backed by files (the node binary or the executable, mapped; clean, reclaimable) and the rest. */
  fileMiB: number;
  anonMiB: number;
  hwmMiB: number;
  probe?: Probe;
}

/** A started process and its log lines (pino JSON on stdout), for ready checks and failures. */
export class Proc {
  readonly lines: string[] = [];
  readonly proc: ChildProcess;
  readonly started = performance.now();
  readonly exited: Promise<number | null>;
  readonly #memoryFile: string;

  constructor(cmd: string, args: string[], env: Record<string, string>, dir: string, cpu?: number) {
    this.#memoryFile = join(dir, `memory-${randomBytes(4).toString('hex')}.json`);
    const fullEnv = { ...process.env, LOG_LEVEL: 'info', BENCH_MEMORY_FILE: this.#memoryFile, ...env };
    // taskset execs the command in place: the pid is the process measured.
    this.proc =
      cpu === undefined
        ? spawn(cmd, args, { cwd: REPO_ROOT, env: fullEnv })
        : spawn('taskset', ['-c', String(cpu), cmd, ...args], { cwd: REPO_ROOT, env: fullEnv });
    createInterface({ input: this.proc.stdout! }).on('line', (l) => this.lines.push(l));
    createInterface({ input: this.proc.stderr! }).on('line', (l) => this.lines.push(l));
    this.exited = new Promise((resolve) => this.proc.once('exit', (code) => resolve(code)));
  }

  /** Resolves with the first JSON log line whose msg is `msg`; rejects if the process exits first. */
  log(msg: string): Promise<Record<string, unknown>> {
    return this.until(() => {
      for (const l of this.lines) {
        if (!l.startsWith('{')) continue;
        const parsed = JSON.parse(l) as Record<string, unknown>;
        if (parsed.msg === msg) return parsed;
      }
      return undefined;
    }, `log "${msg}"`);
  }

  async until<T>(check: () => T | undefined, what: string): Promise<T> {
    let exited = false;
    void this.exited.then(() => (exited = true));
    const deadline = performance.now() + READY_TIMEOUT_MS;
    for (;;) {
      const v = check();
      if (v !== undefined) return v;
      if (exited || performance.now() > deadline)
        throw new Error(
          `${what}: not seen (${exited ? 'exited' : 'timed out'}):\n${this.lines.slice(-10).join('\n')}`,
        );
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async memory(settleMs: number, probe: boolean): Promise<Omit<Sample, 'readyMs'>> {
    await new Promise((r) => setTimeout(r, settleMs));
    const status = readFileSync(`/proc/${this.proc.pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]);
    const out: Omit<Sample, 'readyMs'> = {
      rssMiB: kb('VmRSS') / 1024,
      fileMiB: kb('RssFile') / 1024,
      anonMiB: kb('RssAnon') / 1024,
      hwmMiB: kb('VmHWM') / 1024,
    };
    if (probe) {
      this.proc.kill('SIGUSR2');
      out.probe = await this.until(
        () =>
          existsSync(this.#memoryFile)
            ? (JSON.parse(readFileSync(this.#memoryFile, 'utf8')) as Probe)
            : undefined,
        'memory probe',
      );
    }
    return out;
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 5_000);
    await this.exited;
    clearTimeout(timer);
  }
}
