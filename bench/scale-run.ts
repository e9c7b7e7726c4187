import { execFileSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_CLUSTER, findHaproxy, startHaproxy, type RunningHaproxy } from '@appliance/haproxy';
import { freePort, type TestCert } from '@appliance/test-kit';
import { calibrate } from './clock.js';
import type { Measurement } from './fanout-run.js';
import { spawnWorker, type Worker } from './ipc.js';
import type { LoadApi } from './load-proc.js';
import { phaseLoad, processCpuUs, rssBytes, sample } from './procstat.js';
import { BENCH_STREAM, type BenchSignals, type PublishRange } from './publisher.js';
import type { ServerApi } from './server-proc.js';
import type { SuiteContext } from './suite.js';

export type ScaleConfigName = 'gateway-haproxy' | 'bare-ws-haproxy' | 'gateway' | 'bare-ws';

export interface ScaleConfiguration {
  name: ScaleConfigName;
  server: 'gateway' | 'bare';
  /** Devices reach the server through HAProxy (TLS terminated there). */
  haproxy: boolean;
  /**
   * HAProxy sends a PROXY v2 header on every connection to the server (`proxyProtocol` in the
   * cluster description) and the gateway expects it. Only with HAProxy, and only to the gateway:
   * the bare server cannot parse it.
   */
  proxyProtocol: boolean;
}

export const SCALE_CONFIGURATIONS: ScaleConfiguration[] = [
  { name: 'gateway-haproxy', server: 'gateway', haproxy: true, proxyProtocol: true },
  { name: 'bare-ws-haproxy', server: 'bare', haproxy: true, proxyProtocol: false },
  { name: 'gateway', server: 'gateway', haproxy: false, proxyProtocol: false },
  { name: 'bare-ws', server: 'bare', haproxy: false, proxyProtocol: false },
];

export interface ScaleConfig {
  /** Device counts, each measured with every configuration. */
  devices: number[];
  warmup: number;
  messages: number;
  ratePerSec: number;
  /**
   * Deliveries in the burst: `burstMessages(devices)` signals back to back, so the burst is about
   * the same size in deliveries (and in the gateway's time on it) at every device count.
   */
  burstDeliveries: number;
  rounds: number;
  /** Clients connected at a time; each batch is ready before the next starts. */
  batchSize: number;
  /** HAProxy's health-check interval, also its check timeout (three misses mark the gateway DOWN). */
  healthCheckIntervalMs: number;
  configs: ScaleConfigName[];
}

/** What every run shares: signals, enough device tokens for the largest count, the certificate. */
export interface ScaleShared {
  config: ScaleConfig;
  signals: BenchSignals;
  devices: { id: string; token: string }[];
  tokenKey: string;
  /** The feed's public key the gateway pins (it relays only signals signed with it). */
  signalKey: string;
  cert: TestCert;
  /** Scratch folder for HAProxy's config, admin socket and wrapper. */
  dir: string;
}

/** Signals in the burst at `devices` devices: enough for `burstDeliveries`, at least 1 (0: none). */
export function burstMessages(config: Pick<ScaleConfig, 'burstDeliveries'>, devices: number): number {
  return config.burstDeliveries === 0 ? 0 : Math.max(1, Math.ceil(config.burstDeliveries / devices));
}

/** Connections HAProxy may hold beyond the clients: health checks, the admin socket, slack. */
const MAX_CONN_SLACK = 500;

/**
 * HAProxy's `maxConn` for `devices` clients: the clients plus some slack, not the description's
 * default (20,000). HAProxy sizes its descriptor table at 2 × maxconn and refuses to start when
 * `ulimit -n` is lower ("Cannot raise FD limit to 40026, limit is 20000"), as it is here.
 */
export function haproxyMaxConn(devices: number): number {
  return devices + MAX_CONN_SLACK;
}

