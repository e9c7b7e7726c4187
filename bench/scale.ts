import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportPublicKey, generateSigner, issueDeviceToken } from '@appliance/protocol';
import { DEFAULT_CLUSTER } from '@appliance/haproxy';
import { makeTestCert, requireTool } from '@appliance/test-kit';
import { analyse, type ConfigResult } from './fanout-analysis.js';
import { BENCH_STREAM, makeSignals } from './publisher.js';
import {
  SCALE_CONFIGURATIONS,
  burstMessages,
  serverWord,
  checkOpenFiles,
  haproxyMaxConn,
  runScaleConfiguration,
  type HaproxyFigures,
  type RssFigures,
  type ScaleConfig,
  type ScaleConfigName,
  type ScaleMeasurement,
  type ScaleShared,
} from './scale-run.js';
import { median, ratio, round } from './stats.js';
import type { Suite, SuiteContext } from './suite.js';
import { fmt, formatTable } from './table.js';

/**
 * Fan-out at scale, the way devices reach it in production: 1,000 and 5,000 clients through
 * HAProxy (TLS terminated there, PROXY v2 to one gateway), next to the bare ws broadcast server
 * behind the same HAProxy (the like-for-like floor), the same gateway reached directly (the hop's
 * cost) and the bare server reached directly (the floor), in one run, fed the same pre-signed
 * signals on the embedded bus and measured by the same clients.
 */

const DEFAULTS = {
  'scale-warmup': 20,
  'scale-messages': 100,
  // Signals per second in the steady phase. At 10/s, 5,000 devices through HAProxy need more
  // than the one serving core (about 20-30 µs per delivery for gateway and HAProxy together), so
  // a queue builds and the latency says only how long the phase ran.
  'scale-rate': 5,
  // 100 signals back to back to 1,000 devices, 20 to 5,000. A burst blocks the gateway's event
  // loop until every signal is written to every device (the embedded bus hands them over without
  // yielding); 100 signals to 5,000 devices held it long enough, with HAProxy on the same core,
  // for three health checks to time out: HAProxy marked the gateway DOWN and cut every device.
  'scale-burst-deliveries': 100_000,
  'scale-rounds': 1,
  'scale-batch': 500,
  // The cluster description's default. At 200 ms, a core shared by gateway, HAProxy and anything
  // else on the machine misses three checks in a row under load; HAProxy then marks the gateway
  // DOWN and, by design (on-marked-down shutdown-sessions), cuts every device.
  'scale-check-ms': DEFAULT_CLUSTER.timeouts.healthCheckIntervalMs,
};
const DEFAULT_DEVICES = [1000, 5000];
/** Clients per run at most: each holds a socket in the load process and two in HAProxy. */
const MAX_DEVICES = 10_000;

/** DESIGN's target: publish-to-receive p99 under this at 1,000 devices through HAProxy. */
const P99_TARGET_MS = 50;
const P99_TARGET_DEVICES = 1000;
/** DESIGN's target: gateway throughput at least this share of a bare ws broadcast's. */
const THROUGHPUT_TARGET = 0.8;
/** The load generator's CPU share above which its own limit, not the server's, may set the pace. */
const CLIENTS_BUSY = 0.9;
/** Other programs' load (in cores) above which a run's tails are called noisy. */
const NOISY_OTHER_CORES = 0.3;

function intOption(ctx: SuiteContext, name: keyof typeof DEFAULTS, min: number, max: number): number {
  const raw = ctx.options[name];
  const v = raw === undefined ? DEFAULTS[name] : Number(raw);
  if (typeof raw === 'string' && raw.trim() === '')
    throw new Error(`--${name} must be an integer from ${min} to ${max} (got an empty value)`);
  if (!Number.isInteger(v) || v < min || v > max)
    throw new Error(`--${name} must be an integer from ${min} to ${max} (got ${String(raw)})`);
  return v;
}

