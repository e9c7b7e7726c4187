import { MAX_ELIGIBILITY_REASON_CHARS, type SimulatorDecision } from '@appliance/protocol';
import type { EligibilityState } from './control-publisher.js';
import type { Actor, ChangeOutcome, HistoryEntry } from './eligibility-history.js';

/**
 * Most bytes of reasons one published eligibility message carries. Gateways drop control records
 * over 256 KiB by default (`maxRecordBytes`): a stream with 2,000 reasons of 300 characters
 * would silently never be delivered (symbols take at most about 40 KiB more). Over budget, the reasons of pins and blocks are kept
 * first, then those of eligible symbols, then the rest; `symbols` is never cut.
 */
const MAX_PUBLISHED_REASON_BYTES = 192 * 1024;

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
export const changeIdOf = (runId: string, stream: string) => `${runId}~${stream}`;

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
