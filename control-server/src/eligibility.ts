import type { Logger } from 'pino';
import { z } from 'zod';
import {
  DEFAULT_SIMULATOR_RESULT_MAX_AGE_MS,
  MAX_ELIGIBLE_SYMBOLS,
  ProtocolError,
  verifySimulatorResult,
  type KeyRing,
  type SimulatorResult,
} from '@appliance/protocol';
import type { RequestOrigin } from './audit.js';
import type { Store } from './store/database.js';
import type { EligibilityState } from './control-publisher.js';
import { EligibilityBook, changeIdOf, type PendingChange } from './eligibility-book.js';
import { EligibilityError } from './eligibility-error.js';
import { ApproveBody, OverrideBody, RejectBody, parseBody } from './eligibility-request.js';
import {
  EligibilityHistory,
  type ChangeOutcome,
  type HistoryDraft,
  type HistoryEntry,
} from './eligibility-history.js';

/** Whether a stream's changes from the simulator take effect at once or wait for an operator. */
export const ApprovalMode = z.enum(['auto', 'manual']);
export type ApprovalMode = z.infer<typeof ApprovalMode>;

/** Most streams the control server keeps eligibility for: what a simulator key can make it store. */
const MAX_ELIGIBILITY_STREAMS = 1000;
/** Largest simulator submission accepted, in bytes of JSON (2,000 decisions with metrics fit). */
export const MAX_SIMULATOR_BODY_BYTES = 1024 * 1024;

export interface EligibilityServiceOptions {
  /** Where the history is kept (`eligibility_history`); `Store.open(':memory:')` in tests. */
  store: Store;
  /** `--eligibility`: in force for streams the simulator has not decided on. */
  seed: Record<string, string[]>;
  /** Per stream, and `*` for every other stream; `auto` when neither is given. */
  approval: Record<string, ApprovalMode>;
  /** The simulator nodes' public keys: only results one of them signed are taken. */
  simulatorKeys: KeyRing;
  maxAgeMs?: number;
  maxClockSkewMs?: number;
  now: () => number;
  logger: Logger;
}

/**
 * Eligibility from the simulator, the operator's approvals, pins and blocks, and the history of
 * all of it. Every change is written to the history before it takes effect and is applied one at
 * a time; `onChange` is told which streams' published eligibility changed.
 */
export class EligibilityService {
  readonly #o: EligibilityServiceOptions;
  readonly #history: EligibilityHistory;
  readonly #book: EligibilityBook;
  #queue: Promise<unknown> = Promise.resolve();
  /** Called with each stream whose effective eligibility changed; set by the server. */
  onChange: (stream: string, state: EligibilityState) => Promise<void> = async () => undefined;

  private constructor(o: EligibilityServiceOptions, history: EligibilityHistory) {
    this.#o = o;
    this.#history = history;
    this.#book = new EligibilityBook(o.seed);
    for (const e of history.entries()) this.#book.apply(e);
  }

  static async open(o: EligibilityServiceOptions): Promise<EligibilityService> {
    const history = await EligibilityHistory.open(o.store);
    const service = new EligibilityService(o, history);
    if (o.simulatorKeys.size === 0)
      o.logger.info('no simulator keys are configured: simulator results are refused (give --simulator-key)');
    return service;
  }

  approvalOf(stream: string): ApprovalMode {
    return this.#o.approval[stream] ?? this.#o.approval['*'] ?? 'auto';
  }