function devicesOption(ctx: SuiteContext): number[] {
  const raw = ctx.options['scale-devices'];
  if (raw === undefined) return DEFAULT_DEVICES;
  const parts = String(raw).split(',');
  const out: number[] = [];
  for (const p of parts) {
    const v = Number(p.trim());
    if (p.trim() === '' || !Number.isInteger(v) || v < 1 || v > MAX_DEVICES)
      throw new Error(
        `--scale-devices must be a comma-separated list of integers from 1 to ${MAX_DEVICES} ` +
          `(got ${JSON.stringify(raw)}: ${JSON.stringify(p)} is not one)`,
      );
    if (out.includes(v)) throw new Error(`--scale-devices lists ${v} twice`);
    out.push(v);
  }
  return out;
}

function parseConfig(ctx: SuiteContext): ScaleConfig {
  const names = SCALE_CONFIGURATIONS.map((c) => c.name);
  const raw = ctx.options['scale-configs'];
  const configs = typeof raw === 'string' ? raw.split(',').map((s) => s.trim()) : names;
  for (const n of configs)
    if (!names.includes(n as ScaleConfigName))
      throw new Error(`--scale-configs: unknown ${JSON.stringify(n)}; known: ${names.join(', ')}`);
  return {
    devices: devicesOption(ctx),
    warmup: intOption(ctx, 'scale-warmup', 1, 10_000),
    messages: intOption(ctx, 'scale-messages', 1, 100_000),
    ratePerSec: intOption(ctx, 'scale-rate', 1, 1_000),
    burstDeliveries: intOption(ctx, 'scale-burst-deliveries', 0, 10_000_000),
    rounds: intOption(ctx, 'scale-rounds', 1, 10),
    batchSize: intOption(ctx, 'scale-batch', 1, MAX_DEVICES),
    healthCheckIntervalMs: intOption(ctx, 'scale-check-ms', 100, 60_000),
    configs: configs as ScaleConfigName[],
  };
}

function makeShared(config: ScaleConfig, dir: string): ScaleShared {
  const control = generateSigner();
  const feed = generateSigner();
  const issuedAt = Date.now();
  const most = Math.max(...config.devices);
  return {
    config,
    signals: makeSignals(
      config.warmup + config.messages + Math.max(...config.devices.map((d) => burstMessages(config, d))),
      feed,
      issuedAt,
    ),
    devices: Array.from({ length: most }, (_, i) => {
      const id = `bench-${String(i).padStart(5, '0')}`;
      const claims = { sub: id, scope: 'family', iat: issuedAt, ttlMs: 60 * 60 * 1000 };
      return { id, token: issueDeviceToken(claims, control) };
    }),
    tokenKey: exportPublicKey(control.publicKey),
    signalKey: exportPublicKey(feed.publicKey),
    cert: makeTestCert(dir),
    dir,
  };
}

export interface ScaleResult extends ConfigResult {
  devices: number;
  /** Load generator CPU ÷ steady-phase time (median round): near 1, latency is the clients' queue. */
  steadyLoadBusy: number;
  /** Server (plus HAProxy) CPU ÷ steady-phase time (median round): near 1, the serving core is full. */
  steadyServerBusy: number;
  /** Server process alone over the bursts ÷ deliveries (`burst.serverCpuUsPerDelivery` adds HAProxy). */
  serverOnlyCpuUsPerDelivery: number | null;
  /** (RSS once every client is ready − RSS before any connected) ÷ clients, median round, bytes. */
  memory: {
    serverBytesPerConnection: number | null;
    haproxyBytesPerConnection: number | null;
    totalBytesPerConnection: number | null;
    rss: RssFigures[];
  };
  haproxy: (Omit<HaproxyFigures, 'steadyCpuUs' | 'burstCpuUs'> & { burstCpuUsPerDelivery: number }) | null;
  /** p99 under 50 ms: judged for the configuration through HAProxy at 1,000 devices only. */
  p99TargetMet: boolean | null;
}

const perConnection = (after: number | null, before: number | null, n: number): number | null =>
  after === null || before === null ? null : (after - before) / n;

function medianOrNull(values: (number | null)[]): number | null {
  const known = values.filter((v): v is number => v !== null);
  return known.length ? Math.round(median(known)) : null;
}

