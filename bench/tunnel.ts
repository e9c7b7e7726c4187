/**
 * The fleet's path through WireGuard, in network namespaces this suite creates and removes:
 *
 *   hub   (concentrator): wireguard-go 10.77.0.1/16 listening on 172.31.1.1:51820, HAProxy, the
 *                         gateway on its loopback, Kafka (librdkafka's mock), the control server
 *   load  172.31.1.2 (veth to the hub), WireGuard peer 10.77.255.254: the load generator's N
 *                         WebSocket clients, and the concurrent enrolments (over HTTPS, not the tunnel)
 *   dev   172.31.2.2 (veth to the hub): one fresh device that enrols and waits for its first signal
 *
 * 1. fanout: N clients (default 500) in the load namespace, through the tunnel, to HAProxy bound on
 *    the hub's tunnel address (PROXY v2 to the gateway), once with TLS at HAProxy and once without,
 *    the same signals at the same rate (scale's phases: warm-up, steady rate for latency, burst for
 *    throughput). All clients share the one tunnel address, so HAProxy's per-source limits are
 *    raised. Reported: delivered messages/s, publish-to-receive p50/p99, HAProxy's and
 *    wireguard-go's CPU, and the TLS ÷ no-TLS ratios both ways.
 * 2. enrol: K devices (default 200) made with `POST /api/enrolments`, then enrolled concurrently
 *    from the load namespace through HAProxy's enrolment frontend (pinned TLS; each enrolment also
 *    adds a WireGuard peer on the hub with `wg set`): enrolments/s, p50/p99 latency.
 * 3. first-signal: a fresh device namespace runs `signal-client enrol --token @FILE`, brings its
 *    tunnel up from the wg0.conf it wrote, starts `signal-client run`, while signed signals are
 *    published on the hub's Kafka every 200 ms: time from the token to the first decision in the
 *    device's state file, and its parts.
 *
 *   npm run bench -- --only tunnel [--tunnel-clients 500] [--tunnel-enrolments 200]
 *     [--tunnel-parts fanout,enrol,first-signal] (more: --help)
 *
 * Needs root, iproute2, wireguard-tools, wireguard-go, haproxy, openssl and kcat.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  TOPICS,
  createSignal,
  exportPublicKey,
  generateSigner,
  issueDeviceToken,
  type DecisionRecord,
  type Signer,
} from '@appliance/protocol';
import { findHaproxy, startHaproxy, type ClusterInput, type RunningHaproxy } from '@appliance/haproxy';
import {
  connectVeth,
  createNetns,
  requireNetnsTools,
  signerWithKeyFile,
  spawnNode,
  startKafkaMock,
  startUdpEcho,
  udpReachable,
  uniqueIfName,
  waitFor,
  type KafkaMock,
  type Netns,
  type RunningProcess,
} from '@appliance/test-kit';
import {
  bringDown,
  bringUp,
  generateWgKeyPair,
  renderConcentratorConf,
  renderDeviceConf,
} from '@appliance/wireguard';
import { now } from './clock.js';
import { analyse, type ConfigResult } from './fanout-analysis.js';
import type { Measurement } from './fanout-run.js';
import { spawnWorker, type Worker } from './ipc.js';
import type { LoadApi } from './load-proc.js';
import { phaseLoad, processCpuUs, sample } from './procstat.js';
import { BENCH_STREAM, makeSignals } from './publisher.js';
import { burstMessages, checkOpenFiles, publishPhases } from './scale-run.js';
import type { ServerApi } from './server-proc.js';
import { ratio, round, summarize } from './stats.js';
import type { Suite, SuiteContext } from './suite.js';
import { fmt, formatTable } from './table.js';
import type { EnrolOutcome, TunnelProcApi } from './tunnel-proc.js';

const PARTS = ['fanout', 'enrol', 'first-signal'] as const;
type Part = (typeof PARTS)[number];

const DEFAULTS = {
  'tunnel-clients': 500,
  'tunnel-warmup': 20,
  'tunnel-messages': 100,
  'tunnel-rate': 10,
  'tunnel-burst-deliveries': 100_000,
  'tunnel-enrolments': 200,
  'tunnel-enrol-concurrency': 50,
  // Two rounds in ABBA order (TLS, no TLS, no TLS, TLS): a drift in the machine's load over the
  // run then weighs on both configurations alike.
  'tunnel-rounds': 2,
};

const POOL = '10.77.0.0/16';
const HUB_TUNNEL = '10.77.0.1';
/** The load generator's tunnel address: the pool's last host, far from what enrolment hands out. */
const LOAD_TUNNEL = '10.77.255.254';
const HUB_PUBLIC = '172.31.1.1';
const LOAD_PUBLIC = '172.31.1.2';
const HUB_FOR_DEVICE = '172.31.2.1';
const DEVICE_PUBLIC = '172.31.2.2';
const WG_PORT = 51820;
const GATEWAY_PORT = 8443;
const ENROL_PORT = 9443;
const ECHO_PORT = 7000;
const GATEWAY_NAME = 'gw-1';
const FIRST_SIGNAL_STREAM = 'ema-cross.1h';
const SIGNAL_EVERY_MS = 200;
/** Other load (in cores) above which the table warns that wall-clock figures are noisy. */
const NOISY_OTHER_CORES = 0.5;

const START_TIMEOUT_MS = 60_000;
const burstDrainMs = (deliveries: number) => 30_000 + deliveries / 10;
const connectTimeoutMs = (clients: number) => 30_000 + clients * 40;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function intOption(ctx: SuiteContext, name: keyof typeof DEFAULTS, min: number, max: number): number {
  const raw = ctx.options[name];
  const v = raw === undefined ? DEFAULTS[name] : Number(raw);
  if (!Number.isInteger(v) || v < min || v > max)
    throw new Error(`--${name} must be an integer from ${min} to ${max} (got ${String(raw)})`);
  return v;
}

interface TunnelConfig {
  clients: number;
  warmup: number;
  messages: number;
  ratePerSec: number;
  burstDeliveries: number;
  enrolments: number;
  enrolConcurrency: number;
  rounds: number;
  parts: Part[];
}

function parseConfig(ctx: SuiteContext): TunnelConfig {
  const raw = ctx.options['tunnel-parts'];
  const parts = typeof raw === 'string' ? raw.split(',').map((s) => s.trim()) : [...PARTS];
  for (const p of parts)
    if (!PARTS.includes(p as Part))
      throw new Error(`--tunnel-parts: unknown ${JSON.stringify(p)}; known: ${PARTS.join(', ')}`);
  return {
    clients: intOption(ctx, 'tunnel-clients', 1, 10_000),
    warmup: intOption(ctx, 'tunnel-warmup', 1, 10_000),
    messages: intOption(ctx, 'tunnel-messages', 1, 100_000),
    ratePerSec: intOption(ctx, 'tunnel-rate', 1, 1_000),
    burstDeliveries: intOption(ctx, 'tunnel-burst-deliveries', 0, 10_000_000),
    enrolments: intOption(ctx, 'tunnel-enrolments', 1, 10_000),
    enrolConcurrency: intOption(ctx, 'tunnel-enrol-concurrency', 1, 10_000),
    rounds: intOption(ctx, 'tunnel-rounds', 1, 10),
    parts: parts as Part[],
  };
}