/** Throws a clear error when HAProxy could not hold `devices` clients under this `ulimit -n`. */
export function checkOpenFiles(devices: number): void {
  const maxConn = haproxyMaxConn(devices);
  const fds = openFilesLimit();
  // HAProxy sizes its descriptor table as 2 × maxconn plus a few dozen for itself.
  if (fds !== null && 2 * maxConn + 100 > fds)
    throw new Error(
      `${devices} devices need HAProxy maxConn ${maxConn}, about ${2 * maxConn + 100} open files; ` +
        `ulimit -n is ${fds}: raise it or use fewer --scale-devices`,
    );
}

/** The open-files limit HAProxy inherits from this process, or null if it cannot be read. */
export function openFilesLimit(): number | null {
  try {
    const v = execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim();
    return v === 'unlimited' ? Infinity : Number(v);
  } catch {
    return null;
  }
}

export interface HaproxyFigures {
  pid: number;
  affinity: string;
  /** Threads HAProxy runs (it starts one per CPU it may use). */
  nbthread: number | null;
  maxConn: number;
  maxConnPerSource: number;
  connRatePerSourcePer10s: number;
  /** Sessions HAProxy holds and sources in its per-source table once every client is ready. */
  currentConnections: number | null;
  trackedSources: number | null;
  steadyCpuUs: number;
  burstCpuUs: number;
  /** Failed health checks and UP→DOWN transitions of the server during the run (should be 0). */
  checkFailures: number | null;
  checkDowns: number | null;
}

/**
 * Resident memory (VmRSS) in bytes: before the clients connected, once they all are ready, and at
 * the end. The server is asked for a full garbage collection before the first two readings.
 */
export interface RssFigures {
  serverBefore: number | null;
  serverConnected: number | null;
  serverEnd: number | null;
  haproxyBefore: number | null;
  haproxyConnected: number | null;
  haproxyEnd: number | null;
}

/**
 * One run, in fanout's terms (`steadyServerCpuUs` and `burstServerCpuUs` are the serving side:
 * the server process plus HAProxy when it is in the path), plus what scale adds.
 */
export interface ScaleMeasurement extends Measurement {
  devices: number;
  haproxy: HaproxyFigures | null;
  rss: RssFigures;
  steadyMs: number;
  steadyLoadCpuUs: number;
  /** The server process alone over the bursts (HAProxy's share is in `haproxy.burstCpuUs`). */
  burstServerOnlyCpuUs: number;
}

const START_TIMEOUT_MS = 60_000;
const HAPROXY_UP_TIMEOUT_MS = 30_000;
const WARMUP_DRAIN_MS = 15_000;
const STEADY_DRAIN_MS = 10_000;
/** The burst's bound grows with its deliveries: 30 s, plus 1 s per 20,000 (a slow path's pace). */
const burstDrainMs = (deliveries: number) => 30_000 + deliveries / 20;
/** Pause before reading RSS, so allocations of the step just done have landed. */
const SETTLE_MS = 500;
/** HAProxy's name for the one server behind it (the gateway, or the bare server). */
const GATEWAY_NAME = 'gw-1';

/** Connecting is bounded by count: TLS handshakes through one core take about a millisecond each. */
function connectTimeoutMs(devices: number): number {
  return 30_000 + devices * 20;
}

function affinityOf(pid: number): string {
  try {
    const out = execFileSync('taskset', ['-cp', String(pid)], { encoding: 'utf8' });
    return out.split(':').at(-1)!.trim();
  } catch {
    return 'unknown';
  }
}

/** What the log calls the server behind HAProxy. */
/** What `publishPhases` measured: when each signal was published, and the clocks' offsets. */
export interface PublishedPhases<C> {
  publishTimes: Float64Array;
  clockSkewMs: number;
  clockUncertaintyMs: number;
  /** `cpus()` before the steady phase, after it, and after the burst. */
  cpu: [C, C, C];
}

/**
 * The measured part of a fan-out run, shared by the `scale` and `tunnel` suites: both workers'
 * clocks calibrated, then warm-up, steady phase and burst, each published by the server worker and
 * drained by the load worker, with `cpus()` sampled between them.
 */
