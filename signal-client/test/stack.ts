import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { Test } from 'tap';
import {
  EmbeddedBus,
  KeyRing,
  TOPICS,
  createSignal,
  exportPublicKey,
  generateSigner,
  issueDeviceToken,
  type FleetCommand,
  type Signal,
  type SignalDraft,
  type Signer,
} from '@appliance/protocol';
import { ControlPublisher } from '@appliance/control-server';
import { DEFAULT_MARKETS, createPaperExchange, type PaperExchange } from '@appliance/paper-exchange';
import { createGateway } from '@appliance/gateway';
import { DEFAULT_FAMILY_POLICY, DEFAULT_FILL_COSTS } from '@appliance/trading-core';
import { waitFor } from '@appliance/test-kit';
import { createBinance } from '@appliance/runtime/ccxt';
import {
  ClientConfig,
  clientOrderId,
  createBinanceExecutor,
  createSignalClient,
  openStateStore,
  type SignalClient,
} from '../src/index.js';
import type { DecisionRecord } from '@appliance/protocol';

export const STREAM = 'ema.1h';

/** A fleet target's message body, as the control server publishes it (protocol's `fleet` kind). */
export interface FleetBody {
  target: string;
  halted: boolean;
  reason: string;
  commands: FleetCommand[];
}

/** A signed BTC/USDT buy on STREAM at 40,000, valid for a minute from now; `over` changes any field. */
export function signedSignal(signer: Signer, over: Partial<SignalDraft> = {}): Signal {
  return createSignal(
    {
      stream: STREAM,
      symbol: 'BTC/USDT',
      side: 'buy',
      price: 40_000,
      candleTime: 1_700_000_000_000,
      ts: Date.now(),
      ttlMs: 60_000,
      strength: 1,
      algoVersion: 't/1',
      origin: 'feed',
      ...over,
    },
    signer,
  );
}
const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

