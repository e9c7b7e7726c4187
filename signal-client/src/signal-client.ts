import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import {
  GatewayFrame,
  KeyRing,
  ProtocolError,
  ReplayGuard,
  verifyControl,
  offsetGreater,
  verifySignal,
  type Control,
  type DecisionRecord,
  type Signal,
  type Telemetry,
} from '@appliance/protocol';
import { CAPITAL_ACCOUNT, Ledger, decide, localTime } from '@appliance/trading-core';
import { controlScope } from '@appliance/protocol';
import { controlView, portfolioView } from './control-view.js';
import type { RuntimeView } from './status.js';
import type { JournalHealth } from './systemd/index.js';
import { clientOrderId } from './client-order-id.js';
import type { ClientConfig } from './config.js';
import type { Balances, Executor, OrderResult } from './exchange.js';
import { createExecution } from './execution.js';
import { failpoint } from './failpoints.js';
import { GatewayConnection } from './gateway-connection.js';
import { DecisionOutbox } from './outbox.js';
import {
  KEEP_DECISIONS,
  KEEP_FINISHED_INTENTS,
  KEEP_SPENDS_MS,
  MAX_RESUME_STREAMS,
  MAX_SINCE_PARTITIONS,
  isOffset,
  isPartitionKey,
  isStreamName,
  type Intent,
} from './state.js';
import type { StateStore } from './state-store.js';

export interface SignalClientDeps {
  config: ClientConfig;
  store: StateStore;
  exchange: Executor;
  logger: Logger;
  now?: () => number;
}

