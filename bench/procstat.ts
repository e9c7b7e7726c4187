import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { now } from './clock.js';

/**
 * Where the machine's CPU time went during a phase, from Linux's /proc/stat. Latency tails on a
 * 2-core machine are mostly other work taking the core: this says whether the bench's own
 * processes or something else (another test run, kcat, the kernel's loopback softirq, the
 * hypervisor's steal) was busy, so a noisy run can be recognised as such.
 */
interface CpuTicks {
  busy: number;
  softirq: number;
  steal: number;
  total: number;
}

function readCpuTicks(): CpuTicks | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
    if (!line.startsWith('cpu ')) return null;
    // user nice system idle iowait irq softirq steal ...
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = line
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    return {
      busy: user + nice + system + irq + softirq + steal,
      softirq,
      steal,
      total: user + nice + system + idle + iowait + irq + softirq + steal,
    };
  } catch {
    return null;
  }
}

export interface Sample {
  at: number;
  ticks: CpuTicks | null;
  /** CPU time of the bench processes being measured, in µs. */
  benchCpuUs: number;
}

export function sample(benchCpuUs: number): Sample {
  return { at: now(), ticks: readCpuTicks(), benchCpuUs };
}

/** Machine load between two samples, in cores (2 = both cores fully busy). */
export interface PhaseLoad {
  /** Every core's non-idle time. */
  busyCores: number;
  /** The measured server and load generator processes. */
  benchCores: number;
  /** Everything else: the orchestrator, kcat, the kernel, other programs. */
  otherCores: number;
  softirqCores: number;
  stealCores: number;
}

export function phaseLoad(a: Sample, b: Sample): PhaseLoad | null {
  if (!a.ticks || !b.ticks) return null;
  const total = b.ticks.total - a.ticks.total;
  if (total <= 0) return null;
  const cores = availableParallelism();
  const share = (k: keyof CpuTicks) => ((b.ticks![k] - a.ticks![k]) / total) * cores;
  const busyCores = share('busy');
  const benchCores = (b.benchCpuUs - a.benchCpuUs) / 1000 / (b.at - a.at);
  const r = (v: number) => Math.round(v * 100) / 100;
  return {
    busyCores: r(busyCores),
    benchCores: r(benchCores),
    otherCores: r(Math.max(0, busyCores - benchCores)),
    softirqCores: r(share('softirq')),
    stealCores: r(share('steal')),
  };
}

/** Resident memory of process `pid` in bytes (VmRSS in /proc/<pid>/status), or null. */
export function rssBytes(pid: number): number | null {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** Linux's USER_HZ: /proc/<pid>/stat counts CPU time in these ticks (100 per second). */
const CLOCK_TICKS_PER_SEC = 100;

/**
 * CPU time (user + system, every thread) of another process, in µs, from /proc/<pid>/stat; for
 * processes that cannot be asked over IPC (HAProxy). Resolution 10 ms: fine over whole phases.
 */
export function processCpuUs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after "(comm) ".
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? (ticks / CLOCK_TICKS_PER_SEC) * 1e6 : null;
  } catch {
    return null;
  }
}
