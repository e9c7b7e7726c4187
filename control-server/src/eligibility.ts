import type { Logger } from 'pino';
import { z } from 'zod';
import { errorClass } from '@appliance/errors';
import {
  DEFAULT_SIMULATOR_RESULT_MAX_AGE_MS,
  MAX_ELIGIBILITY_REASON_CHARS,
  MAX_ELIGIBLE_SYMBOLS,
  ProtocolError,
  verifySimulatorResult,
  type KeyRing,
  type SimulatorDecision,
  type SimulatorResult,
} from '@appliance/protocol';
import type { RequestOrigin } from './audit.js';
import type { EligibilityState } from './control-publisher.js';
import {
  EligibilityHistory,
  type Actor,
  type ChangeOutcome,
  type HistoryDraft,
  type HistoryEntry,
} from './eligibility-history.js';

/** Whether a stream's changes from the simulator take effect at once or wait for an operator. */
export const ApprovalMode = z.enum(['auto', 'manual']);
export type ApprovalMode = z.infer<typeof ApprovalMode>;

/** Most streams the control server keeps eligibility for: what a simulator key can make it store. */
const MAX_ELIGIBILITY_STREAMS = 1000;
/**
 * Most bytes of reasons one published eligibility message carries. Gateways drop control records
 * over 256 KiB by default (`maxRecordBytes`): a stream with 2,000 reasons of 300 characters
 * would silently never be delivered (symbols take at most about 40 KiB more). Over budget, the reasons of pins and blocks are kept
 * first, then those of eligible symbols, then the rest; `symbols` is never cut.
 */
const MAX_PUBLISHED_REASON_BYTES = 192 * 1024;
/** Largest simulator submission accepted, in bytes of JSON (2,000 decisions with metrics fit). */
export const MAX_SIMULATOR_BODY_BYTES = 1024 * 1024;

export const ELIGIBILITY_ERROR_CODES = {
  E_UNSIGNED: 'the simulator submission carries no signature',
  E_TOO_LARGE: 'the request body is larger than the route takes',
  E_ELIGIBILITY_LIMIT: 'the change would keep more streams or symbols than the control server takes',
  E_CHANGE_UNKNOWN: 'no eligibility change has this id',
  E_CHANGE_NOT_PENDING: 'the eligibility change was already approved, rejected or superseded',
  E_INVALID: 'the request body is not valid (the message names the field)',
} as const;
export type EligibilityErrorCode = keyof typeof ELIGIBILITY_ERROR_CODES;

export class EligibilityError extends errorClass('EligibilityError', ELIGIBILITY_ERROR_CODES) {}

/** The HTTP status of each refusal, the protocol's included (a submission is a signed message). */
export const ELIGIBILITY_STATUS: Record<EligibilityErrorCode | ProtocolError['code'], number> = {
  E_UNSIGNED: 401,
  E_TOO_LARGE: 413,
  E_ELIGIBILITY_LIMIT: 409,
  E_CHANGE_UNKNOWN: 404,
  E_CHANGE_NOT_PENDING: 409,
  E_INVALID: 400,
  E_MALFORMED: 400,
  E_UNKNOWN_KEY: 403,
  E_BAD_SIGNATURE: 403,
  E_EXPIRED: 400,
  E_NOT_YET_VALID: 400,
  E_REPLAYED: 409,
  E_BAD_ID: 400,
  E_BAD_TOKEN: 401,
  E_TOKEN_EXPIRED: 401,
};

/** A decision of the simulator as it stands for one (stream, symbol). */
export interface DecisionInForce {
  eligible: boolean;
  reason: string;
  runId: string;
  runAt: number;
  metrics?: Record<string, number>;
}

export interface Override {
  stream: string;
  symbol: string;
  mode: 'pin' | 'block';
  reason: string;
  at: number;
  by: Actor;
}

export interface PendingChange {
  changeId: string;
  stream: string;
  runId: string;
  runAt: number;
  node: string;
  submittedAt: number;
  decisions: Omit<SimulatorDecision, 'stream'>[];
}

export interface LatestResult extends DecisionInForce {
  stream: string;
  symbol: string;
  node: string;
  status: 'applied' | 'pending' | 'rejected';
}