/** A self-signed certificate for the hub's tunnel and public addresses (HAProxy's both frontends). */
function makeHubCert(dir: string): { pemFile: string; certFile: string; certPem: string } {
  const keyFile = join(dir, 'hub-key.pem');
  const certFile = join(dir, 'hub-cert.pem');
  execFileSync(
    'openssl',
    [
      ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=bench-hub', '-days', '1'],
      ...['-addext', `subjectAltName=IP:${HUB_TUNNEL},IP:${HUB_PUBLIC},DNS:localhost`],
      ...['-keyout', keyFile, '-out', certFile],
    ],
    { stdio: 'ignore' },
  );
  const certPem = readFileSync(certFile, 'utf8');
  const pemFile = join(dir, 'hub-site.pem');
  writeFileSync(pemFile, certPem + readFileSync(keyFile, 'utf8'), { mode: 0o600 });
  return { pemFile, certFile, certPem };
}

/** wireguard-go processes serving one of `names` (found by their command line), for CPU readings. */
function wireguardGoPids(names: string[]): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter(Boolean);
      if (argv[0]?.endsWith('wireguard-go') && names.includes(argv.at(-1)!)) out.push(Number(entry));
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

const cpuOf = (pids: number[]) => pids.reduce((s, p) => s + (processCpuUs(p) ?? 0), 0);

/**
 * HAProxy started by startHaproxy inside `netns`, pinned to `cpu` through a wrapper that execs it
 * under taskset (as scale-run does), so it runs beside the gateway and sizes its threads to it.
 */
async function startNsHaproxy(
  cluster: ClusterInput,
  dir: string,
  netns: string,
  cpu: number | undefined,
): Promise<RunningHaproxy> {
  const real = findHaproxy();
  if (!real) throw new Error('haproxy is not installed: apt-get install haproxy');
  let bin = real;
  if (cpu !== undefined) {
    bin = join(dir, 'haproxy-pinned');
    writeFileSync(bin, `#!/bin/sh\nexec taskset -c ${cpu} '${real}' "$@"\n`);
    chmodSync(bin, 0o755);
  }
  const saved = process.env.HAPROXY_BIN;
  process.env.HAPROXY_BIN = bin;
  try {
    return await startHaproxy(cluster, dir, { netns });
  } finally {
    if (saved === undefined) delete process.env.HAPROXY_BIN;
    else process.env.HAPROXY_BIN = saved;
  }
}

interface Net {
  hub: Netns;
  load: Netns;
  dev: Netns;
  hubIf: string;
  hubPublicKey: string;
  loadIf: string;
  cert: ReturnType<typeof makeHubCert>;
}

/** Things to undo, last first, whatever happened. */
type Cleanup = (() => Promise<unknown>)[];

async function buildNet(dir: string, cleanup: Cleanup, ctx: SuiteContext): Promise<Net> {
  const made: Netns[] = [];
  cleanup.push(async () => {
    for (const ns of made.reverse()) await ns.destroy();
  });
  const make = async (p: string) => {
    const ns = await createNetns(p);
    made.push(ns);
    return ns;
  };
  const hub = await make('btun-hub');
  const load = await make('btun-load');
  const dev = await make('btun-dev');
  await connectVeth(load, hub, `${LOAD_PUBLIC}/24`, `${HUB_PUBLIC}/24`);
  await connectVeth(dev, hub, `${DEVICE_PUBLIC}/24`, `${HUB_FOR_DEVICE}/24`);
  // The device reaches the hub's public address (its WireGuard endpoint, the enrolment frontend).
  await dev.exec('ip', ['route', 'add', `${HUB_PUBLIC}/32`, 'via', HUB_FOR_DEVICE]);

  const hubKey = generateWgKeyPair();
  const loadKey = generateWgKeyPair();
  const hubIf = uniqueIfName('btunh');
  const hubFile = join(dir, `${hubIf}.conf`);
  writeFileSync(
    hubFile,
    renderConcentratorConf({
      subnet: POOL,
      listenPort: WG_PORT,
      privateKey: hubKey.privateKey,
      devices: [{ id: 'bench-load', publicKey: loadKey.publicKey, address: LOAD_TUNNEL }],
    }),
    { mode: 0o600 },
  );
  cleanup.push(() => bringDown({ name: hubIf, netns: hub.name }).catch(() => undefined));
  await bringUp({ confFile: hubFile, netns: hub.name });
  const loadIf = uniqueIfName('btunl');
  const loadFile = join(dir, `${loadIf}.conf`);
  writeFileSync(
    loadFile,
    renderDeviceConf({
      id: 'bench-load',
      address: LOAD_TUNNEL,
      subnet: POOL,
      privateKey: loadKey.privateKey,
      concentrator: { publicKey: hubKey.publicKey, endpoint: { host: HUB_PUBLIC, port: WG_PORT } },
    }),
    { mode: 0o600 },
  );
  cleanup.push(() => bringDown({ name: loadIf, netns: load.name }).catch(() => undefined));
  await bringUp({ confFile: loadFile, netns: load.name });
  const echo = await startUdpEcho(hub, ECHO_PORT);
  await waitFor(
    () => udpReachable(load, HUB_TUNNEL, ECHO_PORT, 1000),
    'the load namespace reaching the hub through WireGuard',
  );
  echo.kill();
  ctx.log(`tunnel: namespaces up (hub ${hub.name}, wireguard-go ${hubIf} and ${loadIf}; tunnel answers)`);
  return { hub, load, dev, hubIf, hubPublicKey: hubKey.publicKey, loadIf, cert: makeHubCert(dir) };
}

// ---- 1. fan-out through HAProxy inside the tunnel, with and without TLS ---------------------------

interface FanoutShared {
  config: TunnelConfig;
  signals: ReturnType<typeof makeSignals>;
  devices: { id: string; token: string }[];
  tokenKey: string;
  signalKey: string;
}

function makeFanoutShared(config: TunnelConfig): FanoutShared {
  const control = generateSigner();
  const feed = generateSigner();
  const issuedAt = Date.now();
  return {
    config,
    signals: makeSignals(
      config.warmup + config.messages + burstMessages(config, config.clients),
      feed,
      issuedAt,
    ),
    devices: Array.from({ length: config.clients }, (_, i) => {
      const id = `bench-${String(i).padStart(5, '0')}`;
      return {
        id,
        token: issueDeviceToken({ sub: id, scope: 'family', iat: issuedAt, ttlMs: 60 * 60 * 1000 }, control),
      };
    }),
    tokenKey: exportPublicKey(control.publicKey),
    signalKey: exportPublicKey(feed.publicKey),
  };
}

interface FanoutResult extends ConfigResult {
  tls: boolean;
  haproxy: {
    steadyBusy: number;
    burstCpuUsPerDelivery: number | null;
    burstBusy: number | null;
    currentConnections: number | null;
  };
  /** Both ends (hub and load namespace); `hubBurstCpuUsPerDelivery`: the hub's alone. */
  wireguardGo: {
    steadyBusy: number;
    burstCpuUsPerDelivery: number | null;
    hubBurstCpuUsPerDelivery: number | null;
    burstBusy: number | null;
  };
  gatewayBurstCpuUsPerDelivery: number | null;
  /** Packets lost on the way over the rounds, both tunnel namespaces: see LossCounters. */
  network: { tcpRetransmits: number; udpReceiveBufferDrops: number };
}