function analyseScale(config: ScaleConfig, name: ScaleConfigName, runs: ScaleMeasurement[]): ScaleResult {
  const n = runs[0]!.devices;
  const base = analyse({ ...config, burst: burstMessages(config, n) }, runs);
  const server = runs.map((m) => perConnection(m.rss.serverConnected, m.rss.serverBefore, n));
  const proxy = runs.map((m) => perConnection(m.rss.haproxyConnected, m.rss.haproxyBefore, n));
  const hp = runs[0]!.haproxy;
  const deliveries = base.burst?.delivered ?? 0;
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  const serverBytes = medianOrNull(server);
  const haproxyBytes = medianOrNull(proxy);
  return {
    ...base,
    devices: n,
    steadyLoadBusy: round(median(runs.map((m) => m.steadyLoadCpuUs / 1000 / m.steadyMs)), 2),
    steadyServerBusy: round(median(runs.map((m) => m.steadyServerCpuUs / 1000 / m.steadyMs)), 2),
    serverOnlyCpuUsPerDelivery: deliveries
      ? round(sum(runs.map((m) => m.burstServerOnlyCpuUs)) / deliveries)
      : null,
    memory: {
      serverBytesPerConnection: serverBytes,
      haproxyBytesPerConnection: haproxyBytes,
      totalBytesPerConnection: serverBytes === null ? null : serverBytes + (haproxyBytes ?? 0),
      rss: runs.map((m) => m.rss),
    },
    haproxy: hp && {
      pid: hp.pid,
      affinity: hp.affinity,
      nbthread: hp.nbthread,
      maxConn: hp.maxConn,
      maxConnPerSource: hp.maxConnPerSource,
      connRatePerSourcePer10s: hp.connRatePerSourcePer10s,
      currentConnections: hp.currentConnections,
      trackedSources: hp.trackedSources,
      checkFailures: sum(runs.map((m) => m.haproxy!.checkFailures ?? 0)),
      checkDowns: sum(runs.map((m) => m.haproxy!.checkDowns ?? 0)),
      burstCpuUsPerDelivery: deliveries ? round(sum(runs.map((m) => m.haproxy!.burstCpuUs)) / deliveries) : 0,
    },
    p99TargetMet: name === 'gateway-haproxy' && n === P99_TARGET_DEVICES ? base.p99 < P99_TARGET_MS : null,
  };
}

type Results = Record<string, ScaleResult>;
const key = (name: ScaleConfigName, devices: number) => `${name}@${devices}`;

interface Ratios {
  throughput: number | null;
  p50: number | null;
  p99: number | null;
}

/** The ratios of one device count, each configuration a ÷ configuration b. */
interface DeviceRatios {
  /** gateway-haproxy ÷ bare-ws: the gateway's work and the HAProxy hop together. */
  haproxyVsBare: Ratios;
  /** gateway ÷ bare-ws: the gateway's own work, no HAProxy. */
  gatewayVsBare: Ratios;
  /** gateway-haproxy ÷ gateway: what the HAProxy hop costs the gateway. */
  haproxyVsGateway: Ratios & { memory: number | null };
  /** gateway-haproxy ÷ bare-ws-haproxy: the gateway's work, both behind HAProxy (like for like). */
  haproxyVsBareHaproxy: Ratios;
  /** bare-ws-haproxy ÷ bare-ws: what the HAProxy hop costs the bare server. */
  bareHaproxyVsBare: Ratios;
}

/** The table's ratio rows, in order: a ÷ b, the report's key, and whether DESIGN's 0.8 applies. */
const RATIO_ROWS: {
  a: ScaleConfigName;
  b: ScaleConfigName;
  key: keyof DeviceRatios;
  target: boolean;
}[] = [
  { a: 'gateway-haproxy', b: 'bare-ws-haproxy', key: 'haproxyVsBareHaproxy', target: true },
  { a: 'gateway-haproxy', b: 'bare-ws', key: 'haproxyVsBare', target: true },
  { a: 'gateway', b: 'bare-ws', key: 'gatewayVsBare', target: true },
  { a: 'gateway-haproxy', b: 'gateway', key: 'haproxyVsGateway', target: false },
  { a: 'bare-ws-haproxy', b: 'bare-ws', key: 'bareHaproxyVsBare', target: false },
];

