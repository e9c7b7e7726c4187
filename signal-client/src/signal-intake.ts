import type { Logger } from 'pino';
import {
  ProtocolError,
  verifySignal,
  type DecisionRecord,
  type KeyRing,
  type ReplayGuard,
  type Signal,
} from '@appliance/protocol';
import { decide, localTime, type Decision } from '@appliance/trading-core';
import { clientOrderId } from './client-order-id.js';
import type { ClientConfig } from './config.js';
import { portfolioView } from './control-view.js';
import type { Books } from './books.js';
import type { Controls } from './controls.js';
import type { DecisionLog } from './decision-log.js';
import type { Executor } from './exchange.js';
import type { Holdings } from './holdings.js';
import type { Orders } from './orders.js';
import type { ResumePoints } from './resume-points.js';
import { KEEP_SPENDS_MS, type ClientState, type Intent } from './state.js';

/**
 * Refusals that come only after the signature verified against a pinned key: the record is
 * genuine, so the device moves its resume point past it (if it was relayed under its own
 * stream's name). Anything else (malformed, unknown key, bad signature) never creates or moves one.
 */
const REFUSED_AFTER_SIGNATURE = new Set(['E_EXPIRED', 'E_NOT_YET_VALID', 'E_BAD_ID', 'E_REPLAYED']);

export interface SignalIntakeDeps {
  config: Pick<ClientConfig, 'deviceId' | 'maxClockSkewMs' | 'quote' | 'settings'>;
  state: ClientState;
  keys: KeyRing;
  /** Signal ids seen within their ttl (persisted as `state.seen`). */
  guard: ReplayGuard;
  exchange: Pick<Executor, 'marketRules'>;
  logger: Logger;
  now: () => number;
  resume: Pick<ResumePoints, 'handled' | 'notFollowed' | 'advance'>;
  controls: Pick<Controls, 'view'>;
  holdings: Pick<Holdings, 'balances' | 'marks' | 'price'>;
  books: Pick<Books, 'seedEquity'>;
  decisions: Pick<DecisionLog, 'finish' | 'reportOutcome' | 'outcomeRecord'>;
  orders: Pick<Orders, 'execute'>;
  persist: () => Promise<void>;
}

/**
 * Takes in each signal the gateway relays: skips what was handled, verifies and checks for
 * replays, decides, and for an accepted signal journals an intent and places its order. Every
 * signal relayed under a followed stream ends in exactly one recorded decision (unless it is
 * left to reconciliation, which records it).
 */