/** A change's id: the run and the stream it changes (neither can contain `~`). */
const changeIdOf = (runId: string, stream: string) => `${runId}~${stream}`;

const clip = (s: string) =>
  s.length > MAX_ELIGIBILITY_REASON_CHARS ? s.slice(0, MAX_ELIGIBILITY_REASON_CHARS - 1) + '…' : s;

/**
 * The eligibility in force and everything that led to it, as a pure fold over the history: the
 * same entries always give the same state, which is how a restart rebuilds it.
 */
export class EligibilityBook {
  /** From `--eligibility`: in force for a stream until the simulator has decided on it. */
  readonly seed = new Map<string, string[]>();
  /** The simulator's decisions in force, per stream, and the run that made the newest. */
  readonly simulator = new Map<
    string,
    { run: { id: string; at: number }; decisions: Map<string, DecisionInForce> }
  >();
  readonly overrides = new Map<string, Override>();
  readonly pending = new Map<string, PendingChange>();
  readonly runs = new Set<string>();
  /** Every change a submission made, whatever became of it. */
  readonly changes = new Set<string>();
  readonly latest = new Map<string, LatestResult>();

  constructor(seed: Record<string, string[]>) {
    for (const [stream, symbols] of Object.entries(seed)) this.seed.set(stream, [...new Set(symbols)].sort());
  }

  streams(): string[] {
    const all = new Set([...this.seed.keys(), ...this.simulator.keys()]);
    for (const o of this.overrides.values()) all.add(o.stream);
    return [...all].sort();
  }

  /** What devices are told for `stream`: symbols, with reasons and the run when there are any. */
  effective(stream: string, extra?: PendingChange): EligibilityState {
    const sim = this.simulator.get(stream);
    let decisions = sim?.decisions;
    let run = sim?.run;
    if (extra) {
      decisions = new Map(decisions);
      for (const d of extra.decisions)
        decisions.set(d.symbol, { ...d, runId: extra.runId, runAt: extra.runAt });
      run = { id: extra.runId, at: extra.runAt };
    }
    const eligible = new Set<string>();
    /** Each symbol's reason and its rank when the budget is short: 0 operator, 1 eligible, 2 not. */
    const ranked = new Map<string, { reason: string; rank: number }>();
    if (decisions) {
      for (const [symbol, d] of decisions) {
        if (d.eligible) eligible.add(symbol);
        ranked.set(symbol, { reason: d.reason, rank: d.eligible ? 1 : 2 });
      }
    } else {
      for (const symbol of this.seed.get(stream) ?? []) eligible.add(symbol);
    }
    for (const o of this.overrides.values()) {
      if (o.stream !== stream) continue;
      if (o.mode === 'pin') eligible.add(o.symbol);
      else eligible.delete(o.symbol);
      const reason = clip(`${o.mode === 'pin' ? 'pinned' : 'blocked'} by the operator: ${o.reason}`);
      ranked.set(o.symbol, { reason, rank: 0 });
    }
    const reasons: Record<string, string> = {};
    let bytes = 0;
    for (const [symbol, { reason }] of [...ranked].sort(([, a], [, b]) => a.rank - b.rank)) {
      const size = Buffer.byteLength(JSON.stringify(symbol) + JSON.stringify(reason)) + 2;
      if (bytes + size > MAX_PUBLISHED_REASON_BYTES) continue;
      bytes += size;
      reasons[symbol] = reason;
    }
    return {
      symbols: [...eligible].sort(),
      ...(Object.keys(reasons).length > 0 && { reasons: sortKeys(reasons) }),
      ...(run && { run: { ...run } }),
    };
  }

  /** Symbols `stream` would keep (decisions and overrides) with `symbols` added. */
  symbolCount(stream: string, symbols: Iterable<string>): number {
    const all = new Set([...(this.simulator.get(stream)?.decisions.keys() ?? []), ...symbols]);
    for (const o of this.overrides.values()) if (o.stream === stream) all.add(o.symbol);
    return all.size;
  }