function ratiosOf(a: ScaleResult | undefined, b: ScaleResult | undefined): Ratios {
  return {
    throughput: ratio(a?.burst?.msgsPerSec, b?.burst?.msgsPerSec),
    p50: ratio(a?.p50, b?.p50),
    p99: ratio(a?.p99, b?.p99),
  };
}

const kib = (bytes: number | null | undefined) =>
  bytes === null || bytes === undefined ? null : bytes / 1024;

function render(config: ScaleConfig, ctx: SuiteContext, results: Results) {
  const ratios: Record<string, DeviceRatios> = {};
  for (const d of config.devices) {
    const h = results[key('gateway-haproxy', d)];
    const bh = results[key('bare-ws-haproxy', d)];
    const g = results[key('gateway', d)];
    const b = results[key('bare-ws', d)];
    ratios[String(d)] = {
      haproxyVsBare: ratiosOf(h, b),
      gatewayVsBare: ratiosOf(g, b),
      haproxyVsGateway: {
        ...ratiosOf(h, g),
        memory: ratio(
          h?.memory.totalBytesPerConnection ?? undefined,
          g?.memory.totalBytesPerConnection ?? undefined,
        ),
      },
      haproxyVsBareHaproxy: ratiosOf(h, bh),
      bareHaproxyVsBare: ratiosOf(bh, b),
    };
  }

  const pinning = ctx.pinning.used
    ? `server and HAProxy on cpu ${ctx.pinning.serverCpu}, clients on cpu ${ctx.pinning.loadCpu}`
    : `none (${ctx.pinning.reason})`;
  const rows: (string | number | null)[][] = [];
  for (const d of config.devices)
    for (const c of SCALE_CONFIGURATIONS) {
      const r = results[key(c.name, d)];
      if (!r) continue;
      const busy = Math.max(r.steadyLoadBusy, r.burst?.loadBusy ?? 0);
      const serverFull = r.steadyServerBusy >= CLIENTS_BUSY;
      rows.push([
        `${d} ${c.name}`,
        fmt(r.connectMs / 1000, 1),
        fmt(r.p50, 2),
        fmt(r.p99, 2),
        fmt(r.max, 1),
        r.p99TargetMet === null ? '' : r.p99TargetMet ? 'yes' : 'NO',
        r.lost + (r.burst?.lost ?? 0) + r.warmupLost,
        r.duplicates + r.unknownFrames,
        r.burst ? r.burst.msgsPerSec : null,
        fmt(r.burst?.serverCpuUsPerDelivery, 2),
        `${fmt(r.steadyServerBusy, 2)}/${fmt(r.burst?.serverBusy, 2)}${serverFull ? ' !' : ''}`,
        `${fmt(r.steadyLoadBusy, 2)}/${fmt(r.burst?.loadBusy, 2)}${busy >= CLIENTS_BUSY ? ' !' : ''}`,
        fmt(kib(r.memory.serverBytesPerConnection), 1),
        fmt(kib(r.memory.haproxyBytesPerConnection), 1),
        fmt(r.otherCores, 2),
      ]);
    }
  // One row per device count and ratio; a ratio whose two configurations did not both run is left out.
  const ratioRows = config.devices.flatMap((d) =>
    RATIO_ROWS.filter((r) => results[key(r.a, d)] && results[key(r.b, d)]).map((r) => {
      const x = ratios[String(d)]![r.key];
      const t = x.throughput;
      const throughput =
        !r.target || t === null
          ? fmt(t)
          : `${fmt(t)}${t >= THROUGHPUT_TARGET ? '' : ` (<${THROUGHPUT_TARGET})`}`;
      return [`${d} ${r.a} ÷ ${r.b}`, throughput, fmt(x.p50), fmt(x.p99)];
    }),
  );

  const maxConns = [...new Set(config.devices.map(haproxyMaxConn))].join('/');
  const limits = DEFAULT_CLUSTER.limits;
  const table = [
    `scale: devices ${config.devices.join(', ')}; ${config.rounds} round(s) of ${config.warmup} warm-up + ` +
      `${config.messages} messages at ${config.ratePerSec}/s + a burst of ${config.burstDeliveries} ` +
      `deliveries (${config.devices.map((d) => `${burstMessages(config, d)} signals at ${d}`).join(', ')}); embedded bus; ` +
      `pinning: ${pinning}`,
    `HAProxy (startHaproxy): TLS at HAProxy, 1 server (send-proxy-v2 to the gateway, none to the bare server), ` +
      `maxConn ${maxConns} (devices + 500); ` +
      `per-source limits at their defaults (${limits.maxConnPerSource} connections, ` +
      `${limits.connRatePerSourcePer10s} per 10 s): each client connects from its own 127.x.y.z; ` +
      `health checks every ${config.healthCheckIntervalMs} ms; clients connect ${config.batchSize} at a time`,
    '',
    ...formatTable(
      [
        'devices configuration',
        'connect s',
        'p50 ms',
        'p99 ms',
        'max ms',
        'p99<50',
        'lost',
        'dup',
        'burst msg/s',
        'cpu µs/msg',
        'server busy',
        'clients busy',
        'KiB/conn server',
        'KiB/conn haproxy',
        'other cores',
      ],
      rows,
    ),
    '',
    ...formatTable(['devices ratio', 'burst throughput', 'p50 latency', 'p99 latency'], ratioRows),
    '',
    `ratios: gateway-haproxy ÷ bare-ws-haproxy is DESIGN's throughput target (≥ ${THROUGHPUT_TARGET} of a bare ws`,
    "server) like for like: both behind the same HAProxy, so it prices the gateway's work alone;",
    "gateway-haproxy ÷ bare-ws adds the HAProxy hop's cost, bare-ws-haproxy ÷ bare-ws is that hop's cost",
    `alone; "(<${THROUGHPUT_TARGET})": a gateway ÷ bare throughput under the target.`,
    '',
    'latency: publish call to client receipt in the steady phase; p99<50: DESIGN target, judged through',
    `HAProxy at ${P99_TARGET_DEVICES} devices; lost: missing deliveries, all phases; dup: duplicate or unknown frames;`,
    'burst msg/s: deliveries per second in the burst; cpu µs/msg: server CPU (plus HAProxy when in the path)',
    'per delivery in the burst; server busy: server (plus HAProxy) CPU ÷ time, steady/burst ("!" in the',
    "steady phase: the serving core is full, a queue builds, latency is the phase length's); clients busy:",
    'load generator CPU ÷ time, steady/burst ("!": near 1, the clients set the pace, so throughput and',
    'tails are theirs); KiB/conn: (RSS with every client ready − RSS before) ÷ devices, per process (the',
    'server after a full GC); other cores: most CPU used by anything else in a steady phase.',
  ];
  const noisy = Object.entries(results).filter(([, r]) => (r.otherCores ?? 0) > NOISY_OTHER_CORES);
  if (noisy.length > 0)
    table.push(
      `warning: other work used more than ${NOISY_OTHER_CORES} cores during ` +
        `${noisy.map(([n]) => n).join(', ')}; expect noisy tails`,
    );
  const bad = Object.entries(results).filter(
    ([, r]) => r.lost + (r.burst?.lost ?? 0) + r.warmupLost + r.duplicates + r.unknownFrames > 0,
  );
  if (bad.length > 0)
    table.push(`warning: messages lost or duplicated in ${bad.map(([n]) => n).join(', ')} (must be 0)`);
  for (const [n, r] of Object.entries(results))
    if (r.haproxy?.checkDowns)
      table.push(
        `warning: ${n}: HAProxy's health checks timed out and it marked the ` +
          `${serverWord(SCALE_CONFIGURATIONS.find((c) => n.startsWith(`${c.name}@`))!)} DOWN ` +
          `${r.haproxy.checkDowns} time(s), cutting every device (on-marked-down shutdown-sessions)`,
      );
  for (const [n, r] of Object.entries(results))
    if (r.haproxy && r.haproxy.trackedSources !== null && r.haproxy.trackedSources < r.devices)
      table.push(
        `warning: ${n}: HAProxy tracked ${r.haproxy.trackedSources} sources for ${r.devices} clients`,
      );
  return { ratios, table };
}