/** One run of one configuration: the measurement, and the CPU of HAProxy and wireguard-go in it. */
interface FanoutRun {
  m: Measurement;
  steadyMs: number;
  proxy: { steadyUs: number; burstUs: number };
  /** wireguard-go at both ends; `hubBurstUs`: the hub's alone. */
  wg: { steadyUs: number; burstUs: number; hubBurstUs: number };
  gatewayBurstUs: number;
  currentConnections: number | null;
  /** Over the run, in both tunnel namespaces. */
  loss: LossCounters;
}

/** Pools the rounds of one configuration (analyse's figures, plus HAProxy's and wireguard-go's CPU). */
function pool(config: TunnelConfig, tls: boolean, runs: FanoutRun[]): FanoutResult {
  const B = burstMessages(config, config.clients);
  const base = analyse(
    { warmup: config.warmup, messages: config.messages, burst: B },
    runs.map((r) => r.m),
  );
  const sum = (f: (r: FanoutRun) => number) => runs.reduce((a, r) => a + f(r), 0);
  const delivered = base.burst?.delivered ?? 0;
  const burstMs = base.burst ? base.burst.durationMsRounds.reduce((a, b) => a + b, 0) : 0;
  const steadyMs = sum((r) => r.steadyMs);
  const perDelivery = (us: number) => (delivered ? round(us / delivered, 2) : null);
  const busy = (us: number) => (burstMs ? round(us / 1000 / burstMs, 2) : null);
  return {
    ...base,
    tls,
    haproxy: {
      steadyBusy: round(sum((r) => r.proxy.steadyUs) / 1000 / steadyMs, 3),
      burstCpuUsPerDelivery: perDelivery(sum((r) => r.proxy.burstUs)),
      burstBusy: busy(sum((r) => r.proxy.burstUs)),
      currentConnections: runs[0]!.currentConnections,
    },
    wireguardGo: {
      steadyBusy: round(sum((r) => r.wg.steadyUs) / 1000 / steadyMs, 3),
      burstCpuUsPerDelivery: perDelivery(sum((r) => r.wg.burstUs)),
      hubBurstCpuUsPerDelivery: perDelivery(sum((r) => r.wg.hubBurstUs)),
      burstBusy: busy(sum((r) => r.wg.burstUs)),
    },
    gatewayBurstCpuUsPerDelivery: perDelivery(sum((r) => r.gatewayBurstUs)),
    network: {
      tcpRetransmits: sum((r) => r.loss.tcpRetrans),
      udpReceiveBufferDrops: sum((r) => r.loss.udpRcvbufDrops),
    },
  };
}

/** Counters of the kernel's that show packets lost on the way (absolute, as `nstat -a` reads them). */
interface LossCounters {
  /** TCP segments sent again (TcpRetransSegs). */
  tcpRetrans: number;
  /** UDP datagrams dropped for a full socket receive buffer (UdpRcvbufErrors): WireGuard's own packets. */
  udpRcvbufDrops: number;
}

/** Both tunnel namespaces' LossCounters, summed. */
async function lossCounters(net: Net): Promise<LossCounters> {
  const total: LossCounters = { tcpRetrans: 0, udpRcvbufDrops: 0 };
  for (const ns of [net.hub, net.load]) {
    const { stdout } = await ns.exec('nstat', ['-asz', 'TcpRetransSegs', 'UdpRcvbufErrors']);
    const count = (name: string) => Number(new RegExp(`^${name}\\s+(\\d+)`, 'm').exec(stdout)?.[1] ?? NaN);
    total.tcpRetrans += count('TcpRetransSegs');
    total.udpRcvbufDrops += count('UdpRcvbufErrors');
  }
  return total;
}

const lossSince = (before: LossCounters, after: LossCounters): LossCounters => ({
  tcpRetrans: after.tcpRetrans - before.tcpRetrans,
  udpRcvbufDrops: after.udpRcvbufDrops - before.udpRcvbufDrops,
});

const RMEM_DEFAULT = '/proc/sys/net/core/rmem_default';
const RMEM_MAX = '/proc/sys/net/core/rmem_max';
/** What the suite gives wireguard-go's socket: 4 MiB held no drop in the measurements (docs/wireguard.md). */
const TUNNEL_RMEM = 4 * 1024 * 1024;

/**
 * Raises the host's default socket receive buffer (and its maximum, if lower) to 4 MiB for the
 * suite, and returns what puts both back. wireguard-go 0.0.20220316 (Debian 12's, the one here)
 * never sizes its UDP socket, so it gets the default (208 KiB): the load namespace's end, which
 * all N clients' traffic comes through, then drops datagrams in every burst of a fan-out
 * (UdpRcvbufErrors in the thousands), TCP inside the tunnel resends (TcpRetransSegs; some after a
 * 200 ms timeout) and the steady p99 rose to 130 ms. Later wireguard-go releases ask for 7 MiB
 * themselves (SO_RCVBUFFORCE), and the kernel module has no socket buffer in the way; a namespace
 * cannot set its own default here (EINVAL), so the host's is raised, and only while the suite runs.
 */
function widenReceiveBuffer(ctx: SuiteContext): () => Promise<void> {
  const read = (file: string) => Number(readFileSync(file, 'utf8').trim());
  const before = { max: read(RMEM_MAX), default: read(RMEM_DEFAULT) };
  if (before.default >= TUNNEL_RMEM) return async () => {};
  // The maximum first: the kernel refuses a default above it.
  if (before.max < TUNNEL_RMEM) writeFileSync(RMEM_MAX, String(TUNNEL_RMEM));
  writeFileSync(RMEM_DEFAULT, String(TUNNEL_RMEM));
  ctx.log(
    `tunnel: net.core.rmem_default ${before.default} -> ${TUNNEL_RMEM} while the suite runs (wireguard-go's UDP socket)`,
  );
  return async () => {
    writeFileSync(RMEM_DEFAULT, String(before.default));
    writeFileSync(RMEM_MAX, String(before.max));
  };
}

/** CPU µs per delivery in the burst of the hub's serving path: gateway, HAProxy, the hub's wireguard-go. */
function pathCpu(r: FanoutResult): number | null {
  const parts = [
    r.gatewayBurstCpuUsPerDelivery,
    r.haproxy.burstCpuUsPerDelivery,
    r.wireguardGo.hubBurstCpuUsPerDelivery,
  ];
  return parts.every((v) => v !== null)
    ? round(
        parts.reduce((a, b) => a! + b!, 0)!,
        2,
      )
    : null;
}

function field(text: string, key: string): number | null {
  const m = new RegExp(`${key}:\\s*(\\d+)`).exec(text);
  return m ? Number(m[1]) : null;
}