  /** The newest run for `stream`, in force or waiting. */
  newestRunAt(stream: string): number | undefined {
    let at = this.simulator.get(stream)?.run.at;
    for (const p of this.pending.values()) if (p.stream === stream) at = Math.max(at ?? 0, p.runAt);
    return at;
  }

  apply(e: HistoryEntry): void {
    switch (e.type) {
      case 'submission': {
        this.runs.add(e.runId);
        for (const [stream, outcome] of Object.entries(e.outcome)) {
          this.changes.add(changeIdOf(e.runId, stream));
          if (outcome === 'superseded') continue;
          const change: PendingChange = {
            changeId: changeIdOf(e.runId, stream),
            stream,
            runId: e.runId,
            runAt: e.runAt,
            node: e.node,
            submittedAt: e.at,
            decisions: e.decisions.filter((d) => d.stream === stream).map(({ stream: _, ...d }) => d),
          };
          // A newer run makes an older one still waiting for the same stream moot.
          for (const p of [...this.pending.values()])
            if (p.stream === stream && p.runAt <= e.runAt) this.pending.delete(p.changeId);
          if (outcome === 'applied') this.#take(change);
          else this.pending.set(change.changeId, change);
          this.#noteLatest(change, outcome);
        }
        return;
      }
      case 'approved': {
        const change = this.pending.get(e.changeId);
        if (!change) return;
        this.pending.delete(e.changeId);
        this.#take(change);
        this.#noteLatest(change, 'applied');
        return;
      }
      case 'rejected': {
        const change = this.pending.get(e.changeId);
        if (!change) return;
        this.pending.delete(e.changeId);
        this.#noteLatest(change, 'rejected');
        return;
      }
      case 'override': {
        const key = `${e.stream} ${e.symbol}`;
        if (e.mode === 'clear') this.overrides.delete(key);
        else
          this.overrides.set(key, {
            stream: e.stream,
            symbol: e.symbol,
            mode: e.mode,
            reason: e.reason,
            at: e.at,
            by: e.by,
          });
        return;
      }
    }
  }

  #take(change: PendingChange): void {
    const held = this.simulator.get(change.stream);
    const decisions = new Map(held?.decisions);
    for (const d of change.decisions)
      decisions.set(d.symbol, { ...d, runId: change.runId, runAt: change.runAt });
    const run = held && held.run.at > change.runAt ? held.run : { id: change.runId, at: change.runAt };
    this.simulator.set(change.stream, { run, decisions });
  }

  #noteLatest(change: PendingChange, outcome: Exclude<ChangeOutcome, 'superseded'> | 'rejected'): void {
    for (const d of change.decisions) {
      this.latest.set(`${change.stream} ${d.symbol}`, {
        ...d,
        stream: change.stream,
        runId: change.runId,
        runAt: change.runAt,
        node: change.node,
        status: outcome,
      });
    }
  }
}

function sortKeys(r: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(r).sort(([a], [b]) => (a < b ? -1 : 1)));
}

const operator = z.string().min(1).max(64).optional();
const OverrideBody = z.strictObject({
  stream: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'stream: lowercase letters, digits, . _ -'),
  symbol: z.string().regex(/^[A-Z0-9]{1,20}\/[A-Z0-9]{1,20}$/, 'symbol: unified ccxt form such as BTC/USDT'),
  mode: z.enum(['pin', 'block', 'clear']),
  reason: z.string().trim().min(1, 'reason: say why').max(200),
  operator,
});
const ApproveBody = z.strictObject({ reason: z.string().trim().min(1).max(200).optional(), operator });
const RejectBody = z.strictObject({ reason: z.string().trim().min(1, 'reason: say why').max(200), operator });

function parseBody<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const parsed = schema.safeParse(input ?? {});
  if (parsed.success) return parsed.data;
  const i = parsed.error.issues[0];
  throw new EligibilityError('E_INVALID', `${i?.path.join('.') || 'body'}: ${i?.message ?? 'invalid'}`);
}

export interface EligibilityServiceOptions {
  /** The history file; in memory when absent. */
  path?: string;
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
    const history = await EligibilityHistory.open(o.path, (msg) => o.logger.warn(msg));
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
