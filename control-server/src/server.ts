import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { errorClass } from '@appliance/errors';
import { KeyRing, TOPICS, type Bus, type Signer, type Subscription } from '@appliance/protocol';
import {
  DEFAULT_FAMILY_POLICY,
  DEFAULT_FILL_COSTS,
  type BreakerConfigInput,
  type FillCosts,
} from '@appliance/trading-core';
import { AdminToken } from './admin-auth.js';
import { HostAllowList } from '@appliance/runtime';
import { buildApp } from './app.js';
import { BreakerService } from './breaker-service.js';
import { CandleIntake } from './candle-intake.js';
import { CommandService } from './command-service.js';
import { WgInterface } from '@appliance/wireguard';
import { RecordingConcentrator, WgConcentrator, type Concentrator } from './concentrator.js';
import type { EnrolmentConfig } from './enrolment-model.js';
import { EnrolmentService } from './enrolment-service.js';
import { ControlPublisher } from './control-publisher.js';
import { EligibilityService, type ApprovalMode } from './eligibility.js';
import { FleetView } from './fleet.js';
import { createPaperExchange, DEFAULT_MARKETS, type PaperExchange } from '@appliance/paper-exchange';
import { PolicyService } from './policy-service.js';
import { DeviceRegistry } from './registry.js';
import { DATABASE_FILE, Store } from './store/database.js';
import { importDataFiles } from './store/import-files.js';

export interface ControlServerOptions {
  bus: Bus;
  signer: Signer;
  /**
   * CONTROL_ADMIN_TOKEN. Once rotated through the API, the rotated token replaces it (also after
   * a restart, with a data folder) until a different value is given here.
   */
  adminToken: string;
  logger: Logger;
  /**
   * The data folder: the database (`control.sqlite`) lives there, and the files kept there before
   * it are imported on the first start. In memory when absent.
   */
  dataDir?: string;
  now?: () => number;
  /**
   * `--eligibility`: the symbols eligible per stream until the simulator has decided on that
   * stream (the history in the data folder then rebuilds what is in force).
   */
  eligibility?: Record<string, string[]>;
  /** The simulator nodes' public keys: only results one of them signed change eligibility. */
  simulatorKeys?: KeyRing;
  /** Whether a stream's simulator changes apply at once (`auto`, the default) or wait for an operator. `*`: every other stream. */
  eligibilityApproval?: Record<string, ApprovalMode>;
  /** Oldest a simulator submission may be when it arrives (default: an hour). */
  simulatorMaxAgeMs?: number;
  /**
   * Spending policy per profile, stored as version 1 of each profile that has none yet (later
   * versions, through the API, are kept in the database); `family` defaults to
   * DEFAULT_FAMILY_POLICY.
   */
  policies?: Record<string, Record<string, unknown>>;
  heartbeatIntervalMs?: number;
  controlTtlMs?: number;
  /**
   * `--credential-ttl`: life of device credentials (enrolment, renewal, rotation) and of tokens
   * from `POST /api/devices/:id/token`. Default 30 days.
   */
  deviceTokenTtlMs?: number;
  /**
   * Enrolment (docs/enrolment.md): the enrolment URL and its certificate pin, the tunnel pool,
   * the concentrator's endpoint and key, the gateway inside the tunnel, the signal keys. Checked
   * at start (EnrolmentConfigError, each issue naming its flag). Absent: enrolment is disabled.
   */
  enrolment?: EnrolmentConfig;
  /**
   * The WireGuard hub's peers (`WgConcentrator` over the wireguard package's `WgInterface` for
   * `--wg-interface`). Given: every active device's peer is added at start (reconcile). Absent:
   * a RecordingConcentrator that changes nothing (`server.concentrator` shows its calls).
   */
  concentrator?: Concentrator;
  /**
   * `--wg-interface`: the concentrator's WireGuard interface on this host (`wg set` through the
   * wireguard package's WgInterface), when `concentrator` is not given. Peers reconciled at start.
   */
  wgInterface?: string;
  /** Called with each revoked device's tunnel address, after the revocation is committed (HAProxy's deny list). */
  denyTunnelAddress?: (address: string) => Promise<void>;
  /** `--key-overlap-ms`: how long a rotated-out device key still renews (default 10 minutes). */
  keyOverlapMs?: number;
  onlineWindowMs?: number;
  /**
   * `Host` names the HTTP API answers besides localhost, 127.0.0.1 and [::1] (any port) and the
   * address it listens on; other hosts get 421.
   */
  allowedHosts?: string[];
  /**
   * The datafeeds' public keys (the ones that sign their signals): the paper exchange takes only
   * candles they signed. None: every candle is dropped (with a warning at start).
   */
  feedKeys?: KeyRing;
  /**
   * The adaptive circuit breaker: its thresholds and windows (trading-core's BreakerConfig, any
   * field left out keeps its default), the peg pair, and how often time is checked.
   */
  breaker?: { config?: BreakerConfigInput; pegSymbol?: string; tickMs?: number };
  /** Run the paper exchange in this process, fed by the bus's candles. */
  paper?: { costs?: FillCosts; startingBalances?: Record<string, number>; candleIntervalMs?: number } | false;
}