export async function publishPhases<C>(o: {
  srv: Worker<ServerApi>;
  load: Worker<LoadApi>;
  /** Signals in the warm-up, the steady phase and the burst. */
  warmup: number;
  messages: number;
  burst: number;
  ratePerSec: number;
  /** How long the load worker may take to receive the burst (it grows with the deliveries). */
  burstDrainMs: number;
  cpus: () => Promise<C>;
  log: (message: string) => void;
  label: string;
}): Promise<PublishedPhases<C>> {
  const { srv, load: l, warmup: W, messages: N, burst: B } = o;
  const total = W + N + B;
  const loadClock = await calibrate(() => l.call('now', undefined));
  const pubClock = await calibrate(() => srv.call('now', undefined));
  const publishTimes = new Float64Array(total).fill(NaN);
  const phase = async (range: PublishRange, drainMs: number) => {
    const publishMs = range.ratePerSec ? ((range.to - range.from) / range.ratePerSec) * 1000 : 0;
    const t = await srv.call('publish', range, publishMs + 30_000);
    t.forEach((v, k) => (publishTimes[range.from + k] = v));
    const done = await l.call('waitReceived', { count: range.to, timeoutMs: drainMs }, drainMs + 5_000);
    if (!done.complete)
      o.log(`  ${o.label}: after messages ${range.from}..${range.to}, a client has only ${done.minReceived}`);
  };
  await phase({ from: 0, to: W, ratePerSec: o.ratePerSec }, WARMUP_DRAIN_MS);
  const c0 = await o.cpus();
  await phase({ from: W, to: W + N, ratePerSec: o.ratePerSec }, STEADY_DRAIN_MS);
  const c1 = await o.cpus();
  if (B > 0) await phase({ from: W + N, to: total, ratePerSec: null }, o.burstDrainMs);
  const c2 = await o.cpus();
  return {
    publishTimes,
    clockSkewMs: loadClock.offsetMs - pubClock.offsetMs,
    clockUncertaintyMs: loadClock.uncertaintyMs + pubClock.uncertaintyMs,
    cpu: [c0, c1, c2],
  };
}

export const serverWord = (c: Pick<ScaleConfiguration, 'server'>): string =>
  c.server === 'gateway' ? 'gateway' : 'bare server';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * HAProxy started from a cluster description with `startHaproxy`, on the server's core when
 * pinning is used: it is spawned through a wrapper that execs it under taskset, so it starts
 * there and sizes its thread count (one per allowed CPU) accordingly. `proxyProtocol`: send
 * PROXY v2 to the server (the gateway), or not (the bare server).
 */
async function startPinnedHaproxy(
  shared: ScaleShared,
  devices: number,
  serverPort: number,
  cpu: number | undefined,
  proxyProtocol: boolean,
): Promise<{ haproxy: RunningHaproxy; url: string; maxConn: number }> {
  const port = await freePort();
  const maxConn = haproxyMaxConn(devices);
  checkOpenFiles(devices);
  const real = findHaproxy();
  if (!real) throw new Error('haproxy is not installed: apt-get install haproxy');
  let bin = real;
  if (cpu !== undefined) {
    bin = join(shared.dir, 'haproxy-pinned');
    writeFileSync(bin, `#!/bin/sh\nexec taskset -c ${cpu} '${real}' "$@"\n`);
    chmodSync(bin, 0o755);
  }
  const saved = process.env.HAPROXY_BIN;
  process.env.HAPROXY_BIN = bin;
  try {
    const haproxy = await startHaproxy(
      {
        gateways: [{ name: GATEWAY_NAME, host: '127.0.0.1', port: serverPort }],
        bind: { host: '127.0.0.1', port },
        tls: { certFile: shared.cert.pemFile },
        // Per-source limits stay at their defaults: every client has its own source address.
        limits: { maxConn },
        timeouts: { healthCheckIntervalMs: shared.config.healthCheckIntervalMs },
        stats: { socket: join(shared.dir, 'admin.sock') },
        proxyProtocol,
      },
      shared.dir,
    );
    return { haproxy, url: `wss://127.0.0.1:${port}`, maxConn };
  } finally {
    if (saved === undefined) delete process.env.HAPROXY_BIN;
    else process.env.HAPROXY_BIN = saved;
  }
}

