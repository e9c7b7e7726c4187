import type { FanoutConfig, Measurement } from './fanout-run.js';
import type { PhaseLoad } from './procstat.js';
import { median, round, summarize } from './stats.js';

export interface BurstResult {
  /** Messages per burst, and deliveries expected and made over every round. */
  messages: number;
  delivered: number;
  lost: number;
  /** Deliveries per second, first publish to last reception: the median round, then each. */
  msgsPerSec: number;
  msgsPerSecRounds: number[];
  durationMsRounds: number[];
  /** Latency under the burst: mostly queueing, shown for completeness. */
  p50: number;
  p99: number;
  max: number;
  /** Server CPU time over every burst ÷ deliveries: the server's cost, whoever set the pace. */
  serverCpuUsPerDelivery: number;
  /** CPU time ÷ burst duration (median round): near 1 means that process set the pace. */
  serverBusy: number;
  loadBusy: number;
}

export interface ConfigResult {
  rounds: number;
  /** Publish-to-client latency in ms over every client and steady-phase message of every round. */
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
  min: number;
  delivered: number;
  lost: number;
  /** Deliveries per second in the steady phase: the offered load (clients × rate) unless it lags. */
  msgsPerSec: number;
  serverCpuUsPerDelivery: number;
  warmupLost: number;
  duplicates: number;
  unknownFrames: number;
  clientsDropped: number;
  connectMs: number;
  burst: BurstResult | null;
  /** Largest |skew| between the publisher's and the clients' clocks, and its uncertainty. */
  clockSkewMs: number;
  clockUncertaintyMs: number;
  affinity: { server: string; load: string };
  gateway: { relayed: number; dropped: number } | null;
  /** Cores busy in each phase of each round, ours and others' (/proc/stat). */
  machineLoad: { steady: PhaseLoad | null; burst: PhaseLoad | null }[];
  /** The most any other work used during a steady phase, in cores: a noisy neighbour shows here. */
  otherCores: number | null;
}

/** Latencies of messages from..to over every client of one run; missing ones count as lost. */
function phase(m: Measurement, from: number, to: number) {
  const rec = m.receptions;
  const latencies: number[] = [];
  let lost = 0;
  let lastRecv = -Infinity;
  for (let c = 0; c < rec.clients; c++) {
    for (let i = from; i < to; i++) {
      const r = rec.times[c * rec.messages + i]!;
      if (Number.isNaN(r)) {
        lost++;
        continue;
      }
      latencies.push(r - m.publishTimes[i]!);
      if (r > lastRecv) lastRecv = r;
    }
  }
  return { latencies, lost, spanMs: lastRecv - m.publishTimes[from]! };
}

const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);

/** Pools the rounds of one configuration into one result. */
export function analyse(
  config: Pick<FanoutConfig, 'warmup' | 'messages' | 'burst'>,
  runs: Measurement[],
): ConfigResult {
  const W = config.warmup;
  const N = config.messages;
  const B = config.burst;
  const warm = runs.map((m) => phase(m, 0, W));
  const steady = runs.map((m) => phase(m, W, W + N));
  const latencies = steady.flatMap((p) => p.latencies);
  const s = summarize(latencies);

  let burst: BurstResult | null = null;
  if (B > 0) {
    const bursts = runs.map((m) => phase(m, W + N, W + N + B));
    const bl = bursts.flatMap((p) => p.latencies);
    const bs = summarize(bl);
    const rate = bursts.map((p) => p.latencies.length / (p.spanMs / 1000));
    burst = {
      messages: B,
      delivered: bl.length,
      lost: sum(bursts.map((p) => p.lost)),
      msgsPerSec: Math.round(median(rate)),
      msgsPerSecRounds: rate.map(Math.round),
      durationMsRounds: bursts.map((p) => round(p.spanMs, 1)),
      p50: round(bs.p50),
      p99: round(bs.p99),
      max: round(bs.max),
      serverCpuUsPerDelivery: round(sum(runs.map((m) => m.burstServerCpuUs)) / bl.length),
      serverBusy: round(median(runs.map((m, i) => m.burstServerCpuUs / 1000 / bursts[i]!.spanMs)), 2),
      loadBusy: round(median(runs.map((m, i) => m.burstLoadCpuUs / 1000 / bursts[i]!.spanMs)), 2),
    };
  }

  const others = runs.map((m) => m.machineLoad.steady?.otherCores).filter((v) => v !== undefined);
  const skews = runs.map((m) => m.clockSkewMs);
  return {
    rounds: runs.length,
    p50: round(s.p50),
    p90: round(s.p90),
    p99: round(s.p99),
    max: round(s.max),
    mean: round(s.mean),
    min: round(s.min),
    delivered: latencies.length,
    lost: sum(steady.map((p) => p.lost)),
    msgsPerSec: Math.round(latencies.length / (sum(steady.map((p) => p.spanMs)) / 1000)),
    serverCpuUsPerDelivery: round(sum(runs.map((m) => m.steadyServerCpuUs)) / latencies.length),
    warmupLost: sum(warm.map((p) => p.lost)),
    duplicates: sum(runs.map((m) => m.receptions.duplicates)),
    unknownFrames: sum(runs.map((m) => m.receptions.unknown)),
    clientsDropped: sum(runs.map((m) => m.receptions.dropped)),
    connectMs: round(median(runs.map((m) => m.connectMs)), 1),
    burst,
    clockSkewMs: round(skews.reduce((a, b) => (Math.abs(b) > Math.abs(a) ? b : a), 0)),
    clockUncertaintyMs: round(Math.max(...runs.map((m) => m.clockUncertaintyMs))),
    affinity: runs[0]!.affinity,
    gateway: runs.every((m) => m.gateway)
      ? {
          relayed: sum(runs.map((m) => m.gateway!.relayed)),
          dropped: sum(runs.map((m) => m.gateway!.dropped)),
        }
      : null,
    machineLoad: runs.map((m) => m.machineLoad),
    otherCores: others.length ? Math.max(...others) : null,
  };
}