export function createSignalIntake(deps: SignalIntakeDeps): {
  onSignal(stream: string, offset: string, raw: unknown): Promise<void>;
} {
  const { config, state, guard, logger, now, resume, decisions } = deps;

  /**
   * A signal this device already made an order for (sent before a crash, its outcome not yet
   * known): the order's reconciliation settles it and moves the resume point; deciding it
   * again would reject it as a replay and leave the books without that order's fill. Returns
   * whether the signal was such a redelivery.
   */
  async function redelivered(stream: string, offset: string, raw: unknown): Promise<boolean> {
    const id = (raw as { id?: unknown } | null)?.id;
    const ordered = typeof id === 'string' ? state.intents[clientOrderId(config.deviceId, id)] : undefined;
    if (!ordered || ordered.stream !== stream || ordered.offset !== offset) return false;
    logger.info(
      { clientOrderId: ordered.clientOrderId, status: ordered.status },
      'signal already has an order: left to reconciliation',
    );
    if (ordered.status !== 'pending') {
      // Settled, and killed before its decision was kept: record it now, once.
      if (!ordered.reported) decisions.reportOutcome(ordered);
      resume.advance(stream, offset);
      await deps.persist();
    }
    return true;
  }

  /**
   * Verifies the signal (signature against the pinned keys, validity, id) and admits it past
   * the replay checks; throws a ProtocolError (or anything else, taken as malformed) if not.
   */
  function admit(stream: string, raw: unknown, t: number): Signal {
    const signal = verifySignal(raw, deps.keys, { now: t, maxClockSkewMs: config.maxClockSkewMs });
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
    return signal;
  }

  /** The decision recorded for a signal refused by `admit`, from what the unverified record says. */
  function refusal(stream: string, raw: unknown, pe: ProtocolError, t: number): DecisionRecord {
    const r = raw as Partial<Signal> | null;
    return {
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
    };
  }

  /** Builds decide's inputs for a verified signal (noting the day's start and recent spends) and runs it. */
  async function decideSignal(signal: Signal, t: number): Promise<Decision> {
    // The exchange's own price, asked now: decide checks the signal's price against it and sizes
    // a buy at it. Marks come only from the exchange, never from a signal (a signed price of
    // 1e308 once became a holding's valuation).
    const marketPrice = await deps.holdings.price(signal.symbol);
    const view = deps.controls.view();
    const portfolio = portfolioView(
      config.quote,
      deps.holdings.balances().free,
      deps.holdings.marks,
      signal.symbol,
    );
    const day = localTime(t, config.settings.timeZone).day;
    if (state.dayStart?.day !== day) state.dayStart = { day, equity: portfolio.equity };
    state.spends = state.spends.filter((x) => x.ts > t - KEEP_SPENDS_MS);
    return decide(
      { ...signal, authenticity: 'verified' },
      {
        quote: config.quote,
        ...portfolio,
        seedEquity: deps.books.seedEquity(portfolio.equity),
        dayStartEquity: state.dayStart.equity,
        spends: state.spends,
        lastHeartbeatAt: view.lastHeartbeatAt,
        breaker: view.breaker,
        fleetHalt: view.fleetHalt,
        eligibility: view.eligibility,
        marketPrice,
        market: deps.exchange.marketRules(signal.symbol),
      },
      view.policy,
      config.settings,
      t,
    );
  }

  async function onSignal(stream: string, offset: string, raw: unknown): Promise<void> {
    // Already handled before a reconnect or restart: the gateway resent it, skip quietly.
    if (resume.handled(stream, offset)) return;
    // Not followed: nothing to do and nothing to keep (a resume point per stream name someone
    // put on the bus would grow every hello).
    if (resume.notFollowed(stream)) return;
    if (await redelivered(stream, offset, raw)) return;
    let signal: Signal;
    const t = now();
    guard.prune(t);
    try {
      signal = admit(stream, raw, t);
    } catch (err) {
      const pe = err instanceof ProtocolError ? err : new ProtocolError('E_MALFORMED', String(err));
      // Genuine, and of this stream (its signed name): only then is the offset one to move past.
      const genuine =
        REFUSED_AFTER_SIGNATURE.has(pe.code) && (raw as Partial<Signal> | null)?.stream === stream;
      return decisions.finish(stream, genuine ? offset : undefined, refusal(stream, raw, pe, t));
    }
    const decision = await decideSignal(signal, t);
    const record = { signalId: signal.id, stream, symbol: signal.symbol, side: signal.side, ts: t };
    if (!decision.accept) {
      return decisions.finish(stream, offset, {
        ...record,
        outcome: 'rejected',
        code: decision.code,
        reason: decision.reason,
      });
    }
    const intent: Intent = {
      clientOrderId: clientOrderId(config.deviceId, signal.id),
      signalId: signal.id,
      stream,
      offset,
      symbol: signal.symbol,
      side: signal.side,
      amount: decision.amount,
      // A buy spends at most what decide approved, whatever the price (quoteOrderQty).
      ...(signal.side === 'buy' ? { quote: decision.quote } : {}),
      expiresAt: signal.ts + signal.ttlMs,
      createdAt: t,
      status: 'pending',
      attempts: 1,
    };
    state.intents[intent.clientOrderId] = intent;
    await deps.orders.execute(intent); // the intent is made durable before the order leaves the device
    // Kept in the same write as the decision: a crash between the order's settlement and this
    // write leaves a settled intent without `reported`, and its redelivery records it then.
    if (intent.status !== 'pending') intent.reported = true;
    return decisions.finish(stream, offset, decisions.outcomeRecord(intent, record));
  }

  return { onSignal };
}
