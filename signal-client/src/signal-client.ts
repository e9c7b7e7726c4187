import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { KeyRing, ReplayGuard } from '@appliance/protocol';
import { createBooks } from './books.js';
import { createCommands } from './commands.js';
import type { ClientConfig } from './config.js';
import { createControls } from './controls.js';
import { createDecisionLog } from './decision-log.js';
import type { Executor } from './exchange.js';
import { GatewayConnection, type ConnectionTls, type CurrentCredential } from './gateway-connection.js';
import { loadGatewayTls } from './gateway-tls.js';
import { createHoldings } from './holdings.js';
import { createInboundFrames } from './inbound-frames.js';
import { createJournal } from './journal.js';
import { createOrders } from './orders.js';
import { DecisionOutbox } from './outbox.js';
import { deviceProfile } from './profile.js';
import { createResumePoints } from './resume-points.js';
import { createSignalIntake } from './signal-intake.js';
import type { StateStore } from './state-store.js';
import type { RuntimeView } from './status.js';
import type { JournalHealth } from './systemd/index.js';
import { createErrorList, createTelemetry } from './telemetry.js';

/**
 * What `signal-client run` logs (at info) once it can act: state loaded and every pending intent
 * reconciled. It is not connected yet: 'connected to gateway', or the reason it cannot, follows.
 */
export const READY_MESSAGE = 'ready: state loaded and intents reconciled; connecting to the gateway';

export interface SignalClientDeps {
  config: ClientConfig;
  store: StateStore;
  exchange: Executor;
  logger: Logger;
  now?: () => number;
  /** `config.gatewayTls` loaded (main.ts loads it at start to exit 2 on a bad file); default: loaded here. */
  gatewayTls?: ConnectionTls;
  /**
   * An enrolled device (enrolment/renewal.ts `EnrolledDevice`): its current credential and device
   * key, read at each connection attempt (with a proof), told of refusals (401: renew), and its
   * renewal failures go to telemetry's error list. Absent: `config.token`, as provisioned.
   */
  credentials?: DeviceCredentials;
}

/** What the client needs of an enrolled device's credential keeper. */
export interface DeviceCredentials {
  current(): CurrentCredential;
  refused(status: number): void;
  onProblem: ((text: string) => void) | undefined;
}

/**
 * Events, for tests and the local status page: `decision`, `connected`, `disconnected`,
 * `caught-up`, `ready`.
 */
export interface SignalClient extends EventEmitter {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Resolves when every frame received so far has been handled. */
  idle(): Promise<void>;
  readonly connected: boolean;
  /** What only the running client knows, for the status page. */
  runtime(): RuntimeView;
  /** The last durable writes of the journal, for the watchdog. */
  journalHealth(): JournalHealth;
  decisionsToday(): number;
}

/**
 * The device: puts together the parts below, each owning one thing, and runs the gateway's
 * frames and reconciliation one at a time, in order, on one queue.
 *
 * - signal-intake.ts: each relayed signal, from verification to its decision and order
 * - resume-points.ts: where the device stands on the bus (the hello's `resume` and `since`)
 * - decision-log.ts: recorded decisions, their reports in the outbox, pruning of finished intents
 * - orders.ts (with execution.ts): journalled intents sent to the exchange and settled
 * - books.ts, holdings.ts: the ledger and spends; balances and marks from the exchange
 * - commands.ts: fleet commands (halt, resume, flat), each once, acknowledged through the outbox
 * - controls.ts, inbound-frames.ts, telemetry.ts, journal.ts: control messages, frame
 *   dispatch, telemetry and its errors, durable writes
 */