export const DEFAULT_CONTROL_OPTIONS = {
  heartbeatIntervalMs: 5_000,
  /** Control messages are valid for a minute: a client without a fresh heartbeat stops buying. */
  controlTtlMs: 60_000,
  /** Device tokens and credentials are valid for 30 days, then re-issued (`--credential-ttl`). */
  deviceTokenTtlMs: 30 * 24 * 60 * 60 * 1000,
  /** A rotated-out device key still renews for 10 minutes, then its kid is published as revoked. */
  keyOverlapMs: 10 * 60_000,
  startingBalances: { USDT: 10_000 },
  /** Datafeeds publish 1h candles today. */
  candleIntervalMs: 3_600_000,
  /** Rejected telemetry records are logged at most this often (each one at debug). */
  rejectedLogIntervalMs: 60_000,
};

/** The API or the paper exchange could not listen: `option` names the setting to change. */
export class ListenError extends errorClass('ListenError', { E_LISTEN: 'a server could not listen' }) {
  constructor(
    readonly option: 'port' | 'paperPort' | 'host',
    message: string,
    cause: unknown,
  ) {
    super('E_LISTEN', message, { cause });
  }
}

async function listenOn<T>(option: 'port' | 'paperPort', port: number, host: string, f: () => Promise<T>) {
  try {
    return await f();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const flag = option === 'port' ? '--port' : '--paper-port';
    if (code === 'EADDRINUSE')
      throw new ListenError(option, `${flag} ${port}: ${host}:${port} is already in use`, err);
    if (code === 'EACCES')
      throw new ListenError(option, `${flag} ${port}: not permitted to listen on ${host}:${port}`, err);
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EAI_AGAIN')
      throw new ListenError('host', `--host ${host}: not an address of this machine (${code})`, err);
    throw err;
  }
}

export interface ControlServer {
  /** Starts the HTTP API (and the paper exchange on `paperPort`); resolves to the API's URL. */
  listen(port?: number, host?: string, paperPort?: number): Promise<string>;
  paperUrl?: string;
  paper?: PaperExchange;
  /** What became of the candles from the bus: accepted, and dropped by reason. */
  candles: CandleIntake;
  registry: DeviceRegistry;
  /** The database: `control.sqlite` in the data folder, or in memory. */
  store: Store;
  control: ControlPublisher;
  eligibility: EligibilityService;
  breaker: BreakerService;
  policies: PolicyService;
  commands: CommandService;
  /** Enrolment tokens, device keys, tunnel addresses, renewal and rotation. */
  enrolment: EnrolmentService;
  /** The concentrator the enrolment service changes peers on (a RecordingConcentrator by default). */
  concentrator: Concentrator;
  close(): Promise<void>;
}

export async function startControlServer(o: ControlServerOptions): Promise<ControlServer> {
  const store = Store.open(o.dataDir ? join(o.dataDir, DATABASE_FILE) : ':memory:');
  try {
    return await startOn(store, o);
  } catch (err) {
    store.close();
    throw err;
  }
}