async function runFanout(
  tls: boolean,
  net: Net,
  shared: FanoutShared,
  dir: string,
  round: number,
  ctx: SuiteContext,
): Promise<FanoutRun> {
  const { config, signals } = shared;
  const n = config.clients;
  const W = config.warmup;
  const N = config.messages;
  const B = burstMessages(config, n);
  const total = W + N + B;
  const label = tls ? 'tls' : 'no-tls';
  const hpDir = join(dir, `haproxy-${label}-${round}`);
  mkdirSync(hpDir);
  let server: Worker<ServerApi> | undefined;
  let load: Worker<LoadApi> | undefined;
  let haproxy: RunningHaproxy | undefined;
  try {
    const srv = (server = await spawnWorker<ServerApi>(
      `server:${label}`,
      'bench/server-proc.ts',
      ctx.pinning.serverCpu,
      net.hub.name,
    ));
    const { url: serverUrl } = await srv.call(
      'start',
      {
        server: 'gateway',
        bus: { kind: 'embedded' },
        tokenKey: shared.tokenKey,
        signalKey: shared.signalKey,
        stream: BENCH_STREAM,
        signals: signals.raw.slice(0, total),
        proxyProtocol: true,
      },
      START_TIMEOUT_MS,
    );
    checkOpenFiles(n);
    const hp = (haproxy = await startNsHaproxy(
      {
        gateways: [{ name: GATEWAY_NAME, host: '127.0.0.1', port: Number(new URL(serverUrl).port) }],
        bind: { host: HUB_TUNNEL, port: GATEWAY_PORT },
        tls: tls ? { certFile: net.cert.pemFile } : false,
        // Every client comes from the load namespace's one tunnel address.
        limits: { maxConn: n + 500, maxConnPerSource: n + 100, connRatePerSourcePer10s: 1_000_000 },
        stats: { socket: join(hpDir, 'admin.sock') },
        proxyProtocol: true,
      },
      hpDir,
      net.hub.name,
      ctx.pinning.serverCpu,
    ));
    await hp.waitFor('UP', [GATEWAY_NAME], 30_000);
    const hpPid = hp.process.pid!;
    const wgPids = wireguardGoPids([net.hubIf, net.loadIf]);
    const hubWgPids = wireguardGoPids([net.hubIf]);
    const lossBefore = await lossCounters(net);
    const l = (load = await spawnWorker<LoadApi>(
      `load:${label}`,
      'bench/load-proc.ts',
      ctx.pinning.loadCpu,
      net.load.name,
    ));
    const timeoutMs = connectTimeoutMs(n);
    const { connectMs } = await l.call(
      'connect',
      {
        url: `${tls ? 'wss' : 'ws'}://${HUB_TUNNEL}:${GATEWAY_PORT}`,
        devices: shared.devices.slice(0, n),
        ids: signals.ids.slice(0, total),
        readyOn: 'caught-up',
        timeoutMs,
        ...(tls ? { ca: net.cert.certPem } : {}),
        batchSize: 100,
      },
      timeoutMs + 5_000,
    );
    ctx.log(`  tunnel ${label}: ${n} clients ready through WireGuard in ${(connectMs / 1000).toFixed(1)} s`);
    const info = await hp.admin('show info');
    const currentConnections = field(info, 'CurrConns');

    const cpus = async () => {
      const s = await srv.call('cpu', undefined);
      const ld = await l.call('cpu', undefined);
      const proxy = processCpuUs(hpPid) ?? 0;
      const wg = cpuOf(wgPids);
      return {
        server: s,
        load: ld,
        proxy,
        wg,
        wgHub: cpuOf(hubWgPids),
        machine: sample(s + ld + proxy + wg),
      };
    };
    const { publishTimes, clockSkewMs, clockUncertaintyMs, cpu } = await publishPhases({
      srv,
      load: l,
      warmup: W,
      messages: N,
      burst: B,
      ratePerSec: config.ratePerSec,
      burstDrainMs: burstDrainMs(B * n),
      cpus,
      log: ctx.log,
      label: `tunnel ${label}`,
    });
    const [c0, c1, c2] = cpu;
    const receptions = await l.call('receptions', undefined);
    const gw = await srv.call('stats', undefined);
    const m: Measurement = {
      publishTimes,
      receptions,
      connectMs,
      affinity: {
        server: String(ctx.pinning.serverCpu ?? 'any'),
        load: String(ctx.pinning.loadCpu ?? 'any'),
      },
      clockSkewMs,
      clockUncertaintyMs,
      // The serving side: gateway plus HAProxy (wireguard-go apart, below).
      steadyServerCpuUs: c1.server - c0.server + (c1.proxy - c0.proxy),
      burstServerCpuUs: c2.server - c1.server + (c2.proxy - c1.proxy),
      burstLoadCpuUs: c2.load - c1.load,
      machineLoad: { steady: phaseLoad(c0.machine, c1.machine), burst: phaseLoad(c1.machine, c2.machine) },
      gateway: gw && { relayed: gw.relayed, dropped: gw.dropped },
    };
    const single = analyse({ warmup: W, messages: N, burst: B }, [m]);
    ctx.log(
      `  tunnel ${label}: burst ${single.burst?.msgsPerSec ?? '-'} msg/s, steady p50 ${single.p50} ms p99 ${single.p99} ms`,
    );
    const result: FanoutRun = {
      m,
      steadyMs: c1.machine.at - c0.machine.at,
      proxy: { steadyUs: c1.proxy - c0.proxy, burstUs: c2.proxy - c1.proxy },
      wg: { steadyUs: c1.wg - c0.wg, burstUs: c2.wg - c1.wg, hubBurstUs: c2.wgHub - c1.wgHub },
      gatewayBurstUs: c2.server - c1.server,
      currentConnections,
      loss: lossSince(lossBefore, await lossCounters(net)),
    };
    return result;
  } finally {
    await load?.call('close', undefined, 10_000).catch(() => {});
    await load?.stop();
    await haproxy?.stop();
    await server?.call('stop', undefined, 15_000).catch(() => {});
    await server?.stop();
  }
}

// ---- 2 and 3: the real stack (Kafka, control server with enrolment, gateway, HAProxy) --------------

interface Stack {
  kafka: KafkaMock;
  adminToken: string;
  apiUrl: string;
  feed: Signer;
  paperUrl: string;
  hubWorker: Worker<TunnelProcApi>;
  procs: RunningProcess[];
  controlPid: number;
  haproxyPid: number;
}

const listening = async (p: RunningProcess) =>
  (await p.waitForLog((l) => l.msg === 'listening', `${p.name} listening`, START_TIMEOUT_MS)) as unknown as {
    url: string;
  };

