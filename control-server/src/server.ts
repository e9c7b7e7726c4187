import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { CandleMessage, TOPICS, type Bus, type Signer, type Subscription } from '@appliance/protocol';
import { DEFAULT_FILL_COSTS, type FillCosts } from '@appliance/trading-core';
import { buildApp } from './app.js';
import { ControlPublisher } from './control-publisher.js';
import { DEFAULT_MARKETS } from './default-markets.js';
import { DEFAULT_FAMILY_POLICY } from './default-policy.js';
import { FleetView } from './fleet.js';
import { createPaperExchange, type PaperExchange } from './paper-exchange/index.js';
import { DeviceRegistry } from './registry.js';

export interface ControlServerOptions {
  bus: Bus;
  signer: Signer;
  adminToken: string;
  logger: Logger;
  /** Where the device registry lives; in memory when absent. */
  dataDir?: string;
  now?: () => number;
  eligibility?: Record<string, string[]>;
  /** Spending policy per profile; default: DEFAULT_FAMILY_POLICY for `family`. */
  policies?: Record<string, Record<string, unknown>>;
  heartbeatIntervalMs?: number;
  controlTtlMs?: number;
  deviceTokenTtlMs?: number;
  onlineWindowMs?: number;
  /** Run the paper exchange in this process, fed by the bus's candles. */
  paper?: { costs?: FillCosts; startingBalances?: Record<string, number>; candleIntervalMs?: number } | false;
}

export const DEFAULT_CONTROL_OPTIONS = {
  heartbeatIntervalMs: 5_000,
  /** Control messages are valid for a minute: a client without a fresh heartbeat stops buying. */
  controlTtlMs: 60_000,
  /** Device tokens are valid for 30 days, then re-issued. */
  deviceTokenTtlMs: 30 * 24 * 60 * 60 * 1000,
  startingBalances: { USDT: 10_000 },
  /** Datafeeds publish 1h candles today. */
  candleIntervalMs: 3_600_000,
};

export interface ControlServer {
  /** Starts the HTTP API (and the paper exchange on `paperPort`); resolves to the API's URL. */
  listen(port?: number, host?: string, paperPort?: number): Promise<string>;
  paperUrl?: string;
  paper?: PaperExchange;
  registry: DeviceRegistry;
  control: ControlPublisher;
  close(): Promise<void>;
}

export async function startControlServer(o: ControlServerOptions): Promise<ControlServer> {
  const now = o.now ?? Date.now;
  const registry = await DeviceRegistry.open(o.dataDir ? join(o.dataDir, 'devices.json') : undefined);
  const fleet = new FleetView(o.onlineWindowMs);
  const control = new ControlPublisher({
    bus: o.bus,
    signer: o.signer,
    logger: o.logger,
    now,
    origin: 'control',
    eligibility: o.eligibility ?? {},
    policies: o.policies ?? { family: DEFAULT_FAMILY_POLICY },
    revoked: registry.revokedIds(),
    heartbeatIntervalMs: o.heartbeatIntervalMs ?? DEFAULT_CONTROL_OPTIONS.heartbeatIntervalMs,
    ttlMs: o.controlTtlMs ?? DEFAULT_CONTROL_OPTIONS.controlTtlMs,
  });
  const subs: Subscription[] = [];
  subs.push(
    await o.bus.subscribe({
      topic: TOPICS.telemetry,
      from: 'latest',
      onMessage: (m) => {
        try {
          fleet.apply(JSON.parse(m.value.toString()));
        } catch {
          o.logger.warn({ offset: m.offset }, 'unreadable telemetry record');
        }
      },
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
    subs.push(
      await o.bus.subscribe({
        topic: TOPICS.candles,
        from: 'earliest',
        onMessage: (m) => {
          const c = CandleMessage.safeParse(JSON.parse(m.value.toString()));
          if (c.success) exchange.onCandle(c.data.symbol, c.data);
        },
      }),
    );
    createPaperAccount = (deviceId: string) => {
      const account = {
        apiKey: randomBytes(24).toString('base64url'),
        secret: randomBytes(32).toString('base64url'),
      };
      exchange.addAccount({ ...account, balances: { ...balances }, label: deviceId });
      return account;
    };
  }
  await Promise.all(subs.map((s) => s.ready));
  await control.start();

  const app = buildApp({
    registry,
    fleet,
    control,
    tokenSigner: o.signer,
    adminToken: o.adminToken,
    logger: o.logger,
    now,
    deviceTokenTtlMs: o.deviceTokenTtlMs ?? DEFAULT_CONTROL_OPTIONS.deviceTokenTtlMs,
    createPaperAccount,
  });

  const server: ControlServer = {
    registry,
    control,
    paper,
    async listen(port = 0, host = '127.0.0.1', paperPort = 0) {
      if (paper) server.paperUrl = await paper.listen({ port: paperPort, host });
      return app.listen({ port, host });
    },
    async close() {
      control.stop();
      for (const s of subs) await s.close();
      await app.close();
      await paper?.close();
    },
  };
  return server;
}
