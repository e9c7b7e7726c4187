import { z } from 'zod';
import { LedgerError } from '../ledger-error.js';
import { CURRENCY } from './accounts.js';
import type { Posting, RecordedFill, Transaction } from './transaction.js';

/** Persisted journals carry this tag; a different one is refused rather than guessed at. */
export const LEDGER_FORMAT = 'appliance.ledger/1';

const AtomString = z.string().regex(/^-?(0|[1-9][0-9]*)$/, 'amount: an integer number of atoms as a string');
const PostingJson = z.strictObject({ account: z.string().min(1), amount: AtomString });
const FillJson = z.strictObject({
  asset: z.string().regex(CURRENCY),
  side: z.enum(['buy', 'sell']),
  quantity: AtomString,
  price: z.number().positive(),
  notional: AtomString,
  fee: AtomString,
});
const TransactionJson = z.strictObject({
  seq: z.number().int().positive(),
  ts: z.number(),
  ref: z.string(),
  postings: z.array(PostingJson),
  fill: FillJson.nullable(),
});
const LedgerJsonSchema = z.strictObject({
  format: z.literal(LEDGER_FORMAT),
  quote: z.string().regex(CURRENCY),
  transactions: z.array(TransactionJson).min(1),
});

/** The persisted journal: plain JSON, bigints as decimal strings of atoms. */
export type LedgerJson = z.infer<typeof LedgerJsonSchema>;
export type TransactionJson = LedgerJson['transactions'][number];

export const corrupt = (detail: string, cause?: unknown): LedgerError =>
  new LedgerError('E_CORRUPT', `ledger journal is corrupt: ${detail}`, cause);

export function journalToJson(quote: string, journal: readonly Transaction[]): LedgerJson {
  return {
    format: LEDGER_FORMAT,
    quote,
    transactions: journal.map((tx) => ({
      seq: tx.seq,
      ts: tx.ts,
      ref: tx.ref,
      postings: tx.postings.map((p) => ({ account: p.account, amount: p.amount.toString() })),
      fill:
        tx.fill === null
          ? null
          : {
              asset: tx.fill.asset,
              side: tx.fill.side,
              quantity: tx.fill.quantity.toString(),
              price: tx.fill.price,
              notional: tx.fill.notional.toString(),
              fee: tx.fill.fee.toString(),
            },
    })),
  };
}

/** The journal's shape checked by schema; throws E_CORRUPT naming the first bad path. */
export function parseJournal(json: unknown): LedgerJson {
  const parsed = LedgerJsonSchema.safeParse(json);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const where = issue === undefined || issue.path.length === 0 ? '(root)' : issue.path.join('.');
  throw corrupt(`${where}: ${issue?.message ?? 'invalid'}`, parsed.error);
}

/** The seed's cash in atoms, once transaction 1 is checked to be a seed; throws E_CORRUPT. */
export function seedAtomsOf(seedTx: TransactionJson): bigint {
  const seedPosting = seedTx.postings[0];
  const seed = seedPosting === undefined ? 0n : BigInt(seedPosting.amount);
  if (seedTx.fill !== null || seedTx.seq !== 1 || seed <= 0n) {
    throw corrupt('transaction 1 must be the seed: seq 1, no fill, a positive cash posting');
  }
  return seed;
}

/** A stored fill transaction's own checks (its place, a fill, balanced postings); throws E_CORRUPT. */
export function recordedFillOf(tx: TransactionJson, seq: number): RecordedFill {
  if (tx.seq !== seq) throw corrupt(`transaction ${seq} has seq ${tx.seq}`);
  if (tx.fill === null) throw corrupt(`transaction ${seq} has no fill`);
  const sum = tx.postings.reduce((s, p) => s + BigInt(p.amount), 0n);
  if (sum !== 0n) throw corrupt(`transaction ${seq} does not balance (postings sum to ${sum} atoms)`);
  return {
    asset: tx.fill.asset,
    side: tx.fill.side,
    quantity: BigInt(tx.fill.quantity),
    price: tx.fill.price,
    notional: BigInt(tx.fill.notional),
    fee: BigInt(tx.fill.fee),
  };
}

/** The stored postings must be exactly the ones the replay derived; throws E_CORRUPT. */
export function samePostingsOrThrow(
  seq: number,
  stored: readonly { account: string; amount: string }[],
  derived: readonly Posting[],
): void {
  const same =
    stored.length === derived.length &&
    stored.every((p, i) => p.account === derived[i]!.account && BigInt(p.amount) === derived[i]!.amount);
  if (!same) throw corrupt(`transaction ${seq} postings do not match its fill`);
}