/** Events, for tests and the local status page: `decision`, `connected`, `disconnected`, `ready`. */
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
 * Refusals that come only after the signature verified against a pinned key: the record is
 * genuine, so the device moves its resume point past it (if it was relayed under its own
 * stream's name). Anything else (malformed, unknown key, bad signature) never creates or moves one.
 */
const REFUSED_AFTER_SIGNATURE = new Set(['E_EXPIRED', 'E_NOT_YET_VALID', 'E_BAD_ID', 'E_REPLAYED']);

/** Frames from the gateway that are ignored as malformed are logged at most once per this. */
const BAD_FRAME_WARN_INTERVAL_MS = 10_000;

export function createSignalClient(deps: SignalClientDeps): SignalClient {
  const { config, store, exchange, logger } = deps;
  const now = deps.now ?? Date.now;
  const signalKeys = KeyRing.of(...config.signalKeys);
  const controlKeys = KeyRing.of(...config.controlKeys);
  const state = store.data;
  const guard = new ReplayGuard(state.seen, config.maxClockSkewMs);
  const followed = new Set(config.settings.streams);
  const controls = new Map<string, Control>();
  const marks = new Map<string, number>();
  const errors: string[] = [];
  let balances: Balances = { free: {}, total: {} };
  let ledger: Ledger | undefined = state.ledger === undefined ? undefined : Ledger.fromJSON(state.ledger);
  let queue: Promise<void> = Promise.resolve();
  let telemetryTimer: NodeJS.Timeout | undefined;
  let reconciling = false;
  const events = new EventEmitter();

  const connection = new GatewayConnection({
    url: config.gatewayUrl,
    token: config.token,
    logger,
    hello: () => ({
      type: 'hello',
      deviceId: config.deviceId,
      version: '0.1.0',
      resume: { ...state.resume },
      ...(state.since ? { since: { ...state.since } } : {}),
    }),
    onFrame: (frame) => {
      queue = queue
        .then(() => onFrame(frame))
        .catch((err: unknown) => noteError('frame handling failed', err));
    },
    onState: (up) => {
      events.emit(up ? 'connected' : 'disconnected');
      if (up) {
        sendTelemetry();
        outbox.connected(); // right after the hello: every report not yet acknowledged, again
      } else outbox.disconnected();
    },
    onProblem: (text) => recordError(text),
  });

  const outbox = new DecisionOutbox({
    deviceId: config.deviceId,
    state: state.outbox,
    send: (frame) => connection.send(frame),
    logger,
    now,
    onLoss: (text) => recordError(text),
  });

  /** For the `errors` of telemetry (the caller has logged it). */
  function recordError(text: string): void {
    errors.push(text.slice(0, 300));
    if (errors.length > 20) errors.shift();
  }

  function noteError(what: string, err: unknown): void {
    recordError(`${what}: ${err instanceof Error ? err.message : String(err)}`);
    logger.error({ err: err instanceof Error ? err.message : String(err) }, what);
  }

  const journal: JournalHealth = { lastOkAt: null, lastFailedAt: null };

  async function persist(): Promise<void> {
    state.seen = guard.entries();
    if (ledger) state.ledger = ledger.toJSON();
    try {
      await store.write();
      journal.lastOkAt = now();
    } catch (err) {
      // A journal that cannot be written stops the watchdog: systemd restarts the device.
      journal.lastFailedAt = now();
      journal.lastError = (err as Error).message;
      throw err;
    }
  }

  /** Frames that did not parse since the last warning about them (see `ignoreFrame`). */
  let badFrames = { lastWarnAt: -Infinity, suppressed: 0 };

  /**
   * A frame that is not one the gateway sends changes nothing: it is counted and logged, at
   * most once per BAD_FRAME_WARN_INTERVAL_MS (a broken or hostile gateway must not flood the log).
   */
  function ignoreFrame(what: string, detail: object = {}): void {
    const t = now();
    if (t - badFrames.lastWarnAt < BAD_FRAME_WARN_INTERVAL_MS) {
      badFrames.suppressed++;
      return;
    }
    logger.warn({ ...detail, suppressed: badFrames.suppressed }, `${what}: ignored`);
    badFrames = { lastWarnAt: t, suppressed: 0 };
  }

  async function onFrame(raw: unknown): Promise<void> {
    const parsed = GatewayFrame.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const type = (raw as { type?: unknown } | null)?.type;
      return ignoreFrame('gateway sent a frame that is not a gateway frame', {
        type: typeof type === 'string' ? type.slice(0, 32) : typeof type,
        issue: `${issue?.path.join('.') || 'frame'}: ${issue?.message}`.slice(0, 200),
      });
    }
    const frame = parsed.data;
    if (frame.type === 'signal') {
      // Only names and offsets a hello can carry: anything else would poison the state file.
      if (!isStreamName(frame.stream) || !isOffset(frame.offset))
        return ignoreFrame('gateway sent a signal frame with a bad stream or offset');
      await onSignal(frame.stream, frame.offset, frame.signal);
    } else if (frame.type === 'ack') {
      if (outbox.ack(frame.seq)) await persist();
    } else if (frame.type === 'control') {
      onControl(frame.control);
    } else if (frame.type === 'caught-up') {
      await adoptPositions(frame.positions, frame.partitions);
      events.emit('caught-up');
    }
  }

  /**
   * Followed streams this device has no resume point for start where the gateway says it now
   * stands (only followed ones: the gateway's list is not signed, and following every stream,
   * `since` covers them); and where it stands per partition becomes the next hello's `since`, so
   * a stream that starts while this device is offline is sent from its beginning. Every signal
   * before this frame has been handled and persisted (frames are handled in order), so neither
   * can run ahead of the device.
   */
  async function adoptPositions(
    positions: Record<string, string>,
    partitions: Record<string, string> | undefined,
  ): Promise<void> {
    const entries = (v: Record<string, string> | undefined) =>
      v ? Object.entries(v).filter((e) => isOffset(e[1])) : [];
    let changed = false;
    for (const [stream, offset] of entries(positions)) {
      if (followed.has(stream) && state.resume[stream] === undefined) {
        state.resume[stream] = offset;
        changed = true;
      }
    }
    if (partitions && !state.since) {
      state.since = {}; // live once: from now on a new stream is owed from its start
      changed = true;
    }
    for (const [partition, offset] of entries(partitions)) {
      const since = state.since;
      if (!since || !isPartitionKey(partition)) continue;
      const held = since[partition];
      if (held === undefined && Object.keys(since).length >= MAX_SINCE_PARTITIONS) continue;
      if (held === undefined || offsetGreater(offset, held)) {
        since[partition] = offset;
        changed = true;
      }
    }
    if (changed) await persist();
  }

  let resumeFullReported = false;

  /**
   * The only writer of resume points besides adoptPositions: for streams this device follows,
   * from genuine signals only (the callers see to that), so no outsider can grow the hello.
   * Following every stream, at most MAX_RESUME_STREAMS streams get one; a stream past that is
   * still handled, and after a reconnect is sent again from `since` (refused as replays).
   */
  function advanceResume(stream: string, offset: string): void {
    const held = state.resume[stream];
    if (held === undefined) {
      if (followed.size > 0 && !followed.has(stream)) return;
      if (Object.keys(state.resume).length >= MAX_RESUME_STREAMS) {
        if (!resumeFullReported) {
          resumeFullReported = true;
          const text = `more than ${MAX_RESUME_STREAMS} signed streams: no resume point kept for ${stream} and any further stream (follow fewer streams in settings.streams)`;
          logger.error({ stream }, text);
          recordError(text);
        }
        return;
      }
    }
    state.resume[stream] = maxOffset(held, offset);
  }

  function onControl(raw: unknown): void {
    try {
      const c = verifyControl(raw, controlKeys, { now: now(), maxClockSkewMs: config.maxClockSkewMs });
      const scope = controlScope(c);
      const held = controls.get(scope);
      if (!held || held.version <= c.version) controls.set(scope, c);
    } catch (err) {
      const code = err instanceof ProtocolError ? err.code : 'E_MALFORMED';
      logger.warn({ code, reason: (err as Error).message }, 'control message rejected');
    }
  }

  async function onSignal(stream: string, offset: string, raw: unknown): Promise<void> {
    // Already handled before a reconnect or restart: the gateway resent it, skip quietly.
    const handled = state.resume[stream];
    if (handled !== undefined && !offsetGreater(offset, handled)) return;
    // Not followed: nothing to do and nothing to keep (a resume point per stream name someone
    // put on the bus would grow every hello).
    if (followed.size > 0 && !followed.has(stream)) return;
    // A signal this device already made an order for (sent before a crash, its outcome not yet
    // known): the order's reconciliation settles it and moves the resume point; deciding it
    // again would reject it as a replay and leave the books without that order's fill.
    const id = (raw as { id?: unknown } | null)?.id;
    const ordered = typeof id === 'string' ? state.intents[clientOrderId(config.deviceId, id)] : undefined;
    if (ordered && ordered.stream === stream && ordered.offset === offset) {
      logger.info(
        { clientOrderId: ordered.clientOrderId, status: ordered.status },
        'signal already has an order: left to reconciliation',
      );
      if (ordered.status !== 'pending') {
        // Settled, and killed before its decision was kept: record it now, once.
        if (!ordered.reported) reportOutcome(ordered);
        advanceResume(stream, offset);
        await persist();
      }
      return;
    }
    let signal: Signal;
    const t = now();
    guard.prune(t);
    try {
      signal = verifySignal(raw, signalKeys, { now: t, maxClockSkewMs: config.maxClockSkewMs });
      if (signal.stream !== stream)
        throw new ProtocolError('E_MALFORMED', `signal of stream ${signal.stream} relayed as ${stream}`);
      guard.admit(signal.id, signal.ts + signal.ttlMs);
      // The replay guard forgets ids after their ttl; a re-signed old candle must still not trade.
      const key = `${signal.stream} ${signal.symbol}`;
      const newest = state.lastCandle[key];
      if (newest !== undefined && signal.candleTime <= newest) {
        throw new ProtocolError(
          'E_REPLAYED',
          `signal for candle ${signal.candleTime} is not newer than one already handled (${newest})`,
        );
      }
      state.lastCandle[key] = signal.candleTime;
    } catch (err) {
      const pe = err instanceof ProtocolError ? err : new ProtocolError('E_MALFORMED', String(err));
      const r = raw as Partial<Signal> | null;
      // Genuine, and of this stream (its signed name): only then is the offset one to move past.
      const genuine = REFUSED_AFTER_SIGNATURE.has(pe.code) && r?.stream === stream;
      return finish(stream, genuine ? offset : undefined, {
        signalId: String(r?.id ?? 'unknown').slice(0, 64),
        stream,
        symbol:
          typeof r?.symbol === 'string' && /^[A-Z0-9]{1,20}\/[A-Z0-9]{1,20}$/.test(r.symbol)
            ? r.symbol
            : 'UNKNOWN/UNKNOWN',
        side: r?.side === 'sell' ? 'sell' : 'buy',
        outcome: 'rejected',
        code: pe.code,
        reason: pe.message.slice(0, 300),
        ts: t,
      });
    }
    // The exchange's own price, asked now: decide checks the signal's price against it and sizes
    // a buy at it. Marks come only from the exchange, never from a signal (a signed price of
    // 1e308 once became a holding's valuation).
    const marketPrice = await exchangePrice(signal.symbol);
    const view = controlView(controls, config.profile);
    const portfolio = portfolioView(config.quote, balances.free, marks, signal.symbol);
    const day = localTime(t, config.settings.timeZone).day;
    if (state.dayStart?.day !== day) state.dayStart = { day, equity: portfolio.equity };
    state.spends = state.spends.filter((x) => x.ts > t - KEEP_SPENDS_MS);
    const decision = decide(
      { ...signal, authenticity: 'verified' },
      {
        quote: config.quote,
        ...portfolio,
        seedEquity: ledger ? -(ledger.balances()[CAPITAL_ACCOUNT] ?? 0) : portfolio.equity,
        dayStartEquity: state.dayStart.equity,
        spends: state.spends,
        lastHeartbeatAt: view.lastHeartbeatAt,
        breaker: view.breaker,
        eligibility: view.eligibility,
        marketPrice,
        market: exchange.marketRules(signal.symbol),
      },
      view.policy,
      config.settings,
      t,
    );
    const record = { signalId: signal.id, stream, symbol: signal.symbol, side: signal.side, ts: t };
    if (!decision.accept) {
      return finish(stream, offset, {
        ...record,
        outcome: 'rejected',
        code: decision.code,
        reason: decision.reason,
      });
    }
    const amount = decision.amount;
    const intent: Intent = {
      clientOrderId: clientOrderId(config.deviceId, signal.id),
      signalId: signal.id,
      stream,
      offset,
      symbol: signal.symbol,
      side: signal.side,
      amount,
      // A buy spends at most what decide approved, whatever the price (quoteOrderQty).
      ...(signal.side === 'buy' ? { quote: decision.quote } : {}),
      expiresAt: signal.ts + signal.ttlMs,
      createdAt: t,
      status: 'pending',
      attempts: 1,
    };
    state.intents[intent.clientOrderId] = intent;
    await execute(intent); // the intent is made durable before the order leaves the device
    // Kept in the same write as the decision: a crash between the order's settlement and this
    // write leaves a settled intent without `reported`, and its redelivery records it then.
    if (intent.status !== 'pending') intent.reported = true;
    return finish(stream, offset, outcomeRecord(intent, record));
  }

  function outcomeRecord(
    intent: Intent,
    record: Omit<DecisionRecord, 'outcome' | 'code' | 'reason'>,
  ): DecisionRecord {
    if (intent.status === 'done') {
      return {
        ...record,
        outcome: 'executed',
        code: 'OK',
        reason: `${intent.side} ${intent.result?.filled} ${intent.symbol}`,
        amount: intent.result?.filled,
      };
    }
    if (intent.status === 'pending') {
      return {
        ...record,
        outcome: 'failed',
        code: 'E_UNREACHABLE',
        reason: 'order outcome unknown: will reconcile',
      };
    }
    return {
      ...record,
      outcome: 'failed',
      code: intent.error?.split(':')[0] ?? 'E_EXCHANGE',
      reason: (intent.error ?? 'failed').slice(0, 300),
    };
  }

  /** Records a decision and moves the stream's resume point past a genuine signal (`offset`). */
  async function finish(stream: string, offset: string | undefined, decision: DecisionRecord): Promise<void> {
    if (offset !== undefined) advanceResume(stream, offset);
    recordDecision(decision);
    pruneIntents();
    await persist();
  }

  /** Records the final decision of a settled intent (the caller persists). */
  function reportOutcome(intent: Intent): void {
    const base = {
      signalId: intent.signalId,
      stream: intent.stream,
      symbol: intent.symbol,
      side: intent.side,
      ts: now(),
    };
    recordDecision(outcomeRecord(intent, base));
    intent.reported = true;
  }

  /**
   * Keeps the decision for status and telemetry and puts its report in the outbox, which sends
   * it until the gateway acknowledges it (the caller persists both).
   */
  function recordDecision(decision: DecisionRecord): void {
    state.decisions.push(decision);
    if (state.decisions.length > KEEP_DECISIONS)
      state.decisions.splice(0, state.decisions.length - KEEP_DECISIONS);
    logger.info(
      { signal: decision.signalId, outcome: decision.outcome, code: decision.code, reason: decision.reason },
      'decision',
    );
    outbox.add(decision);
    events.emit('decision', decision);
  }

  function pruneIntents(): void {
    const finished = Object.values(state.intents).filter((i) => i.status !== 'pending');
    if (finished.length <= KEEP_FINISHED_INTENTS) return;
    finished.sort((a, b) => a.createdAt - b.createdAt);
    for (const i of finished.slice(0, finished.length - KEEP_FINISHED_INTENTS))
      delete state.intents[i.clientOrderId];
  }

  /** Books, counters and spend for an order the exchange has answered for. */
  function onSettled(intent: Intent, result: OrderResult): void {
    if (intent.side === 'buy' && result.cost > 0) state.spends.push({ ts: now(), quote: result.cost });
    if (!(result.filled > 0)) return;
    state.fills++;
    try {
      ledger?.applyFill({
        asset: intent.symbol.split('/')[0]!,
        side: intent.side,
        quantity: result.filled,
        price: result.cost / result.filled,
        fee: result.fee,
        ts: now(),
        ref: intent.clientOrderId,
      });
    } catch (err) {
      noteError(`books could not record fill ${intent.clientOrderId}`, err);
    }
  }

  const execution = createExecution({
    exchange,
    logger,
    now,
    options: config.execution,
    persist,
    onSettled,
    knownOrderIds: () =>
      new Set(Object.values(state.intents).flatMap((i) => (i.result ? [i.result.orderId] : []))),
  });

  async function execute(intent: Intent): Promise<void> {
    await execution.execute(intent);
    await refreshBalances();
    await persist();
    failpoint('after-persist');
  }

  /**
   * Before the device is ready, every intent left pending by a crash is settled with the
   * exchange (see execution.ts): found, it is recorded; absent over the grace period and still
   * fresh, it is sent again under the same client id; stale, it is abandoned.
   */
  async function reconcile(): Promise<void> {
    for (const intent of Object.values(state.intents)) {
      if (intent.status !== 'pending') continue;
      await execution.reconcile(intent);
      if (intent.status !== 'pending') {
        advanceResume(intent.stream, intent.offset);
        reportOutcome(intent);
      }
      await persist();
      logger.info({ clientOrderId: intent.clientOrderId, status: intent.status }, 'reconciled intent');
    }
  }

  function maxOffset(a: string | undefined, b: string): string {
    return a === undefined || offsetGreater(b, a) ? b : a;
  }

  /**
   * The exchange's current price of `symbol`, which also becomes its mark; null when the
   * exchange cannot tell (decide then places no buy; a sell still goes through).
   */
  async function exchangePrice(symbol: string): Promise<number | null> {
    try {
      const price = (await exchange.prices([symbol]))[symbol];
      if (price === undefined) return null;
      marks.set(symbol, price);
      return price;
    } catch (err) {
      noteError(`could not read the exchange's price of ${symbol}`, err);
      return null;
    }
  }

  /** Balances, and prices for what is held (a holding with no price would stop all buys). */
  async function refreshBalances(): Promise<void> {
    try {
      balances = await exchange.balances();
      const held = Object.keys(balances.total).filter(
        (a) => a !== config.quote && (balances.total[a] ?? 0) > 0,
      );
      const prices = await exchange.prices(held.map((a) => `${a}/${config.quote}`));
      for (const [symbol, price] of Object.entries(prices)) marks.set(symbol, price);
    } catch (err) {
      noteError('could not read balances', err);
    }
  }

  function spentToday(t: number): number {
    const day = localTime(t, config.settings.timeZone).day;
    return state.spends
      .filter((x) => localTime(x.ts, config.settings.timeZone).day === day)
      .reduce((sum, x) => sum + x.quote, 0);
  }

  function sendTelemetry(): void {
    const positions: Record<string, number> = {};
    let equity = balances.total[config.quote] ?? 0;
    for (const [asset, qty] of Object.entries(balances.total)) {
      if (asset === config.quote || !(qty > 0)) continue;
      positions[asset] = qty;
      equity += qty * (marks.get(`${asset}/${config.quote}`) ?? 0);
    }
    const frame: Telemetry = {
      type: 'telemetry',
      deviceId: config.deviceId,
      ts: now(),
      quote: config.quote,
      equity,
      cash: balances.free[config.quote] ?? 0,
      positions,
      spendToday: spentToday(now()),
      fills: state.fills,
      lastDecisions: state.decisions.slice(-10),
      errors: errors.slice(-10),
    };
    connection.send(frame);
  }

  return Object.assign(events, {
    async start() {
      await exchange.loadMarkets();
      if (!ledger) {
        // Books open with what the exchange holds before this device's first trade.
        const opening = await exchange.balances();
        const seed = opening.total[config.quote] ?? 0;
        if (seed > 0) ledger = new Ledger({ quote: config.quote, seed, ts: now(), ref: 'opening-balance' });
      }
      await reconcile();
      await refreshBalances();
      connection.start();
      telemetryTimer = setInterval(() => {
        void refreshBalances().then(sendTelemetry);
        // An order whose fate the exchange could not tell at start is asked about again, in
        // turn with the signals (never two settlements of one intent at once).
        if (!reconciling && Object.values(state.intents).some((i) => i.status === 'pending')) {
          reconciling = true;
          queue = queue
            .then(reconcile)
            .catch((err: unknown) => noteError('reconciliation failed', err))
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
    },
    idle: () => queue,
    get connected() {
      return connection.connected;
    },
    journalHealth: () => ({ ...journal }),
    decisionsToday: () => {
      const day = localTime(now(), config.settings.timeZone).day;
      return state.decisions.filter((d) => localTime(d.ts, config.settings.timeZone).day === day).length;
    },
    runtime(): RuntimeView {
      return {
        connected: connection.connected,
        breaker: controlView(controls, config.profile).breaker?.level ?? null,
        marks: Object.fromEntries(marks),
      };
    },
  }) as SignalClient;
}