/** A number after `key:` in HAProxy's `show info` or `show table` answer. */
function field(text: string, key: string): number | null {
  const m = new RegExp(`${key}:\\s*(\\d+)`).exec(text);
  return m ? Number(m[1]) : null;
}

/**
 * One configuration at one device count, from fresh processes: the server (with the embedded
 * bus and its publisher) on the server core, HAProxy on the same core when in the path, the
 * clients on the load core. Phases as in fanout: warm-up, steady rate (latency), burst.
 */
export async function runScaleConfiguration(
  c: ScaleConfiguration,
  count: number,
  shared: ScaleShared,
  ctx: SuiteContext,
): Promise<ScaleMeasurement> {
  const { config, signals } = shared;
  const W = config.warmup;
  const N = config.messages;
  const B = burstMessages(config, count);
  const total = W + N + B;
  const label = `${c.name}@${count}`;
  let server: Worker<ServerApi> | undefined;
  let load: Worker<LoadApi> | undefined;
  let haproxy: RunningHaproxy | undefined;
  try {
    const srv = (server = await spawnWorker<ServerApi>(
      `server:${label}`,
      'bench/server-proc.ts',
      ctx.pinning.serverCpu,
    ));
    const l = (load = await spawnWorker<LoadApi>(`load:${label}`, 'bench/load-proc.ts', ctx.pinning.loadCpu));
    const { url: serverUrl } = await srv.call(
      'start',
      {
        server: c.server,
        bus: { kind: 'embedded' },
        tokenKey: shared.tokenKey,
        signalKey: shared.signalKey,
        stream: BENCH_STREAM,
        signals: signals.raw.slice(0, total),
        proxyProtocol: c.proxyProtocol,
      },
      START_TIMEOUT_MS,
    );
    let url = serverUrl;
    let maxConn = 0;
    if (c.haproxy) {
      const started = await startPinnedHaproxy(
        shared,
        count,
        Number(new URL(serverUrl).port),
        ctx.pinning.serverCpu,
        c.proxyProtocol,
      );
      haproxy = started.haproxy;
      url = started.url;
      maxConn = started.maxConn;
      const t0 = performance.now();
      await haproxy.waitFor('UP', [GATEWAY_NAME], HAPROXY_UP_TIMEOUT_MS);
      ctx.log(
        `  ${label}: HAProxy up, ${serverWord(c)} UP after ${((performance.now() - t0) / 1000).toFixed(1)} s`,
      );
    }
    const hp = haproxy;
    const hpPid = hp?.process.pid;
    const affinity = { server: affinityOf(srv.pid), load: affinityOf(l.pid) };

    await srv.call('gc', undefined);
    await sleep(SETTLE_MS);
    const rss: RssFigures = {
      serverBefore: rssBytes(srv.pid),
      serverConnected: null,
      serverEnd: null,
      haproxyBefore: hpPid === undefined ? null : rssBytes(hpPid),
      haproxyConnected: null,
      haproxyEnd: null,
    };

    const timeoutMs = connectTimeoutMs(count);
    const { connectMs } = await l.call(
      'connect',
      {
        url,
        devices: shared.devices.slice(0, count),
        ids: signals.ids.slice(0, total),
        readyOn: c.server === 'gateway' ? 'caught-up' : 'open',
        timeoutMs,
        ...(c.haproxy ? { ca: shared.cert.certPem } : {}),
        distinctSources: true,
        batchSize: config.batchSize,
      },
      timeoutMs + 5_000,
    );
    ctx.log(`  ${label}: ${count} clients ready in ${(connectMs / 1000).toFixed(1)} s`);
    await srv.call('gc', undefined);
    await sleep(SETTLE_MS);
    rss.serverConnected = rssBytes(srv.pid);
    if (hpPid !== undefined) rss.haproxyConnected = rssBytes(hpPid);
    let currentConnections: number | null = null;
    let trackedSources: number | null = null;
    let nbthread: number | null = null;
    if (hp) {
      const info = await hp.admin('show info');
      currentConnections = field(info, 'CurrConns');
      nbthread = field(info, 'Nbthread');
      trackedSources = field(await hp.admin('show table fe_devices'), 'used');
    }

    const cpus = async () => {
      const server = await srv.call('cpu', undefined);
      const load = await l.call('cpu', undefined);
      const proxy = hpPid === undefined ? 0 : (processCpuUs(hpPid) ?? 0);
      return { server, load, proxy, machine: sample(server + load + proxy) };
    };
    const { publishTimes, clockSkewMs, clockUncertaintyMs, cpu } = await publishPhases({
      srv,
      load: l,
      warmup: W,
      messages: N,
      burst: B,
      ratePerSec: config.ratePerSec,
      burstDrainMs: burstDrainMs(B * count),
      cpus,
      log: ctx.log,
      label,
    });
    const [cpu0, cpu1, cpu2] = cpu;
    rss.serverEnd = rssBytes(srv.pid);
    if (hpPid !== undefined) rss.haproxyEnd = rssBytes(hpPid);
    const receptions = await l.call('receptions', undefined);
    const gw = await srv.call('stats', undefined);
    let checkFailures: number | null = null;
    let checkDowns: number | null = null;
    if (hp) {
      const st = (await hp.serverStats())[GATEWAY_NAME] ?? {};
      checkFailures = st.chkfail ? Number(st.chkfail) : null;
      checkDowns = st.chkdown ? Number(st.chkdown) : null;
      if (checkDowns)
        ctx.log(
          `  ${label}: HAProxy marked the ${serverWord(c)} DOWN ${checkDowns} time(s) and cut its devices ` +
            `(${checkFailures ?? '?'} failed checks; last: ${st.check_status} ${st.last_chk})`,
        );
    }
    return {
      devices: count,
      publishTimes,
      receptions,
      connectMs,
      affinity,
      clockSkewMs,
      clockUncertaintyMs,
      steadyServerCpuUs: cpu1.server - cpu0.server + (cpu1.proxy - cpu0.proxy),
      burstServerCpuUs: cpu2.server - cpu1.server + (cpu2.proxy - cpu1.proxy),
      burstServerOnlyCpuUs: cpu2.server - cpu1.server,
      burstLoadCpuUs: cpu2.load - cpu1.load,
      steadyLoadCpuUs: cpu1.load - cpu0.load,
      steadyMs: cpu1.machine.at - cpu0.machine.at,
      machineLoad: {
        steady: phaseLoad(cpu0.machine, cpu1.machine),
        burst: phaseLoad(cpu1.machine, cpu2.machine),
      },
      gateway: gw && { relayed: gw.relayed, dropped: gw.dropped },
      haproxy:
        hp && hpPid !== undefined
          ? {
              pid: hpPid,
              affinity: affinityOf(hpPid),
              nbthread,
              maxConn,
              maxConnPerSource: DEFAULT_CLUSTER.limits.maxConnPerSource,
              connRatePerSourcePer10s: DEFAULT_CLUSTER.limits.connRatePerSourcePer10s,
              currentConnections,
              trackedSources,
              checkFailures,
              checkDowns,
              steadyCpuUs: cpu1.proxy - cpu0.proxy,
              burstCpuUs: cpu2.proxy - cpu1.proxy,
            }
          : null,
      rss,
    };
  } finally {
    await load?.call('close', undefined, 10_000).catch(() => {});
    await load?.stop();
    await haproxy?.stop();
    await server
      ?.call('stop', undefined, 15_000)
      .catch((err: unknown) => ctx.log(`  ${label}: stop: ${String(err)}`));
    await server?.stop();
  }
}
