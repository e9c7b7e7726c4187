import type { Logger } from 'pino';
import type { DecisionRecord } from '@appliance/protocol';
import { localTime } from '@appliance/trading-core';
import type { DecisionOutbox } from './outbox.js';
import { KEEP_DECISIONS, KEEP_FINISHED_INTENTS, type ClientState, type Intent } from './state.js';

export interface DecisionLogDeps {
  state: ClientState;
  outbox: Pick<DecisionOutbox, 'add'>;
  logger: Logger;
  now: () => number;
  timeZone: string;
  /** Moves a stream's resume point (see resume-points.ts); the caller persists. */
  advanceResume: (stream: string, offset: string) => void;
  persist: () => Promise<void>;
  /** Each decision as it is recorded (the client's `decision` event). */
  onDecision: (decision: DecisionRecord) => void;
}

/** A decision's fields that do not depend on its outcome. */
export type DecisionBase = Omit<DecisionRecord, 'outcome' | 'code' | 'reason'>;

/**
 * The device's decisions (the last KEEP_DECISIONS, for status and telemetry) and their reports
 * in the outbox, and the finished intents they leave behind.
 */
export interface DecisionLog {
  /**
   * Records a decision and moves the stream's resume point past a genuine signal (`offset`),
   * both in one durable write.
   */
  finish(stream: string, offset: string | undefined, decision: DecisionRecord): Promise<void>;
  /** Records the final decision of a settled intent and marks it `reported` (the caller persists). */
  reportOutcome(intent: Intent): void;
  /** The decision an intent's outcome makes. */
  outcomeRecord(intent: Intent, record: DecisionBase): DecisionRecord;
  /** Decisions recorded today, in the device's time zone. */
  countToday(): number;
}

export function createDecisionLog(deps: DecisionLogDeps): DecisionLog {
  const { state, outbox, logger, now, timeZone } = deps;

  function outcomeRecord(intent: Intent, record: DecisionBase): DecisionRecord {
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
      code: intent.error?.code ?? 'E_EXCHANGE',
      reason: (intent.error?.message ?? 'failed').slice(0, 300),
    };
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
    deps.onDecision(decision);
  }

  function pruneIntents(): void {
    // A fleet command still running keeps its orders: they say which symbols it has sold.
    const finished = Object.values(state.intents).filter(
      (i) =>
        i.status !== 'pending' &&
        (i.command === undefined || state.commands[i.command]?.status !== 'received'),
    );
    if (finished.length <= KEEP_FINISHED_INTENTS) return;
    finished.sort((a, b) => a.createdAt - b.createdAt);
    for (const i of finished.slice(0, finished.length - KEEP_FINISHED_INTENTS))
      delete state.intents[i.clientOrderId];
  }

  return {
    async finish(stream, offset, decision) {
      if (offset !== undefined) deps.advanceResume(stream, offset);
      recordDecision(decision);
      pruneIntents();
      await deps.persist();
    },
    reportOutcome(intent) {
      const base = {
        signalId: intent.signalId,
        stream: intent.stream,
        symbol: intent.symbol,
        side: intent.side,
        ts: now(),
      };
      recordDecision(outcomeRecord(intent, base));
      intent.reported = true;
    },
    outcomeRecord,
    countToday() {
      const day = localTime(now(), timeZone).day;
      return state.decisions.filter((d) => localTime(d.ts, timeZone).day === day).length;
    },
  };
}
