import { execFileSync } from 'node:child_process';
import { createKafkaBus, type KafkaBus } from '@appliance/protocol/kafka';
import { startKafkaMock, type KafkaMock } from '@appliance/test-kit';
import type { Receptions } from './clients.js';
import { calibrate, now } from './clock.js';
import { spawnWorker, type Worker } from './ipc.js';
import type { LoadApi } from './load-proc.js';
import { phaseLoad, sample, type PhaseLoad } from './procstat.js';
import { BENCH_STREAM, Publisher, type BenchSignals, type PublishRange } from './publisher.js';
import type { ServerApi } from './server-proc.js';
import type { SuiteContext } from './suite.js';

export type ConfigName = 'gateway-embedded' | 'bare-ws' | 'gateway-kafka' | 'bare-ws-kafka';

export interface Configuration {
  name: ConfigName;
  server: 'gateway' | 'bare';
  bus: 'embedded' | 'kafka';
}

export const CONFIGURATIONS: Configuration[] = [
  { name: 'gateway-embedded', server: 'gateway', bus: 'embedded' },
  { name: 'bare-ws', server: 'bare', bus: 'embedded' },
  { name: 'gateway-kafka', server: 'gateway', bus: 'kafka' },
  { name: 'bare-ws-kafka', server: 'bare', bus: 'kafka' },
];

export interface FanoutConfig {
  clients: number;
  warmup: number;
  messages: number;
  ratePerSec: number;
  burst: number;
  rounds: number;
  /** kafkajs fetch wait; librdkafka's mock cluster always waits this long before answering. */
  kafkaFetchMaxWaitMs: number;
  configs: ConfigName[];
}

/** What every configuration run shares: the same signals, devices and token key. */
export interface Shared {
  config: FanoutConfig;
  signals: BenchSignals;
  devices: { id: string; token: string }[];
  tokenKey: string;
  /** The feed's public key the gateway pins (it relays only signals signed with it). */
  signalKey: string;
}

/** One run of one configuration, unanalysed. Message i was published at `publishTimes[i]`. */
export interface Measurement {
  publishTimes: Float64Array;
  receptions: Receptions;
  connectMs: number;
  affinity: { server: string; load: string };
  /** Load generator's clock minus the publisher's, measured over IPC (see clock.ts). */
  clockSkewMs: number;
  clockUncertaintyMs: number;
  /** CPU time of the server process in each phase, in µs, and of the clients in the burst. */
  steadyServerCpuUs: number;
  burstServerCpuUs: number;
  burstLoadCpuUs: number;
  machineLoad: { steady: PhaseLoad | null; burst: PhaseLoad | null };
  gateway: { relayed: number; dropped: number } | null;
}

/** Bounds on each step, so a stuck configuration fails the run instead of hanging it. */
const CONNECT_TIMEOUT_MS = 30_000;
const START_TIMEOUT_MS = 60_000;
const WARMUP_DRAIN_MS = 10_000;
const STEADY_DRAIN_MS = 5_000;
const BURST_DRAIN_MS = 30_000;

function affinityOf(pid: number): string {
  try {
    const out = execFileSync('taskset', ['-cp', String(pid)], { encoding: 'utf8' });
    return out.split(':').at(-1)!.trim();
  } catch {
    return 'unknown';
  }
}

/**
 * One configuration, from fresh processes: server (and, on the embedded bus, the publisher) in
 * one, the clients in another, and on Kafka a fresh mock cluster with this process as the feed.
 * Phases: warm-up (not measured), steady rate (latency), burst (throughput).
 */