export const scaleSuite: Suite = {
  name: 'scale',
  description:
    'fan-out to 1,000 and 5,000 devices: gateway and bare ws, each through HAProxy (TLS; PROXY v2 to the gateway) and direct',
  options: {
    'scale-devices': { type: 'string' },
    'scale-warmup': { type: 'string' },
    'scale-messages': { type: 'string' },
    'scale-rate': { type: 'string' },
    'scale-burst-deliveries': { type: 'string' },
    'scale-rounds': { type: 'string' },
    'scale-batch': { type: 'string' },
    'scale-configs': { type: 'string' },
    'scale-check-ms': { type: 'string' },
  },
  async run(ctx) {
    const config = parseConfig(ctx);
    const skipped: Record<string, string> = {};
    const haveHaproxy = requireTool('haproxy', 'haproxy') && requireTool('openssl', 'openssl');
    // Before any run: a device count HAProxy cannot hold fails now, not minutes in.
    const anyHaproxy = SCALE_CONFIGURATIONS.some((c) => c.haproxy && config.configs.includes(c.name));
    if (haveHaproxy && anyHaproxy) for (const d of config.devices) checkOpenFiles(d);
    const dir = mkdtempSync(join(tmpdir(), 'bench-scale-'));
    try {
      const shared = makeShared(config, dir);
      const measured = new Map<string, ScaleMeasurement[]>();
      for (const d of config.devices)
        for (let round = 0; round < config.rounds; round++) {
          // ABBA: the second round runs the configurations in reverse order.
          const order = round % 2 === 0 ? config.configs : [...config.configs].reverse();
          for (const name of order) {
            const c = SCALE_CONFIGURATIONS.find((x) => x.name === name)!;
            if (c.haproxy && !haveHaproxy) {
              skipped[key(name, d)] = 'haproxy or openssl is not installed (apt-get install haproxy openssl)';
              continue;
            }
            ctx.log(`scale: ${d} devices, round ${round + 1}/${config.rounds}: ${name}`);
            const m = await runScaleConfiguration(c, d, shared, ctx);
            measured.set(key(name, d), [...(measured.get(key(name, d)) ?? []), m]);
          }
        }
      const results: Results = {};
      for (const d of config.devices)
        for (const c of SCALE_CONFIGURATIONS) {
          const runs = measured.get(key(c.name, d));
          if (runs) results[key(c.name, d)] = analyseScale(config, c.name, runs);
        }
      const { ratios, table } = render(config, ctx, results);
      for (const [name, why] of Object.entries(skipped)) table.push(`skipped ${name}: ${why}`);
      return {
        report: {
          description: scaleSuite.description,
          config: {
            ...config,
            bus: 'embedded',
            stream: BENCH_STREAM,
            signalBytes: Buffer.byteLength(shared.signals.raw[0] ?? ''),
            haproxy: {
              maxConn: Object.fromEntries(config.devices.map((d) => [d, haproxyMaxConn(d)])),
              maxConnPerSource: DEFAULT_CLUSTER.limits.maxConnPerSource,
              connRatePerSourcePer10s: DEFAULT_CLUSTER.limits.connRatePerSourcePer10s,
              sources: 'each client its own loopback address (127.10.x.y)',
              tls: 'terminated at HAProxy (self-signed RSA 2048 certificate)',
              proxyProtocol: Object.fromEntries(
                SCALE_CONFIGURATIONS.filter((c) => c.haproxy).map((c) => [c.name, c.proxyProtocol]),
              ),
              healthCheck: 'GET /healthz expecting 200 (the gateway, and the bare server too)',
            },
            latency:
              'from just before bus.publish (server process) to the client message handler (load process)',
            targets: {
              p99Ms: P99_TARGET_MS,
              p99AtDevices: P99_TARGET_DEVICES,
              throughputVsBare: THROUGHPUT_TARGET,
            },
          },
          pinning: ctx.pinning,
          results,
          skipped,
          ratios,
        },
        table,
      };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
