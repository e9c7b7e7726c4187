import { mkdir, open, truncate } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { errorClass } from '@appliance/errors';
import { SimulatorDecision } from '@appliance/protocol';
import { readFileIfExists } from '@appliance/runtime';
import { RequestOrigin } from './audit.js';

/** Where the eligibility history is kept, in the data folder, next to devices.json. */
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
  E_ELIGIBILITY_HISTORY_CORRUPT: 'the eligibility history file cannot be read or parsed',
}) {
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_ELIGIBILITY_HISTORY_CORRUPT', message, options);
  }
}

/**
 * Every submission, approval, rejection, pin and block, one JSON line each, appended and fsynced
 * before it takes effect: a change the file does not hold never happened. In memory only
 * without a path (tests, and a control server without a data folder).
 */
export class EligibilityHistory {
  readonly #entries: HistoryEntry[] = [];
  #created: boolean;

  private constructor(
    readonly path: string | undefined,
    exists: boolean,
  ) {
    this.#created = exists;
  }

  /**
   * Reads the file. A last line cut short (a crash mid-append: no newline after it) is dropped and
   * cut from the file, so the next append starts a clean line; any other bad line is corruption.
   */
  static async open(path: string | undefined, warn: (msg: string) => void): Promise<EligibilityHistory> {
    const text = path ? await readFileIfExists(path) : undefined;
    const history = new EligibilityHistory(path, text !== undefined);
    if (text === undefined || !path) return history;
    const complete = text.lastIndexOf('\n') + 1;
    if (complete < text.length) {
      warn(`${path}: dropping an incomplete last line (${text.length - complete} bytes): a crash mid-write`);
      await truncate(path, Buffer.byteLength(text.slice(0, complete)));
    }
    const lines = text.slice(0, complete).split('\n').slice(0, -1);
    lines.forEach((line, i) => {
      let entry: HistoryEntry;
      try {
        entry = HistoryEntry.parse(JSON.parse(line));
      } catch (err) {
        throw new EligibilityHistoryError(
          `eligibility history ${path} line ${i + 1} is unreadable: ${(err as Error).message.slice(0, 200)}`,
        );
      }
      history.#entries.push(entry);
    });
    return history;
  }

  entries(): readonly HistoryEntry[] {
    return this.#entries;
  }

  /** Writes the entries (numbered on) durably; only then are they part of the history. */
  async append(drafts: HistoryDraft[]): Promise<HistoryEntry[]> {
    let seq = this.#entries.at(-1)?.seq ?? 0;
    const entries = drafts.map((d) => HistoryEntry.parse({ ...d, seq: ++seq }));
    if (this.path) {
      await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
      const fh = await open(this.path, 'a', 0o600);
      const size = (await fh.stat()).size;
      try {
        await fh.writeFile(entries.map((e) => JSON.stringify(e) + '\n').join(''));
        await fh.sync();
      } catch (err) {
        // A half-written line would corrupt every later one: cut it off (if we still can).
        await fh.truncate(size).catch(() => undefined);
        throw err;
      } finally {
        await fh.close();
      }
      // A new file's name lives in the folder: sync it once, or a power cut can lose the file.
      if (!this.#created) {
        const dh = await open(dirname(this.path), 'r');
        try {
          await dh.sync();
        } finally {
          await dh.close();
        }
        this.#created = true;
      }
    }
    this.#entries.push(...entries);
    return entries;
  }
}