async function startStack(net: Net, dir: string, cleanup: Cleanup, ctx: SuiteContext): Promise<Stack> {
  const procs: RunningProcess[] = [];
  cleanup.push(async () => {
    for (const p of procs.reverse()) await p.kill('SIGKILL');
  });
  const kafka = await startKafkaMock({ netns: net.hub.name });
  cleanup.push(() => kafka.stop());
  const { signer: control, file: controlKeyFile } = signerWithKeyFile(dir, 'control.pem');
  const feed = generateSigner();
  const adminToken = randomBytes(24).toString('base64url');
  const track = (p: RunningProcess) => (procs.push(p), p);
  const controlServer = track(
    spawnNode(
      'control-server',
      'control-server/src/main.ts',
      [
        ...['--port', '0', '--host', '127.0.0.1', '--no-paper'],
        ...['--kafka', kafka.bootstrap, '--signing-key-file', controlKeyFile],
        ...['--feed-key', exportPublicKey(feed.publicKey), '--data-dir', join(dir, 'control')],
        ...['--eligibility', `${FIRST_SIGNAL_STREAM}=BTC/USDT`],
        ...['--enrol-url', `https://${HUB_PUBLIC}:${ENROL_PORT}`, '--enrol-cert', net.cert.certFile],
        ...['--tunnel-pool', POOL, '--tunnel-endpoint', `${HUB_PUBLIC}:${WG_PORT}`],
        ...['--tunnel-public-key', net.hubPublicKey, '--wg-interface', net.hubIf],
        ...['--tunnel-gateway-url', `ws://${HUB_TUNNEL}:${GATEWAY_PORT}/`],
      ],
      { CONTROL_ADMIN_TOKEN: adminToken },
      { netns: net.hub.name },
    ),
  );
  const gateway = track(
    spawnNode(
      'gateway',
      'gateway/src/main.ts',
      [
        ...['--port', '0', '--admin-port', '0', '--proxy-protocol', '--require-bound-credentials'],
        ...['--kafka', kafka.bootstrap, '--token-key', exportPublicKey(control.publicKey)],
        ...['--signal-key', exportPublicKey(feed.publicKey)],
      ],
      {},
      { netns: net.hub.name },
    ),
  );
  const accountsFile = join(dir, 'paper-accounts.json');
  writeFileSync(
    accountsFile,
    JSON.stringify([
      { apiKey: 'bench-device-key', secret: 'bench-device-secret', balances: { USDT: 10_000 } },
    ]),
  );
  const paper = track(
    spawnNode(
      'paper-exchange',
      'paper-exchange/src/main.ts',
      ['--port', '0', '--host', HUB_FOR_DEVICE, '--accounts', accountsFile, '--price', 'BTC/USDT=50000'],
      {},
      { netns: net.hub.name },
    ),
  );
  const [api, gw, pp] = await Promise.all([listening(controlServer), listening(gateway), listening(paper)]);
  const apiUrl = api.url;
  const hubWorker = await spawnWorker<TunnelProcApi>('hub', 'bench/tunnel-proc.ts', undefined, net.hub.name);
  cleanup.push(() => hubWorker.stop());
  const hpDir = join(dir, 'haproxy-stack');
  mkdirSync(hpDir);
  const haproxy = await startHaproxy(
    {
      gateways: [{ name: GATEWAY_NAME, host: '127.0.0.1', port: Number(new URL(gw.url).port) }],
      bind: { host: HUB_TUNNEL, port: GATEWAY_PORT },
      tls: false,
      enrolment: {
        bind: { host: HUB_PUBLIC, port: ENROL_PORT },
        tls: { certFile: net.cert.pemFile },
        controlServer: { host: '127.0.0.1', port: Number(new URL(apiUrl).port) },
        // Every enrolment of part 2 comes from the load namespace's one address.
        connRatePerSourcePer10s: 1_000_000,
      },
      limits: { maxConn: 4096 },
      stats: { socket: join(hpDir, 'admin.sock') },
    },
    hpDir,
    { netns: net.hub.name },
  );
  cleanup.push(() => haproxy.stop());
  await haproxy.waitFor('UP', [GATEWAY_NAME], 30_000);
  ctx.log(
    `tunnel: stack up (control server ${apiUrl}, gateway ${gw.url}, HAProxy enrolment on ${HUB_PUBLIC}:${ENROL_PORT})`,
  );
  return {
    kafka,
    adminToken,
    apiUrl,
    feed,
    paperUrl: pp.url,
    hubWorker,
    procs,
    controlPid: controlServer.proc.pid!,
    haproxyPid: haproxy.process.pid!,
  };
}

interface EnrolResult {
  devices: number;
  concurrency: number;
  enrolled: number;
  failed: number;
  firstErrors: string[];
  perSec: number;
  wallMs: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  /** The same, one enrolment at a time (an idle server), before the concurrent run. */
  serial: { devices: number; latencyMs: { p50: number; max: number }; perSec: number };
  /** CPU ÷ wall time over the concurrent run. */
  busy: { controlServer: number; haproxy: number; hubWireguardGo: number };
  createPerSec: number;
  hubPeersAfter: number;
}

/** Enrolments made one at a time before the concurrent run: the latency of an idle server. */
const SERIAL_ENROLMENTS = 10;

async function runEnrol(net: Net, stack: Stack, config: TunnelConfig, cleanup: Cleanup, ctx: SuiteContext) {
  const K = config.enrolments;
  const S = Math.min(SERIAL_ENROLMENTS, K);
  const ids = [
    ...Array.from({ length: S }, (_, i) => `bench-serial-${String(i).padStart(5, '0')}`),
    ...Array.from({ length: K }, (_, i) => `bench-enrol-${String(i).padStart(5, '0')}`),
  ];
  const c0 = now();
  const made = await stack.hubWorker.call(
    'createEnrolments',
    { apiUrl: stack.apiUrl, adminToken: stack.adminToken, ids, scope: 'family', concurrency: 8 },
    120_000 + ids.length * 200,
  );
  const createMs = now() - c0;
  const serialTokens = made.slice(0, S);
  const tokens = made.slice(S);
  ctx.log(
    `  tunnel enrol: ${ids.length} enrolment tokens made in ${(createMs / 1000).toFixed(1)} s; ` +
      `${S} enrolled one at a time, then ${K} enrolled ${config.enrolConcurrency} at a time`,
  );
  const loadWorker = await spawnWorker<TunnelProcApi>(
    'load-enrol',
    'bench/tunnel-proc.ts',
    ctx.pinning.loadCpu,
    net.load.name,
  );
  cleanup.push(() => loadWorker.stop());
  const serial = await loadWorker.call(
    'enrolAll',
    { tokens: serialTokens, concurrency: 1, timeoutMs: 60_000 },
    120_000 + S * 5_000,
  );
  const hubWg = wireguardGoPids([net.hubIf]);
  const cpu = () => ({
    control: processCpuUs(stack.controlPid) ?? 0,
    haproxy: processCpuUs(stack.haproxyPid) ?? 0,
    wg: cpuOf(hubWg),
  });
  const before = cpu();
  const { outcomes, wallMs } = await loadWorker.call(
    'enrolAll',
    { tokens, concurrency: config.enrolConcurrency, timeoutMs: 60_000 },
    120_000 + K * 500,
  );
  const after = cpu();
  await loadWorker.stop();
  const ok = outcomes.filter((o: EnrolOutcome) => o.status === 200);
  const s = summarize(ok.map((o) => o.ms));
  const serialOk = serial.outcomes.filter((o: EnrolOutcome) => o.status === 200);
  const ss = summarize(serialOk.map((o) => o.ms));
  const peers = (await net.hub.exec('wg', ['show', net.hubIf, 'peers'])).stdout
    .trim()
    .split('\n')
    .filter(Boolean).length;
  const busy = (k: 'control' | 'haproxy' | 'wg') => round((after[k] - before[k]) / 1000 / wallMs, 2);
  const failures = [...serial.outcomes, ...outcomes].filter((o) => o.status !== 200);
  const result: EnrolResult = {
    devices: K,
    concurrency: config.enrolConcurrency,
    enrolled: ok.length,
    failed: K - ok.length + (S - serialOk.length),
    firstErrors: [...new Set(failures.map((o) => `${o.status}: ${o.error ?? ''}`))].slice(0, 3),
    perSec: round(ok.length / (wallMs / 1000), 1),
    wallMs: round(wallMs, 1),
    latencyMs: { p50: round(s.p50, 1), p90: round(s.p90, 1), p99: round(s.p99, 1), max: round(s.max, 1) },
    serial: {
      devices: S,
      latencyMs: { p50: round(ss.p50, 1), max: round(ss.max, 1) },
      perSec: round(serialOk.length / (serial.wallMs / 1000), 1),
    },
    busy: { controlServer: busy('control'), haproxy: busy('haproxy'), hubWireguardGo: busy('wg') },
    createPerSec: round(ids.length / (createMs / 1000), 1),
    hubPeersAfter: peers,
  };
  ctx.log(
    `  tunnel enrol: ${ok.length}/${K} enrolled, ${result.perSec}/s, p50 ${result.latencyMs.p50} ms p99 ${result.latencyMs.p99} ms ` +
      `(one at a time: p50 ${result.serial.latencyMs.p50} ms); hub has ${peers} peers`,
  );
  return result;
}