/** Embedded bus, a real gateway and a real paper exchange over HTTP: everything but Kafka. */
export async function startStack(
  t: Test,
  opts: {
    policy?: Partial<typeof DEFAULT_FAMILY_POLICY>;
    eligible?: string[];
    /** The fleet messages the control server publishes with each heartbeat (issue #14). */
    fleet?: () => FleetBody[];
  } = {},
) {
  const bus = new EmbeddedBus();
  const control = generateSigner();
  const feed = generateSigner();
  const paper: PaperExchange = createPaperExchange({
    markets: DEFAULT_MARKETS,
    costs: DEFAULT_FILL_COSTS,
    logger,
  });
  const paperUrl = await paper.listen({ port: 0 });
  const gateway = await createGateway({
    bus,
    tokenKeys: KeyRing.of(exportPublicKey(control.publicKey)),
    signalKeys: KeyRing.of(exportPublicKey(feed.publicKey)),
    logger,
  });
  const gatewayUrl = await gateway.listen(0);
  // Signed control state as the control server publishes it: breaker, eligibility, policy, heartbeat.
  const controlPublisher = new ControlPublisher({
    bus,
    signer: control,
    logger,
    now: Date.now,
    origin: 'control',
    eligibility: { [STREAM]: opts.eligible ?? ['BTC/USDT', 'ETH/USDT'] },
    policies: { family: { ...DEFAULT_FAMILY_POLICY, maxExposurePct: 1, cashReservePct: 0, ...opts.policy } },
    heartbeatIntervalMs: 1_000,
    ttlMs: 60_000,
    ...(opts.fleet && { fleet: opts.fleet }),
  });
  await controlPublisher.start();
  t.teardown(async () => {
    controlPublisher.stop();
    await gateway.close();
    await paper.close();
  });
  let candleTime = 1_700_000_000_000;
  let accounts = 0;

  /**
   * Publishes a candle at `market` (the exchange's price, by default the signal's: so the
   * exchange can fill) and a signal at `price` for it.
   */
  async function signal(
    side: 'buy' | 'sell',
    price: number,
    over: Partial<Signal> = {},
    signer: Signer = feed,
    market = price,
  ): Promise<Signal> {
    candleTime += 3_600_000;
    paper.onCandle('BTC/USDT', {
      time: candleTime,
      open: market,
      high: market,
      low: market,
      close: market,
      volume: 1,
    });
    const s = signedSignal(signer, { side, price, candleTime, ...over });
    await bus.publish(TOPICS.signals, [{ key: s.stream, value: JSON.stringify(s) }]);
    return s;
  }

  async function publishRaw(value: unknown) {
    await bus.publish(TOPICS.signals, [{ key: STREAM, value: JSON.stringify(value) }]);
  }

  /** A paper account with `usdt`, and `held` coins (held before the device was provisioned). */
  function account(usdt = 1_000, held: Record<string, number> = {}) {
    const acct = {
      apiKey: `key-${++accounts}-${'k'.repeat(20)}`,
      secret: `secret-${accounts}-${'s'.repeat(30)}`,
    };
    paper.addAccount({ ...acct, balances: { USDT: usdt, ...held } });
    return acct;
  }

  /** A device's configuration (as a config file would hold it) for this stack. */
  async function deviceConfig(id: string, stateFile: string, extra: object = {}, scope = 'family') {
    return {
      deviceId: id,
      gatewayUrl,
      token: issueDeviceToken({ sub: id, scope, iat: Date.now(), ttlMs: 3_600_000 }, control),
      signalKeys: [exportPublicKey(feed.publicKey)],
      controlKeys: [exportPublicKey(control.publicKey)],
      stateFile,
      exchange: { paperUrl },
      telemetryIntervalMs: 60_000,
      statusPort: 0,
      ...extra,
    };
  }

  /** A device on a state file; several clients may run on one file in turn (restarts). */
  async function device(
    opts: {
      id?: string;
      stateFile?: string;
      keys?: { apiKey: string; secret: string };
      policy?: object;
      config?: object;
      /** The profile its token is issued for (default family). */
      scope?: string;
    } = {},
  ) {
    const id = opts.id ?? 'dev-1';
    const keys = opts.keys ?? account();
    const stateFile = opts.stateFile ?? join(mkdtempSync(join(tmpdir(), 'device-')), 'state.json');
    const config = ClientConfig.parse(await deviceConfig(id, stateFile, opts.config, opts.scope));
    const store = await openStateStore(stateFile, id);
    const decisions: DecisionRecord[] = [];
    const client: SignalClient = createSignalClient({
      config,
      store,
      exchange: createBinanceExecutor({ ...keys, paperUrl }),
      logger,
    });
    client.on('decision', (d: DecisionRecord) => decisions.push(d));
    let caughtUp = 0;
    client.on('caught-up', () => caughtUp++);
    await client.start();
    await waitFor(() => caughtUp > 0, 'the device to catch up');
    t.teardown(() => client.stop());
    return {
      client,
      store,
      decisions,
      keys,
      stateFile,
      until: (n: number) => waitFor(() => decisions.length >= n, `${n} decisions`),
    };
  }

  /**
   * A crash after an order reached the exchange, before its answer was recorded: the order is
   * placed (through ccxt, under the derived client id) and the state file holds its intent,
   * pending, with the resume point not yet past it. Returns the client order id.
   */
  async function orderSentBeforeCrash(
    deviceId: string,
    keys: { apiKey: string; secret: string },
    stateFile: string,
    signal: Signal,
  ): Promise<string> {
    const id = clientOrderId(deviceId, signal.id);
    const ex = createBinance({ ...keys, baseUrl: paperUrl });
    await ex.loadMarkets();
    await ex.createOrder('BTC/USDT', 'market', 'buy', 0.001, undefined, { newClientOrderId: id });
    const state = JSON.parse(readFileSync(stateFile, 'utf8'));
    state.intents[id] = {
      clientOrderId: id,
      signalId: signal.id,
      stream: signal.stream,
      offset: '0',
      symbol: 'BTC/USDT',
      side: 'buy',
      amount: 0.001,
      quote: 40,
      expiresAt: Date.now() + 60_000,
      createdAt: Date.now(),
      sentAt: Date.now(),
      status: 'pending',
      attempts: 1,
    };
    // As the crash left it: the id admitted by the replay guard, the candle marked as acted on.
    state.seen.push([signal.id, Date.now() + 70_000]);
    state.lastCandle[`${signal.stream} ${signal.symbol}`] = signal.candleTime;
    writeFileSync(stateFile, JSON.stringify(state));
    return id;
  }

  return {
    bus,
    paper,
    orderSentBeforeCrash,
    paperUrl,
    feed,
    control,
    controlPublisher,
    signal,
    publishRaw,
    account,
    device,
    deviceConfig,
  };
}