export async function runConfiguration(
  c: Configuration,
  shared: Shared,
  ctx: SuiteContext,
): Promise<Measurement> {
  const { config, signals } = shared;
  const W = config.warmup;
  const N = config.messages;
  const total = W + N + config.burst;
  let kafka: KafkaMock | undefined;
  let feedBus: KafkaBus | undefined;
  let server: Worker<ServerApi> | undefined;
  let load: Worker<LoadApi> | undefined;
  try {
    if (c.bus === 'kafka') kafka = await startKafkaMock();
    const srv = (server = await spawnWorker<ServerApi>(
      `server:${c.name}`,
      'bench/server-proc.ts',
      ctx.pinning.serverCpu,
    ));
    const l = (load = await spawnWorker<LoadApi>(
      `load:${c.name}`,
      'bench/load-proc.ts',
      ctx.pinning.loadCpu,
    ));
    const affinity = { server: affinityOf(srv.pid), load: affinityOf(l.pid) };
    const { url } = await srv.call(
      'start',
      {
        server: c.server,
        bus: kafka
          ? { kind: 'kafka', brokers: kafka.brokers, fetchMaxWaitMs: config.kafkaFetchMaxWaitMs }
          : { kind: 'embedded' },
        tokenKey: shared.tokenKey,
        signalKey: shared.signalKey,
        stream: BENCH_STREAM,
        signals: kafka ? [] : signals.raw.slice(0, total),
      },
      START_TIMEOUT_MS,
    );

    // With Kafka the feed is its own process (this one), as a datafeed node would be.
    let publish: (r: PublishRange) => Promise<number[]>;
    let publisherNow: () => Promise<number>;
    if (kafka) {
      feedBus = createKafkaBus({ brokers: kafka.brokers, clientId: 'bench-feed', idempotent: false });
      const p = new Publisher(feedBus, signals.raw);
      publish = (r) => p.publish(r);
      publisherNow = async () => now();
    } else {
      // The call lasts as long as the range takes at its rate, plus the acknowledgements.
      publish = (r) =>
        srv.call('publish', r, (r.ratePerSec ? ((r.to - r.from) / r.ratePerSec) * 1000 : 0) + 30_000);
      publisherNow = () => srv.call('now', undefined);
    }

    const { connectMs } = await l.call(
      'connect',
      {
        url,
        devices: shared.devices,
        ids: signals.ids.slice(0, total),
        readyOn: c.server === 'gateway' ? 'caught-up' : 'open',
        timeoutMs: CONNECT_TIMEOUT_MS,
      },
      CONNECT_TIMEOUT_MS + 5_000,
    );
    const loadClock = await calibrate(() => l.call('now', undefined));
    const pubClock = await calibrate(publisherNow);

    const publishTimes = new Float64Array(total).fill(NaN);
    const phase = async (range: PublishRange, drainMs: number) => {
      const t = await publish(range);
      t.forEach((v, k) => (publishTimes[range.from + k] = v));
      const done = await l.call('waitReceived', { count: range.to, timeoutMs: drainMs }, drainMs + 5_000);
      if (!done.complete)
        ctx.log(
          `  ${c.name}: after messages ${range.from}..${range.to}, a client has only ${done.minReceived}`,
        );
    };
    const cpus = async () => {
      const server = await srv.call('cpu', undefined);
      const load = await l.call('cpu', undefined);
      return { server, load, machine: sample(server + load) };
    };

    ctx.log(`  ${c.name}: ${config.clients} clients ready in ${connectMs.toFixed(0)} ms`);
    await phase({ from: 0, to: W, ratePerSec: config.ratePerSec }, WARMUP_DRAIN_MS);
    const cpu0 = await cpus();
    await phase({ from: W, to: W + N, ratePerSec: config.ratePerSec }, STEADY_DRAIN_MS);
    const cpu1 = await cpus();
    if (config.burst > 0) await phase({ from: W + N, to: total, ratePerSec: null }, BURST_DRAIN_MS);
    const cpu2 = await cpus();
    const receptions = await l.call('receptions', undefined);
    const gw = await srv.call('stats', undefined);
    return {
      publishTimes,
      receptions,
      connectMs,
      affinity,
      clockSkewMs: loadClock.offsetMs - pubClock.offsetMs,
      clockUncertaintyMs: loadClock.uncertaintyMs + pubClock.uncertaintyMs,
      steadyServerCpuUs: cpu1.server - cpu0.server,
      burstServerCpuUs: cpu2.server - cpu1.server,
      burstLoadCpuUs: cpu2.load - cpu1.load,
      machineLoad: {
        steady: phaseLoad(cpu0.machine, cpu1.machine),
        burst: phaseLoad(cpu1.machine, cpu2.machine),
      },
      gateway: gw && { relayed: gw.relayed, dropped: gw.dropped },
    };
  } finally {
    await load?.call('close', undefined, 5_000).catch(() => {});
    await load?.stop();
    await server
      ?.call('stop', undefined, 15_000)
      .catch((err: unknown) => ctx.log(`  ${c.name}: stop: ${String(err)}`));
    await server?.stop();
    await feedBus?.close();
    await kafka?.stop();
  }
}