/** A process's exit, or SIGKILL and an error after `ms`. */
async function exitedWithin(p: RunningProcess, ms: number) {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      void p.kill('SIGKILL');
      reject(new Error(`${p.name} did not finish within ${ms} ms:\n${p.text.slice(-20).join('\n')}`));
    }, ms);
  });
  try {
    return await Promise.race([p.exited, late]);
  } finally {
    clearTimeout(timer);
  }
}

interface FirstSignalResult {
  tokenToDecisionMs: number;
  enrolMs: number;
  tunnelUpMs: number;
  startToReadyMs: number;
  readyToDecisionMs: number;
  /** Publish of the signal first decided to its decision being seen in the state file. */
  publishToDecisionMs: number;
  signalsPublished: number;
  /**
   * `signal-client --help` in the device namespace: Node.js starting and loading the client's
   * modules through tsx, which the enrol and run steps each pay once (the appliance runs a
   * single executable instead).
   */
  processStartMs: number;
  decision: { outcome: string; code: string };
}

async function runFirstSignal(
  net: Net,
  stack: Stack,
  dir: string,
  cleanup: Cleanup,
  ctx: SuiteContext,
): Promise<FirstSignalResult> {
  const { READY_MESSAGE } = await import('@appliance/signal-client');
  const home = join(dir, 'device');
  const stateDir = join(home, 'state');
  mkdirSync(home, { mode: 0o700 });
  const [token] = await stack.hubWorker.call('createEnrolments', {
    apiUrl: stack.apiUrl,
    adminToken: stack.adminToken,
    ids: ['bench-first-signal'],
    scope: 'family',
    concurrency: 1,
  });
  const tokenFile = join(home, 'enrolment-token');
  writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
  const devIf = uniqueIfName('btund');
  const configFile = join(home, 'config.json');
  const stateFile = join(stateDir, 'state.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      enrolment: { stateDir, wgInterface: devIf },
      stateFile,
      exchange: { paperUrl: stack.paperUrl },
      settings: { timeZone: 'UTC', streams: [FIRST_SIGNAL_STREAM] },
    }),
  );

  // The feed: a signed signal every SIGNAL_EVERY_MS from the moment the token is used.
  const published = new Map<string, number>();
  let feeding = true;
  let acked = 0;
  let feedError: Error | undefined;
  let step = 0;
  const firstCandle = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 1000 * 3_600_000;
  const feed = (async () => {
    while (feeding) {
      const signal = createSignal(
        {
          stream: FIRST_SIGNAL_STREAM,
          symbol: 'BTC/USDT',
          side: 'buy',
          price: 50_000,
          candleTime: firstCandle + step++ * 3_600_000,
          ts: Date.now(),
          ttlMs: 120_000,
          strength: 1,
          algoVersion: 'bench/1',
          origin: 'bench-feed',
        },
        stack.feed,
      );
      published.set(signal.id, Date.now());
      try {
        await stack.hubWorker.call('publish', {
          brokers: stack.kafka.bootstrap,
          topic: TOPICS.signals,
          records: [{ key: FIRST_SIGNAL_STREAM, value: JSON.stringify(signal) }],
        });
      } catch (err) {
        feedError = err as Error;
        return;
      }
      acked++;
      await sleep(SIGNAL_EVERY_MS);
    }
  })();
  // Warm the bus connection first, so the figure is the device's path and not our producer's start.
  await waitFor(
    () => {
      if (feedError) throw feedError;
      return acked > 0;
    },
    'the first signal published on the hub',
    START_TIMEOUT_MS,
  );

  const t0 = Date.now();
  try {
    const enrol = spawnNode(
      'signal-client enrol',
      'signal-client/src/main.ts',
      ['enrol', '--token', `@${tokenFile}`, '--state-dir', stateDir],
      {},
      { netns: net.dev.name },
    );
    const { code } = await exitedWithin(enrol, START_TIMEOUT_MS);
    if (code !== 0)
      throw new Error(`signal-client enrol exited ${code}:\n${enrol.text.slice(-20).join('\n')}`);
    const tEnrolled = Date.now();
    // What wg-quick@wg0 does on the appliance, under this device's own interface name.
    const conf = join(home, `${devIf}.conf`);
    cpSync(join(stateDir, 'wg0.conf'), conf);
    cleanup.push(() => bringDown({ name: devIf, netns: net.dev.name }).catch(() => undefined));
    await bringUp({ confFile: conf, netns: net.dev.name });
    const tTunnel = Date.now();
    const client = spawnNode(
      'signal-client',
      'signal-client/src/main.ts',
      ['run', '--config', configFile],
      { EXCHANGE_API_KEY: 'bench-device-key', EXCHANGE_API_SECRET: 'bench-device-secret' },
      { netns: net.dev.name },
    );
    stack.procs.push(client);
    await client.waitForLog((l) => l.msg === READY_MESSAGE, 'the device ready', START_TIMEOUT_MS);
    const tReady = Date.now();
    let first: DecisionRecord | undefined;
    let tDecision = 0;
    await waitFor(
      () => {
        try {
          const state = JSON.parse(readFileSync(stateFile, 'utf8')) as { decisions?: DecisionRecord[] };
          first = state.decisions?.find((d) => published.has(d.signalId));
        } catch {
          /* not written yet */
        }
        if (first) tDecision = Date.now();
        else if (feedError) throw feedError;
        return first !== undefined;
      },
      'the device to decide a signal that came through the tunnel',
      60_000,
      10,
    );
    const d = first!;
    // Node.js + tsx starting the client, apart: the least of three `--help` runs, once the
    // device is up (the machine is busiest while it starts).
    let processStartMs = Infinity;
    for (let i = 0; i < 3; i++) {
      const h0 = Date.now();
      const help = spawnNode(
        'signal-client --help',
        'signal-client/src/main.ts',
        ['--help'],
        {},
        { netns: net.dev.name },
      );
      await exitedWithin(help, START_TIMEOUT_MS);
      processStartMs = Math.min(processStartMs, Date.now() - h0);
    }
    const result: FirstSignalResult = {
      tokenToDecisionMs: tDecision - t0,
      enrolMs: tEnrolled - t0,
      tunnelUpMs: tTunnel - tEnrolled,
      startToReadyMs: tReady - tTunnel,
      readyToDecisionMs: tDecision - tReady,
      publishToDecisionMs: tDecision - published.get(d.signalId)!,
      signalsPublished: published.size,
      processStartMs,
      decision: { outcome: d.outcome, code: d.code },
    };
    ctx.log(
      `  tunnel first-signal: token to first decision ${result.tokenToDecisionMs} ms (${d.outcome} ${d.code})`,
    );
    return result;
  } finally {
    feeding = false;
    await feed.catch(() => undefined);
  }
}

