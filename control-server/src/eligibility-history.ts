import { z } from 'zod';
import { errorClass } from '@appliance/errors';
import { SimulatorDecision } from '@appliance/protocol';
import { RequestOrigin } from './audit.js';
import type { Db, Store } from './store/database.js';

/** Where the eligibility history was kept before the database, in the data folder: imported once. */
export const ELIGIBILITY_HISTORY_FILE = 'eligibility-history.jsonl';

const epochMs = z.number().int().nonnegative();
const stream = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/);
const symbol = z.string().regex(/^[A-Z0-9]{1,20}\/[A-Z0-9]{1,20}$/);
const runId = z.string().min(1).max(64);
const reason = z.string().min(1).max(300);

/** Who did it: the operator's name if they gave one, and where the request came from. */
export const Actor = z.strictObject({
  operator: z.string().max(64).optional(),
  origin: RequestOrigin,
});
export type Actor = z.infer<typeof Actor>;

export const ChangeOutcome = z.enum(['applied', 'pending', 'superseded']);
export type ChangeOutcome = z.infer<typeof ChangeOutcome>;

/**
 * One line of the history. A submission records, per stream, what became of it when it came in
 * (applied at once, waiting for an operator, or older than a run already taken), so replaying
 * the file gives the same state whatever the approval settings are on the next start.
 */
export const HistoryEntry = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('submission'),
    seq: z.number().int().positive(),
    /** When the control server took it. */
    at: epochMs,
    runId,
    /** When the simulator node signed it, and the last candle the run covered. */
    runAt: epochMs,
    end: epochMs,
    node: z.string().max(64),
    kid: z.string().max(64),
    /** The node's signature, kept so the submission can be checked again later. */
    sig: z.string().max(100),
    decisions: z.array(SimulatorDecision),
    outcome: z.record(stream, ChangeOutcome),
  }),
  z.strictObject({
    type: z.literal('approved'),
    seq: z.number().int().positive(),
    at: epochMs,
    changeId: z.string().max(200),
    stream,
    runId,
    by: Actor,
    reason: reason.optional(),
  }),
  z.strictObject({
    type: z.literal('rejected'),
    seq: z.number().int().positive(),
    at: epochMs,
    changeId: z.string().max(200),
    stream,
    runId,
    by: Actor,
    reason,
  }),
  z.strictObject({
    type: z.literal('override'),
    seq: z.number().int().positive(),
    at: epochMs,
    stream,
    symbol,
    /** `pin`: always eligible; `block`: never; `clear`: back to the simulator's decision. */
    mode: z.enum(['pin', 'block', 'clear']),
    by: Actor,
    reason,
  }),
]);
export type HistoryEntry = z.infer<typeof HistoryEntry>;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
export type HistoryDraft = DistributiveOmit<HistoryEntry, 'seq'>;

export class EligibilityHistoryError extends errorClass('EligibilityHistoryError', {
  E_ELIGIBILITY_HISTORY_CORRUPT: 'the eligibility history (file or rows) cannot be read or parsed',
}) {
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_ELIGIBILITY_HISTORY_CORRUPT', message, options);
  }
}

/**
 * Today's `eligibility-history.jsonl`, as the import reads it. A last line cut short (a crash
 * mid-append: no newline after it) is dropped with a warning, as the file's reader did; any other
 * bad line is corruption, with the same error as ever.
 */
export function parseHistoryFile(text: string, path: string, warn: (msg: string) => void): HistoryEntry[] {
  const complete = text.lastIndexOf('\n') + 1;
  if (complete < text.length)
    warn(`${path}: dropping an incomplete last line (${text.length - complete} bytes): a crash mid-write`);
  const lines = text.slice(0, complete).split('\n').slice(0, -1);
  return lines.map((line, i) => {
    try {
      return HistoryEntry.parse(JSON.parse(line));
    } catch (err) {
      throw new EligibilityHistoryError(
        `eligibility history ${path} line ${i + 1} is unreadable: ${(err as Error).message.slice(0, 200)}`,
      );
    }
  });
}

/** Appends entries as rows (inside the caller's transaction, if any). */
export function insertHistoryRows(db: Db, entries: readonly HistoryEntry[]): void {
  const insert = db.prepare('INSERT INTO eligibility_history (seq, type, at, entry) VALUES (?, ?, ?, ?)');
  for (const e of entries) insert.run(e.seq, e.type, e.at, JSON.stringify(e));
}

/**
 * Every submission, approval, rejection, pin and block, one row each in `eligibility_history`,
 * committed (synchronous=FULL) before it takes effect: a change the database does not hold never
 * happened. In memory only with a `:memory:` store (tests, and a control server without a data
 * folder).
 */
export class EligibilityHistory {
  readonly #entries: HistoryEntry[] = [];

  private constructor(readonly store: Store) {}

  /** Reads the rows back in order, each checked against HistoryEntry (and its seq against the row's). */
  static async open(store: Store): Promise<EligibilityHistory> {
    const history = new EligibilityHistory(store);
    const rows = store.db.prepare('SELECT seq, entry FROM eligibility_history ORDER BY seq').all() as {
      seq: number;
      entry: string;
    }[];
    for (const row of rows) {
      let entry: HistoryEntry;
      try {
        entry = HistoryEntry.parse(JSON.parse(row.entry));
        if (entry.seq !== row.seq) throw new Error(`its seq is ${entry.seq}, its row's ${row.seq}`);
      } catch (err) {
        throw new EligibilityHistoryError(
          `eligibility history in ${store.path} entry ${row.seq} is unreadable: ${(err as Error).message.slice(0, 200)}`,
          { cause: err },
        );
      }
      history.#entries.push(entry);
    }
    return history;
  }

  entries(): readonly HistoryEntry[] {
    return this.#entries;
  }

  /** Writes the entries (numbered on) in one transaction; only then are they part of the history. */
  async append(drafts: HistoryDraft[]): Promise<HistoryEntry[]> {
    let seq = this.#entries.at(-1)?.seq ?? 0;
    const entries = drafts.map((d) => HistoryEntry.parse({ ...d, seq: ++seq }));
    const { db } = this.store;
    db.transaction(() => insertHistoryRows(db, entries))();
    this.#entries.push(...entries);
    return entries;
  }
}