async function startOn(store: Store, o: ControlServerOptions): Promise<ControlServer> {
  const now = o.now ?? Date.now;
  if (o.dataDir) {
    const imported = await importDataFiles(store, o.dataDir, (msg) => o.logger.warn(msg));
    for (const i of imported) o.logger.info(i, `imported ${i.file} into ${store.path}`);
  }
  const registry = await DeviceRegistry.open(store);
  const real: Concentrator | undefined =
    o.concentrator ??
    (o.wgInterface ? new WgConcentrator(new WgInterface({ name: o.wgInterface })) : undefined);
  const concentrator = real ?? new RecordingConcentrator();
  const enrolment = new EnrolmentService({
    registry,
    signer: o.signer,
    logger: o.logger.child({ component: 'enrolment' }),
    now,
    config: o.enrolment,
    concentrator,
    denyTunnelAddress: o.denyTunnelAddress,
    credentialTtlMs: o.deviceTokenTtlMs ?? DEFAULT_CONTROL_OPTIONS.deviceTokenTtlMs,
    keyOverlapMs: o.keyOverlapMs ?? DEFAULT_CONTROL_OPTIONS.keyOverlapMs,
  });
  const adminToken = await AdminToken.open(o.adminToken, store);
  const eligibility = await EligibilityService.open({
    store,
    seed: o.eligibility ?? {},
    approval: o.eligibilityApproval ?? {},
    simulatorKeys: o.simulatorKeys ?? new KeyRing(),
    maxAgeMs: o.simulatorMaxAgeMs,
    now,
    logger: o.logger.child({ component: 'eligibility' }),
  });
  const allowedHosts = new HostAllowList(o.allowedHosts ?? []);
  // Devices reach the enrolment routes through HAProxy under the enrolment URL's name.
  if (enrolment.enrolHost) allowedHosts.add(enrolment.enrolHost);
  // -- issue 14, engineer C: spending policy versions and fleet commands, kept in the store --
  const policies = new PolicyService({
    store,
    seed: { family: DEFAULT_FAMILY_POLICY, ...o.policies },
    now,
    logger: o.logger.child({ component: 'policies' }),
  });
  const commands = new CommandService({
    store,
    devices: () => registry.list(),
    isOnline: (id) => fleet.isOnline(id, now()),
    now,
    logger: o.logger.child({ component: 'commands' }),
  });
  // -- end issue 14, engineer C --
  // Only registered devices are folded: the topic cannot make the view grow.
  const fleet = new FleetView({
    onlineWindowMs: o.onlineWindowMs,
    isKnown: (id) => registry.has(id),
    onCommandAck: (id, ack) => void commands.onAck(id, ack),
  });
  let rejectedSinceLog = 0;
  let lastRejectedLog = -Infinity;
  const feedKeys = o.feedKeys ?? new KeyRing();
  // Set below: the breaker publishes through the control publisher, which starts with its state.
  let publishBreaker: (
    body: Parameters<ControlPublisher['publishBreaker']>[0],
  ) => Promise<void> = async () => {};
  const breaker = await BreakerService.open({
    store,
    config: o.breaker?.config,
    pegSymbol: o.breaker?.pegSymbol,
    tickMs: o.breaker?.tickMs,
    feedKeys,
    publish: (body) => publishBreaker(body),
    logger: o.logger.child({ component: 'breaker' }),
    now,
  });
  const control = new ControlPublisher({
    bus: o.bus,
    signer: o.signer,
    logger: o.logger,
    now,
    origin: 'control',
    // What the history says is in force (the seed for streams the simulator has not decided on).
    eligibility: eligibility.inForce(),
    policies: policies.inForce(),
    fleet: () => commands.fleetBodies(),
    revoked: registry.revokedIds(),
    revokedKeys: () => enrolment.revokedKeyIds(),
    breaker: breaker.body(),
    heartbeatIntervalMs: o.heartbeatIntervalMs ?? DEFAULT_CONTROL_OPTIONS.heartbeatIntervalMs,
    ttlMs: o.controlTtlMs ?? DEFAULT_CONTROL_OPTIONS.controlTtlMs,
  });
  eligibility.onChange = (stream, state) => control.publishEligibility(stream, state.symbols, state);
  publishBreaker = (body) => control.publishBreaker(body);
  policies.onChange = (profile, p) => control.publishPolicy(profile, p);
  commands.onChange = () => control.publishFleet();
  const subs: Subscription[] = [];
  subs.push(
    await o.bus.subscribe({
      topic: TOPICS.telemetry,
      from: 'latest',
      onMessage: (m) => {
        let record: unknown;
        try {
          record = JSON.parse(m.value.toString());
        } catch {
          record = undefined; // counted as rejected below
        }
        const result = fleet.apply(record);
        if (result.ok || result.reason !== 'rejected') return;
        // Anyone who can write the topic can send these: count them, log each at debug and a
        // summary at most once a minute.
        const issue = record === undefined ? 'not JSON' : result.issue.slice(0, 200);
        o.logger.debug({ offset: m.offset, partition: m.partition, issue }, 'telemetry record rejected');
        rejectedSinceLog++;
        if (now() - lastRejectedLog >= DEFAULT_CONTROL_OPTIONS.rejectedLogIntervalMs) {
          o.logger.warn(
            { rejected: rejectedSinceLog, total: fleet.stats().rejected, lastIssue: issue },
            'telemetry records rejected: not telemetry or decision records as gateways write them',
          );
          rejectedSinceLog = 0;
          lastRejectedLog = now();
        }
      },
    }),
  );

  subs.push(
    await o.bus.subscribe({
      topic: TOPICS.feedReports,
      from: 'latest',
      onMessage: (m) => void breaker.onFeedReport(m),
    }),
  );

  let paper: PaperExchange | undefined;
  let createPaperAccount: ((deviceId: string) => { apiKey: string; secret: string }) | undefined;
  if (o.paper !== false) {
    const balances = o.paper?.startingBalances ?? DEFAULT_CONTROL_OPTIONS.startingBalances;
    paper = createPaperExchange({
      accounts: [],
      markets: DEFAULT_MARKETS,
      costs: o.paper?.costs ?? DEFAULT_FILL_COSTS,
      // The length of the bars the datafeeds publish; klines are served in multiples of it.
      candleIntervalMs: o.paper?.candleIntervalMs ?? DEFAULT_CONTROL_OPTIONS.candleIntervalMs,
      now,
      logger: o.logger.child({ component: 'paper-exchange' }),
    });
    const exchange = paper;
    createPaperAccount = (deviceId: string) => {
      const account = {
        apiKey: randomBytes(24).toString('base64url'),
        secret: randomBytes(32).toString('base64url'),
      };
      exchange.addAccount({ ...account, balances: { ...balances }, label: deviceId });
      return account;
    };
  }
  // Prices and the breaker move only with candles a pinned datafeed signed: see candle-intake.ts.
  // From the earliest retained: the exchange rebuilds its prices, the breaker its baselines.
  const exchange = paper;
  const candles = new CandleIntake({
    keys: feedKeys,
    sink: exchange && ((symbol, candle) => exchange.onCandle(symbol, candle)),
    observe: (candle, publishedAt) => breaker.onCandle(candle, publishedAt),
    logger: o.logger.child({ component: 'candle-intake' }),
  });
  subs.push(
    await o.bus.subscribe({
      topic: TOPICS.candles,
      from: 'earliest',
      onMessage: (m) => void candles.onMessage(m),
    }),
  );
  await Promise.all(subs.map((s) => s.ready));
  if (real) {
    // A peer change that failed after its commit (or a hub restarted empty) is made now.
    const r = await enrolment.reconcile();
    o.logger.info(r, 'concentrator peers reconciled with the registry');
  }
  if (!enrolment.enabled)
    o.logger.info('enrolment disabled: /enrol, /renew and /rotate answer 503 (docs/enrolment.md)');
  await control.start();
  await breaker.start();
  const { warning } = control.eligibility;
  if (warning) o.logger.warn({ eligibility: control.eligibility.streams }, `NO ELIGIBILITY: ${warning}`);

  const app = buildApp({
    registry,
    fleet,
    control,
    eligibility,
    breaker,
    policies,
    commands,
    tokenSigner: o.signer,
    adminToken,
    allowedHosts,
    logger: o.logger,
    now,
    deviceTokenTtlMs: o.deviceTokenTtlMs ?? DEFAULT_CONTROL_OPTIONS.deviceTokenTtlMs,
    createPaperAccount,
    enrolment,
  });

  const server: ControlServer = {
    registry,
    store,
    control,
    eligibility,
    breaker,
    policies,
    commands,
    enrolment,
    concentrator,
    paper,
    candles,
    async listen(port = 0, host = '127.0.0.1', paperPort = 0) {
      allowedHosts.add(host);
      if (paper) {
        const exchange = paper;
        server.paperUrl = await listenOn('paperPort', paperPort, host, () =>
          exchange.listen({ port: paperPort, host }),
        );
      }
      return listenOn('port', port, host, () => app.listen({ port, host }));
    },
    async close() {
      breaker.stop();
      control.stop();
      for (const s of subs) await s.close();
      await app.close();
      await paper?.close();
      store.close();
    },
  };
  return server;
}