  /** The eligibility every stream has now, as the control publisher is to publish it. */
  inForce(): Record<string, EligibilityState> {
    return Object.fromEntries(this.#book.streams().map((s) => [s, this.#book.effective(s)]));
  }

  /**
   * Verifies a simulator submission (signature, key, age), refuses a run seen before, decides per
   * stream whether it applies now, waits for an operator or is older than what is in force,
   * records it and applies it. Throws ProtocolError or EligibilityError; then nothing changed.
   */
  async submit(
    input: unknown,
  ): Promise<{ runId: string; changes: { changeId: string; stream: string; outcome: ChangeOutcome }[] }> {
    if (typeof input !== 'object' || input === null || Array.isArray(input))
      throw new ProtocolError('E_MALFORMED', 'malformed simulator-result: message: expected an object');
    if (!('sig' in input) || input.sig === undefined)
      throw new EligibilityError(
        'E_UNSIGNED',
        "simulator results must be signed by a simulator node's key (kid and sig)",
      );
    const now = this.#o.now();
    const result = verifySimulatorResult(input, this.#o.simulatorKeys, {
      now,
      maxAgeMs: this.#o.maxAgeMs ?? DEFAULT_SIMULATOR_RESULT_MAX_AGE_MS,
      maxClockSkewMs: this.#o.maxClockSkewMs,
    });
    return this.#change(() => {
      if (this.#book.runs.has(result.runId))
        throw new ProtocolError('E_REPLAYED', `simulator run ${result.runId} was already received`, {
          runId: result.runId,
        });
      const outcome = this.#outcomes(result);
      const entry: HistoryDraft = {
        type: 'submission',
        at: now,
        runId: result.runId,
        runAt: result.at,
        end: result.end,
        node: result.node,
        kid: result.kid,
        sig: result.sig,
        decisions: result.decisions,
        outcome,
      };
      const changes = Object.entries(outcome).map(([stream, o]) => ({
        changeId: changeIdOf(result.runId, stream),
        stream,
        outcome: o,
      }));
      return { entries: [entry], result: { runId: result.runId, changes } };
    });
  }

  #outcomes(result: SimulatorResult): Record<string, ChangeOutcome> {
    const byStream = new Map<string, string[]>();
    for (const d of result.decisions) byStream.set(d.stream, [...(byStream.get(d.stream) ?? []), d.symbol]);
    const known = new Set(this.#book.streams());
    const added = [...byStream.keys()].filter((s) => !known.has(s)).length;
    if (known.size + added > MAX_ELIGIBILITY_STREAMS)
      throw new EligibilityError(
        'E_ELIGIBILITY_LIMIT',
        `the control server keeps eligibility for at most ${MAX_ELIGIBILITY_STREAMS} streams`,
      );
    const outcome: Record<string, ChangeOutcome> = {};
    for (const [stream, symbols] of byStream) {
      const newest = this.#book.newestRunAt(stream);
      if (newest !== undefined && newest > result.at) {
        outcome[stream] = 'superseded';
        continue;
      }
      if (this.#book.symbolCount(stream, symbols) > MAX_ELIGIBLE_SYMBOLS)
        throw new EligibilityError(
          'E_ELIGIBILITY_LIMIT',
          `stream ${stream} would have more than ${MAX_ELIGIBLE_SYMBOLS} symbols`,
        );
      outcome[stream] = this.approvalOf(stream) === 'manual' ? 'pending' : 'applied';
    }
    return outcome;
  }

  async approve(changeId: string, body: unknown, origin: RequestOrigin): Promise<PendingChange> {
    const { reason, operator } = parseBody(ApproveBody, body);
    return this.#change(() => {
      const change = this.#pending(changeId);
      const entry: HistoryDraft = {
        type: 'approved',
        at: this.#o.now(),
        changeId,
        stream: change.stream,
        runId: change.runId,
        by: { ...(operator && { operator }), origin },
        ...(reason && { reason }),
      };
      return { entries: [entry], result: change };
    });
  }

  async reject(changeId: string, body: unknown, origin: RequestOrigin): Promise<PendingChange> {
    const { reason, operator } = parseBody(RejectBody, body);
    return this.#change(() => {
      const change = this.#pending(changeId);
      const entry: HistoryDraft = {
        type: 'rejected',
        at: this.#o.now(),
        changeId,
        stream: change.stream,
        runId: change.runId,
        by: { ...(operator && { operator }), origin },
        reason,
      };
      return { entries: [entry], result: change };
    });
  }

  /** Pins (always eligible), blocks (never) or clears an operator's override of one symbol. */
  async override(
    body: unknown,
    origin: RequestOrigin,
  ): Promise<{ stream: string; symbol: string; mode: string }> {
    const { stream, symbol, mode, reason, operator } = parseBody(OverrideBody, body);
    return this.#change(() => {
      if (mode !== 'clear') {
        if (!this.#book.streams().includes(stream) && this.#book.streams().length >= MAX_ELIGIBILITY_STREAMS)
          throw new EligibilityError(
            'E_ELIGIBILITY_LIMIT',
            `the control server keeps eligibility for at most ${MAX_ELIGIBILITY_STREAMS} streams`,
          );
        if (this.#book.symbolCount(stream, [symbol]) > MAX_ELIGIBLE_SYMBOLS)
          throw new EligibilityError(
            'E_ELIGIBILITY_LIMIT',
            `stream ${stream} would have more than ${MAX_ELIGIBLE_SYMBOLS} symbols`,
          );
      }
      const entry: HistoryDraft = {
        type: 'override',
        at: this.#o.now(),
        stream,
        symbol,
        mode,
        reason,
        by: { ...(operator && { operator }), origin },
      };
      return { entries: [entry], result: { stream, symbol, mode } };
    });
  }

  #pending(changeId: string): PendingChange {
    const change = this.#book.pending.get(changeId);
    if (change) return change;
    if (this.#book.changes.has(changeId))
      throw new EligibilityError(
        'E_CHANGE_NOT_PENDING',
        `eligibility change ${changeId} is not waiting for approval (applied, rejected or superseded)`,
      );
    throw new EligibilityError('E_CHANGE_UNKNOWN', `no eligibility change ${changeId}`);
  }

  /**
   * Runs `decide` when its turn comes, writes what it returns to the history, applies it, then
   * publishes the streams whose eligibility changed. A failed write changes nothing.
   */
  #change<T>(decide: () => { entries: HistoryDraft[]; result: T }): Promise<T> {
    const run = this.#queue.then(async () => {
      const before = this.inForce();
      const { entries, result } = decide();
      const written = await this.#history.append(entries);
      for (const e of written) this.#book.apply(e);
      const after = this.inForce();
      for (const [stream, state] of Object.entries(after)) {
        if (JSON.stringify(before[stream]) === JSON.stringify(state)) continue;
        this.#o.logger.info({ stream, symbols: state.symbols, run: state.run }, 'eligibility changed');
        // Kept by the publisher before it is sent: a failed send goes out with the next refresh.
        await this.onChange(stream, state).catch((err: unknown) =>
          this.#o.logger.error({ err, stream }, 'eligibility publish failed; the next refresh retries'),
        );
      }
      return result;
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** Everything the operator needs to decide: in force, waiting, overrides, latest results. */
  view() {
    const book = this.#book;
    return {
      streams: Object.fromEntries(
        book.streams().map((s) => [
          s,
          {
            ...book.effective(s),
            approval: this.approvalOf(s),
            source: book.simulator.has(s) ? 'simulator' : book.seed.has(s) ? 'flag' : 'operator',
          },
        ]),
      ),
      pending: [...book.pending.values()]
        .sort((a, b) => a.submittedAt - b.submittedAt)
        .map((p) => {
          const now = book.effective(p.stream).symbols;
          const then = book.effective(p.stream, p).symbols;
          return {
            ...p,
            wouldAdd: then.filter((s) => !now.includes(s)),
            wouldRemove: now.filter((s) => !then.includes(s)),
          };
        }),
      overrides: [...book.overrides.values()].sort((a, b) =>
        `${a.stream} ${a.symbol}` < `${b.stream} ${b.symbol}` ? -1 : 1,
      ),
      latest: [...book.latest.values()].sort((a, b) =>
        `${a.stream} ${a.symbol}` < `${b.stream} ${b.symbol}` ? -1 : 1,
      ),
    };
  }

  /** The newest `limit` history entries, newest first. */
  history(limit: number): HistoryEntry[] {
    return this.#history.entries().slice(-limit).reverse();
  }
}