export function createSignalClient(deps: SignalClientDeps): SignalClient {
  const { config, store, exchange, logger } = deps;
  const now = deps.now ?? Date.now;
  const signalKeys = KeyRing.of(...config.signalKeys);
  const controlKeys = KeyRing.of(...config.controlKeys);
  const state = store.data;
  const guard = new ReplayGuard(state.seen, config.maxClockSkewMs);
  const events = new EventEmitter();
  let queue: Promise<void> = Promise.resolve();
  let telemetryTimer: NodeJS.Timeout | undefined;
  let reconciling = false;

  const errors = createErrorList(logger);
  const holdings = createHoldings({ exchange, quote: config.quote, errors });
  const books = createBooks({ state, exchange, quote: config.quote, errors, now });
  const journal = createJournal({
    store,
    now,
    collect: () => {
      state.seen = guard.entries();
      books.save();
    },
  });
  const persist = journal.persist;
  const resume = createResumePoints({ state, streams: config.settings.streams, logger, errors, persist });
  // The token's scope; a config profile that disagrees throws a ConfigError (main.ts: exit 2).
  const { profile } = deviceProfile(config);
  const controls = createControls({
    keys: controlKeys,
    device: { deviceId: config.deviceId, profile },
    maxClockSkewMs: config.maxClockSkewMs,
    now,
    logger,
  });

  const connection = new GatewayConnection({
    url: config.gatewayUrl,
    token: deps.credentials ? () => deps.credentials!.current() : config.token,
    ...(deps.credentials && { onRefused: (status: number) => deps.credentials!.refused(status) }),
    tls: deps.gatewayTls ?? loadGatewayTls(config.gatewayTls),
    logger,
    hello: () => ({
      type: 'hello',
      deviceId: config.deviceId,
      version: '0.1.0',
      ...resume.forHello(),
    }),
    onFrame: (frame) => {
      queue = queue
        .then(() => frames.handle(frame))
        .catch((err: unknown) => errors.note('frame handling failed', err));
    },
    onState: (up) => {
      events.emit(up ? 'connected' : 'disconnected');
      if (up) {
        telemetry.send();
        outbox.connected(); // right after the hello: every report not yet acknowledged, again
      } else outbox.disconnected();
    },
    onProblem: (text) => errors.record(text),
  });

  if (deps.credentials) deps.credentials.onProblem = (text) => errors.record(text);

  const outbox = new DecisionOutbox({
    deviceId: config.deviceId,
    state: state.outbox,
    send: (frame) => connection.send(frame),
    logger,
    now,
    onLoss: (text) => errors.record(text),
  });

  const telemetry = createTelemetry({
    config,
    state,
    holdings,
    errors,
    now,
    send: (frame) => connection.send(frame),
    policy: () => controls.view().policyVersion,
  });

  const decisions = createDecisionLog({
    state,
    outbox,
    logger,
    now,
    timeZone: config.settings.timeZone,
    advanceResume: resume.advance,
    persist,
    onDecision: (decision) => events.emit('decision', decision),
  });

  const orders = createOrders({
    exchange,
    logger,
    now,
    options: config.execution,
    state,
    persist,
    persistIntent: journal.persistIntent,
    onSettled: books.onSettled,
    refreshBalances: holdings.refresh,
    advanceResume: resume.advance,
    reportOutcome: decisions.reportOutcome,
  });

  const intake = createSignalIntake({
    config,
    state,
    keys: signalKeys,
    guard,
    exchange,
    logger,
    now,
    resume,
    controls,
    holdings,
    books,
    decisions,
    orders,
    persist,
  });

  const commands = createCommands({
    deviceId: config.deviceId,
    quote: config.quote,
    state,
    controls,
    exchange,
    holdings,
    books,
    orders,
    outbox,
    persist,
    logger,
    now,
  });

  const frames = createInboundFrames({
    logger,
    now,
    onSignal: intake.onSignal,
    outbox,
    controls,
    resume,
    persist,
    onFleet: () => commands.poll(),
    onCaughtUp: () => events.emit('caught-up'),
  });

  const client = Object.assign(events, {
    async start() {
      await exchange.loadMarkets();
      await books.open();
      // Before the device is ready, every intent left pending by a crash is settled with the
      // exchange (see orders.ts and execution.ts).
      await orders.reconcile();
      // A fleet command left unfinished (a crash mid-flat) carries on before anything else.
      await commands.poll();
      await holdings.refresh();
      connection.start();
      telemetryTimer = setInterval(() => {
        void holdings.refresh().then(() => telemetry.send());
        // An order whose fate the exchange could not tell at start is asked about again, in
        // turn with the signals (never two settlements of one intent at once).
        if (!reconciling && (orders.pending() || commands.unfinished())) {
          reconciling = true;
          queue = queue
            .then(() => orders.reconcile())
            .then(() => (commands.unfinished() ? commands.poll() : undefined))
            .catch((err: unknown) => errors.note('reconciliation failed', err))
            .finally(() => (reconciling = false));
        }
      }, config.telemetryIntervalMs);
      telemetryTimer.unref();
      events.emit('ready');
    },
    async stop() {
      clearInterval(telemetryTimer);
      outbox.stop();
      await connection.stop();
      await queue;
      await persist();
      await store.close();
    },
    idle: () => queue,
    journalHealth: () => journal.health(),
    decisionsToday: () => decisions.countToday(),
    runtime(): RuntimeView {
      return {
        connected: connection.connected,
        gatewayProblem: connection.lastFailure ?? null,
        breaker: controls.view().breaker,
        fleetHalt: controls.view().fleetHalt,
        marks: Object.fromEntries(holdings.marks),
      };
    },
  });
  // A live getter: Object.assign would copy its value once, at creation (always false).
  return Object.defineProperty(client, 'connected', {
    get: () => connection.connected,
    enumerable: true,
  }) as unknown as SignalClient;
}