// ---- the suite ---------------------------------------------------------------------------------

function render(config: TunnelConfig, ctx: SuiteContext, out: Record<string, unknown>) {
  const fan = out.fanout as Record<string, FanoutResult> | undefined;
  const table: string[] = [];
  const pinning = ctx.pinning.used
    ? `gateway and HAProxy on cpu ${ctx.pinning.serverCpu}, clients on cpu ${ctx.pinning.loadCpu}, wireguard-go unpinned`
    : `none (${ctx.pinning.reason})`;
  let ratios: Record<string, number | null | (number | null)[]> | undefined;
  if (fan && Object.keys(fan).length > 0) {
    const B = burstMessages(config, config.clients);
    table.push(
      `tunnel fan-out: ${config.clients} WebSocket clients in one namespace, through WireGuard (wireguard-go), to HAProxy on ` +
        `the hub's tunnel address (PROXY v2 to one gateway, embedded bus); ${config.warmup} warm-up + ${config.messages} ` +
        `signals at ${config.ratePerSec}/s, then a burst of ${B} signals; ${config.rounds} round(s), ABBA; pinning: ${pinning}`,
      '',
      ...formatTable(
        [
          'configuration',
          'connect s',
          'p50 ms',
          'p99 ms',
          'max ms',
          'lost',
          'dup',
          'burst msg/s',
          'burst p99 ms',
          'gw µs/msg',
          'haproxy µs/msg',
          'haproxy busy',
          'wg-go µs/msg hub/both',
          'wg-go busy',
          'other cores',
          'tcp resent',
          'udp dropped',
        ],
        Object.entries(fan).map(([name, r]) => [
          name,
          fmt(r.connectMs / 1000, 1),
          fmt(r.p50, 2),
          fmt(r.p99, 2),
          fmt(r.max, 1),
          r.lost + (r.burst?.lost ?? 0) + r.warmupLost,
          r.duplicates + r.unknownFrames,
          r.burst?.msgsPerSec ?? null,
          fmt(r.burst?.p99, 1),
          fmt(r.gatewayBurstCpuUsPerDelivery, 2),
          fmt(r.haproxy.burstCpuUsPerDelivery, 2),
          `${fmt(r.haproxy.steadyBusy, 2)}/${fmt(r.haproxy.burstBusy, 2)}`,
          `${fmt(r.wireguardGo.hubBurstCpuUsPerDelivery, 2)}/${fmt(r.wireguardGo.burstCpuUsPerDelivery, 2)}`,
          `${fmt(r.wireguardGo.steadyBusy, 2)}/${fmt(r.wireguardGo.burstBusy, 2)}`,
          fmt(r.otherCores, 2),
          r.network.tcpRetransmits,
          r.network.udpReceiveBufferDrops,
        ]),
      ),
    );
    const t = fan.tls;
    const p = fan['no-tls'];
    if (t && p) {
      const x = {
        throughputTlsOverNoTls: ratio(t.burst?.msgsPerSec, p.burst?.msgsPerSec),
        throughputNoTlsOverTls: ratio(p.burst?.msgsPerSec, t.burst?.msgsPerSec),
        p50TlsOverNoTls: ratio(t.p50, p.p50),
        p99TlsOverNoTls: ratio(t.p99, p.p99),
        p99NoTlsOverTls: ratio(p.p99, t.p99),
        /**
         * CPU per delivery along the hub's serving path (gateway + HAProxy + the hub's wireguard-go),
         * TLS ÷ no-TLS: what TLS costs in throughput once the machine is CPU-bound, and far less
         * moved by other work on the machine than the wall-clock rates are.
         */
        pathCpuPerDeliveryTlsOverNoTls: ratio(pathCpu(t) ?? undefined, pathCpu(p) ?? undefined),
        /** Connecting every client: TLS handshakes (RSA 2048) on HAProxy's core. */
        connectTlsOverNoTls: ratio(t.connectMs, p.connectMs),
        haproxyCpuPerDeliveryTlsOverNoTls: ratio(
          t.haproxy.burstCpuUsPerDelivery ?? undefined,
          p.haproxy.burstCpuUsPerDelivery ?? undefined,
        ),
      };
      // Round by round (ABBA: each round ran both, back to back): a drift in the machine's other
      // load between rounds moves the pooled figures more than these.
      const byRound = (t.burst?.msgsPerSecRounds ?? []).map((x, i) => ratio(x, p.burst?.msgsPerSecRounds[i]));
      // Other work during each round's two bursts (the larger): a round with none is the one to trust.
      const othersByRound = byRound.map((_, i) =>
        round(
          Math.max(t.machineLoad[i]?.burst?.otherCores ?? NaN, p.machineLoad[i]?.burst?.otherCores ?? NaN),
          2,
        ),
      );
      ratios = { ...x, throughputTlsOverNoTlsByRound: byRound, otherCoresInBurstsByRound: othersByRound };
      table.push(
        '',
        `TLS inside WireGuard: throughput TLS ÷ no-TLS ${fmt(x.throughputTlsOverNoTls, 2)} ` +
          `(no-TLS ÷ TLS ${fmt(x.throughputNoTlsOverTls, 2)}: TLS costs ${fmt(x.throughputNoTlsOverTls, 2)}× throughput); ` +
          `p99 TLS ÷ no-TLS ${fmt(x.p99TlsOverNoTls, 2)} (no-TLS ÷ TLS ${fmt(x.p99NoTlsOverTls, 2)}); ` +
          `HAProxy CPU per delivery TLS ÷ no-TLS ${fmt(x.haproxyCpuPerDeliveryTlsOverNoTls, 2)}, ` +
          `the hub's whole path's (gateway + HAProxy + hub wireguard-go) ${fmt(x.pathCpuPerDeliveryTlsOverNoTls, 2)}; ` +
          `throughput TLS ÷ no-TLS by round (other cores in its bursts): ${byRound.map((x, i) => `${fmt(x, 2)} (${fmt(othersByRound[i], 2)})`).join(', ')}; ` +
          `connecting ${config.clients} clients TLS ÷ no-TLS ${fmt(x.connectTlsOverNoTls, 2)}`,
      );
    }
    table.push(
      'latency: publish call (gateway process, hub) to client receipt (load namespace), steady phase; burst msg/s:',
      'deliveries per second over the burst; µs/msg: CPU per delivery in the burst; busy: CPU ÷ time, steady/burst;',
      "wg-go: wireguard-go, the hub's alone / both ends (hub and load namespace); busy is both ends;",
      "other cores: the most CPU anything else used in a steady phase (other programs, and the kernel's share of the",
      'veths and sockets, which no process is charged for); tcp resent / udp dropped: TCP segments sent again and',
      'WireGuard datagrams dropped for a full socket receive buffer, both namespaces, all rounds (packets lost in the tunnel).',
    );
    const others = Math.max(...Object.values(fan).map((r) => r.otherCores ?? 0));
    if (others > NOISY_OTHER_CORES)
      table.push(
        `warning: other work used up to ${fmt(others, 2)} cores during the steady phases: wall-clock rates and tails ` +
          'are noisy; the CPU-per-delivery ratios hold better',
      );
  }
  const en = out.enrol as EnrolResult | undefined;
  if (en) {
    table.push(
      '',
      `tunnel enrolment: ${en.devices} devices enrolled ${en.concurrency} at a time from one namespace over HTTPS (pinned) ` +
        `through HAProxy's enrolment frontend to the control server (SQLite transaction + wg set per device)`,
      ...formatTable(
        ['mode', 'enrolled', 'enrolments/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms'],
        [
          [
            `${en.concurrency} at a time`,
            `${en.enrolled}/${en.devices}`,
            fmt(en.perSec, 1),
            fmt(en.latencyMs.p50, 1),
            fmt(en.latencyMs.p90, 1),
            fmt(en.latencyMs.p99, 1),
            fmt(en.latencyMs.max, 1),
          ],
          [
            'one at a time',
            en.serial.devices,
            fmt(en.serial.perSec, 1),
            fmt(en.serial.latencyMs.p50, 1),
            '',
            '',
            fmt(en.serial.latencyMs.max, 1),
          ],
        ],
      ),
      `during the concurrent run: control server ${fmt(en.busy.controlServer, 2)} cores, HAProxy ${fmt(en.busy.haproxy, 2)}, ` +
        `hub wireguard-go ${fmt(en.busy.hubWireguardGo, 2)}; WireGuard peers on the hub after: ${en.hubPeersAfter}; ` +
        `enrolment tokens made (POST /api/enrolments, 8 at a time): ${fmt(en.createPerSec, 1)}/s`,
      'latency: TLS connect (pinned certificate checked) to the answer, fresh connection each; keys made beforehand.',
    );
    if (en.failed) table.push(`warning: ${en.failed} enrolments failed: ${en.firstErrors.join(' | ')}`);
  }
  const fs = out.firstSignal as FirstSignalResult | undefined;
  if (fs)
    table.push(
      '',
      `tunnel first signal: token → first decision ${fs.tokenToDecisionMs} ms = enrol ${fs.enrolMs} + tunnel up ${fs.tunnelUpMs} ` +
        `+ client start to ready ${fs.startToReadyMs} + ready to decision ${fs.readyToDecisionMs} ms ` +
        `(signals every ${SIGNAL_EVERY_MS} ms; that one published ${fs.publishToDecisionMs} ms before its decision: ` +
        `${fs.decision.outcome} ${fs.decision.code}); Node.js + tsx start of the client (\`--help\`): ${fs.processStartMs} ms, paid by enrol and by run`,
    );
  for (const [part, why] of Object.entries((out.failed as Record<string, string>) ?? {}))
    table.push(`tunnel ${part}: FAILED: ${why.split('\n')[0]}`);
  return { table, ratios };
}

export const tunnelSuite: Suite = {
  name: 'tunnel',
  description:
    'through WireGuard in namespaces: fan-out to N clients via HAProxy with and without TLS (ratio both ways), concurrent enrolment throughput, token to first signal',
  options: {
    'tunnel-clients': { type: 'string' },
    'tunnel-warmup': { type: 'string' },
    'tunnel-messages': { type: 'string' },
    'tunnel-rate': { type: 'string' },
    'tunnel-burst-deliveries': { type: 'string' },
    'tunnel-enrolments': { type: 'string' },
    'tunnel-enrol-concurrency': { type: 'string' },
    'tunnel-rounds': { type: 'string' },
    'tunnel-parts': { type: 'string' },
  },
  async run(ctx) {
    const config = parseConfig(ctx);
    const missing = requireNetnsTools({
      wg: 'wireguard-tools',
      'wg-quick': 'wireguard-tools',
      'wireguard-go': 'wireguard-go',
      haproxy: 'haproxy',
      openssl: 'openssl',
      kcat: 'kcat',
    });
    if (missing) {
      ctx.log(`tunnel: skipped: ${missing}`);
      return { report: { skipped: missing }, table: [`tunnel: skipped: ${missing}`] };
    }
    const dir = mkdtempSync(join(tmpdir(), 'bench-tunnel-'));
    const cleanup: Cleanup = [];
    const out: Record<string, unknown> = {};
    const failed: Record<string, string> = {};
    try {
      cleanup.push(widenReceiveBuffer(ctx));
      const net = await buildNet(dir, cleanup, ctx);
      if (config.parts.includes('fanout')) {
        const shared = makeFanoutShared(config);
        const runs: Record<string, FanoutRun[]> = { tls: [], 'no-tls': [] };
        for (let rnd = 0; rnd < config.rounds; rnd++)
          for (const tls of rnd % 2 === 0 ? [true, false] : [false, true]) {
            const name = tls ? 'tls' : 'no-tls';
            ctx.log(
              `tunnel: fan-out to ${config.clients} clients through WireGuard, ${tls ? 'TLS' : 'no TLS'} at HAProxy ` +
                `(round ${rnd + 1}/${config.rounds})`,
            );
            try {
              runs[name]!.push(await runFanout(tls, net, shared, dir, rnd, ctx));
            } catch (err) {
              failed[`fanout-${name}`] = (err as Error).stack ?? String(err);
              ctx.log(`tunnel: fan-out failed: ${String(err)}`);
            }
          }
        const fan: Record<string, FanoutResult> = {};
        for (const [name, r] of Object.entries(runs))
          if (r.length) fan[name] = pool(config, name === 'tls', r);
        out.fanout = fan;
      }
      if (config.parts.includes('enrol') || config.parts.includes('first-signal')) {
        let stack: Stack | undefined;
        try {
          stack = await startStack(net, dir, cleanup, ctx);
        } catch (err) {
          for (const p of config.parts.filter((x) => x !== 'fanout'))
            failed[p] = (err as Error).stack ?? String(err);
          ctx.log(`tunnel: the enrolment stack did not start: ${String(err)}`);
        }
        if (stack && config.parts.includes('enrol')) {
          ctx.log(`tunnel: enrolling ${config.enrolments} devices`);
          try {
            out.enrol = await runEnrol(net, stack, config, cleanup, ctx);
          } catch (err) {
            failed.enrol = (err as Error).stack ?? String(err);
            ctx.log(`tunnel: enrolment failed: ${String(err)}`);
          }
        }
        if (stack && config.parts.includes('first-signal')) {
          ctx.log('tunnel: one fresh device, token to first signal');
          try {
            out.firstSignal = await runFirstSignal(net, stack, dir, cleanup, ctx);
          } catch (err) {
            failed['first-signal'] = (err as Error).stack ?? String(err);
            ctx.log(`tunnel: first signal failed: ${String(err)}`);
          }
        }
      }
    } finally {
      for (const undo of cleanup.reverse())
        await undo().catch((err: unknown) => ctx.log(`tunnel: cleanup: ${String(err)}`));
      rmSync(dir, { recursive: true, force: true });
    }
    out.failed = failed;
    const { table, ratios } = render(config, ctx, out);
    return {
      report: {
        description: tunnelSuite.description,
        config: {
          ...config,
          pool: POOL,
          hubTunnel: HUB_TUNNEL,
          burstSignals: burstMessages(config, config.clients),
          haproxy: {
            maxConnPerSource: config.clients + 100,
            connRatePerSourcePer10s: 1_000_000,
            note: 'every client shares the load namespace tunnel address, so the per-source limits are raised',
            tls: 'self-signed RSA 2048 certificate, or none (tls: false)',
          },
          signalEveryMs: SIGNAL_EVERY_MS,
        },
        pinning: ctx.pinning,
        ...out,
        ratios: ratios ?? null,
      },
      table,
    };
  },
};
