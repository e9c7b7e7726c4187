import { z } from 'zod';
import { formatAtoms, fromAtoms, mulDivRound, toAtoms } from './atoms.js';
import type { OrderSide } from './fill-model.js';
import { LedgerError, isLedgerError } from './ledger-error.js';

/** Persisted journals carry this tag; a different one is refused rather than guessed at. */
export const LEDGER_FORMAT = 'appliance.ledger/1';

export const FEES_ACCOUNT = 'fees';
export const REALISED_PNL_ACCOUNT = 'realised-pnl';
export const CAPITAL_ACCOUNT = 'capital';
export const cashAccount = (quote: string): string => `cash:${quote}`;
export const positionAccount = (asset: string): string => `position:${asset}`;

/** Upper-case exchange codes, as in the unified ccxt symbol `BTC/USDT`. */
const CURRENCY = /^[A-Z0-9]{1,20}$/;

/** Debit positive, credit negative; the postings of one transaction sum to exactly 0n. */
export interface Posting {
  readonly account: string;
  readonly amount: bigint;
}

/** The fill a transaction records, normalised to atoms, so the journal can be replayed and checked. */
export interface RecordedFill {
  readonly asset: string;
  readonly side: OrderSide;
  /** Base-asset atoms. */
  readonly quantity: bigint;
  /** Quote per unit, as given; the notional is derived from it. */
  readonly price: number;
  /** Quote atoms: toAtoms(fromAtoms(quantity) × price). */
  readonly notional: bigint;
  /** Quote atoms. */
  readonly fee: bigint;
}

export interface Transaction {
  /** 1 for the seed, then consecutive. */
  readonly seq: number;
  readonly ts: number;
  readonly ref: string;
  readonly postings: readonly Posting[];
  /** null for the seed transaction. */
  readonly fill: RecordedFill | null;
}

export interface FillInput {
  asset: string;
  side: OrderSide;
  /** Base-asset units, > 0; rounded to 8 decimals. */
  quantity: number;
  /** Quote per unit, > 0. */
  price: number;
  /** In quote, >= 0; rounded to 8 decimals. */
  fee: number;
  /** Time of the fill in ms; the ledger has no clock of its own. */
  ts: number;
  /** Caller's reference (order or signal id), kept for the audit trail. */
  ref: string;
}

export interface LedgerOptions {
  /** Quote currency, e.g. `USDT`. */
  quote: string;
  /** Starting cash in quote, > 0. */
  seed: number;
  /** Time stamped on the seed transaction. Default 0. */
  ts?: number;
  /** Reference of the seed transaction. Default `seed`. */
  ref?: string;
}

export interface Position {
  quantity: number;
  /** What the held quantity cost, in quote (average-cost basis, fees excluded). */
  cost: number;
}

export interface PositionAtoms {
  quantity: bigint;
  cost: bigint;
}

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

type Normalised = { fill: RecordedFill; ts: number; ref: string };

/** Lets fromJSON seed a ledger with exact atoms; not reachable from outside this module. */
const SEED_ATOMS = Symbol('seedAtoms');

const corrupt = (detail: string, cause?: unknown): LedgerError =>
  new LedgerError('E_CORRUPT', `ledger journal is corrupt: ${detail}`, cause);

const badFill = (detail: string): LedgerError => new LedgerError('E_BAD_FILL', detail);

function show(x: unknown): string {
  return typeof x === 'number' ? String(x) : (JSON.stringify(x) ?? String(x));
}

/**
 * Double-entry books for one virtual (or real) portfolio in one quote currency.
 *
 * Accounts: `cash:<QUOTE>`, `position:<ASSET>` (at average cost), `fees`, `realised-pnl`
 * (credit = gain) and `capital` (credit = money put in). Every amount is exact bigint atoms
 * (1e-8); the public API takes and returns numbers, converted by `toAtoms` (half away from zero
 * at 8 decimals) and `fromAtoms`. A call that throws a LedgerError has changed nothing.
 */
export class Ledger {
  readonly quote: string;
  readonly #journal: Transaction[] = [];
  readonly #balances = new Map<string, bigint>();
  readonly #quantities = new Map<string, bigint>();

  constructor(options: LedgerOptions) {
    const { quote, seed, ts = 0, ref = 'seed' } = options;
    if (typeof quote !== 'string' || !CURRENCY.test(quote)) {
      throw new LedgerError('E_BAD_OPTIONS', `quote must be an upper-case currency code, got ${show(quote)}`);
    }
    const internalSeed = (options as { [SEED_ATOMS]?: bigint })[SEED_ATOMS];
    if (internalSeed === undefined && !(typeof seed === 'number' && Number.isFinite(seed) && seed > 0)) {
      throw new LedgerError('E_BAD_OPTIONS', `seed must be a finite number > 0, got ${show(seed)}`);
    }
    const seedAtoms = internalSeed ?? toAtoms(seed);
    if (seedAtoms <= 0n) throw new LedgerError('E_BAD_OPTIONS', `seed ${seed} rounds to 0 at 8 decimals`);
    if (!Number.isFinite(ts)) throw new LedgerError('E_BAD_OPTIONS', `ts must be a finite number, got ${ts}`);
    this.quote = quote;
    this.#commit(
      [
        { account: cashAccount(quote), amount: seedAtoms },
        { account: CAPITAL_ACCOUNT, amount: -seedAtoms },
      ],
      null,
      ts,
      ref,
    );
  }

  /** Books a fill and returns its transaction; throws a LedgerError and changes nothing if it cannot. */
  applyFill(input: FillInput): Transaction {
    const { fill, ts, ref } = this.#normalise(input);
    return this.#commit(this.#prepare(fill), fill, ts, ref);
  }

  /** The LedgerError `applyFill(input)` would throw, or null if it would succeed. Changes nothing. */
  check(input: FillInput): LedgerError | null {
    try {
      this.#prepare(this.#normalise(input).fill);
      return null;
    } catch (err) {
      if (isLedgerError(err)) return err;
      throw err;
    }
  }

  cash(): number {
    return fromAtoms(this.cashAtoms());
  }

  cashAtoms(): bigint {
    return this.#balance(cashAccount(this.quote));
  }

  position(asset: string): Position {
    const p = this.positionAtoms(asset);
    return { quantity: fromAtoms(p.quantity), cost: fromAtoms(p.cost) };
  }

  positionAtoms(asset: string): PositionAtoms {
    return { quantity: this.#quantities.get(asset) ?? 0n, cost: this.#balance(positionAccount(asset)) };
  }

  /** Open positions (quantity > 0) by asset. */
  positions(): Record<string, Position> {
    const out: Record<string, Position> = {};
    for (const asset of [...this.#quantities.keys()].sort()) {
      if (this.#quantities.get(asset)! > 0n) out[asset] = this.position(asset);
    }
    return out;
  }

  /** Realised gain on sells, fees excluded: positive is profit (the account itself is a credit). */
  realisedPnl(): number {
    return fromAtoms(-this.#balance(REALISED_PNL_ACCOUNT));
  }

  feesPaid(): number {
    return fromAtoms(this.#balance(FEES_ACCOUNT));
  }

  /** Cash plus every open position at its mark; throws E_NO_MARK if a held asset has no price. */
  equity(marks: Readonly<Record<string, number>>): number {
    return fromAtoms(this.equityAtoms(marks));
  }

  equityAtoms(marks: Readonly<Record<string, number>>): bigint {
    let total = this.cashAtoms();
    for (const [asset, quantity] of this.#quantities) {
      if (quantity === 0n) continue;
      const mark = Object.hasOwn(marks, asset) ? marks[asset] : undefined;
      if (typeof mark !== 'number' || !Number.isFinite(mark) || mark <= 0) {
        throw new LedgerError('E_NO_MARK', `no usable mark price for ${asset}, got ${show(mark)}`);
      }
      total += toAtoms(fromAtoms(quantity) * mark);
    }
    return total;
  }

  /** Every account touched so far with its balance (debit positive), in quote. */
  balances(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [account, amount] of Object.entries(this.balancesAtoms())) out[account] = fromAtoms(amount);
    return out;
  }

  balancesAtoms(): Record<string, bigint> {
    const out: Record<string, bigint> = {};
    for (const account of [...this.#balances.keys()].sort()) out[account] = this.#balances.get(account)!;
    return out;
  }

  /** Sum of every posting in the journal, recomputed; 0n for sound books. */
  trialBalance(): bigint {
    let sum = 0n;
    for (const tx of this.#journal) for (const p of tx.postings) sum += p.amount;
    return sum;
  }

  /** Every transaction sums to 0n and the running balances equal the journal re-added. */
  isBalanced(): boolean {
    const totals = new Map<string, bigint>();
    for (const tx of this.#journal) {
      let sum = 0n;
      for (const p of tx.postings) {
        sum += p.amount;
        totals.set(p.account, (totals.get(p.account) ?? 0n) + p.amount);
      }
      if (sum !== 0n) return false;
    }
    for (const account of new Set([...totals.keys(), ...this.#balances.keys()])) {
      if ((totals.get(account) ?? 0n) !== (this.#balances.get(account) ?? 0n)) return false;
    }
    return true;
  }

  transactions(): readonly Transaction[] {
    return [...this.#journal];
  }

  toJSON(): LedgerJson {
    return {
      format: LEDGER_FORMAT,
      quote: this.quote,
      transactions: this.#journal.map((tx) => ({
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

  /**
   * Rebuilds a ledger from `toJSON()` output (already JSON.parsed) by replaying every fill and
   * checking that it produces exactly the stored postings. Anything malformed, unbalanced or
   * inconsistent is refused with E_CORRUPT: a journal is trusted only if it re-derives itself.
   */
  static fromJSON(json: unknown): Ledger {
    const parsed = LedgerJsonSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue === undefined || issue.path.length === 0 ? '(root)' : issue.path.join('.');
      throw corrupt(`${where}: ${issue?.message ?? 'invalid'}`, parsed.error);
    }
    const { quote, transactions } = parsed.data;
    const [seedTx, ...fills] = transactions as [
      LedgerJson['transactions'][number],
      ...LedgerJson['transactions'],
    ];

    const seedPosting = seedTx.postings[0];
    const seed = seedPosting === undefined ? 0n : BigInt(seedPosting.amount);
    if (seedTx.fill !== null || seedTx.seq !== 1 || seed <= 0n) {
      throw corrupt('transaction 1 must be the seed: seq 1, no fill, a positive cash posting');
    }
    let ledger: Ledger;
    try {
      ledger = new Ledger({
        quote,
        seed: 0,
        ts: seedTx.ts,
        ref: seedTx.ref,
        [SEED_ATOMS]: seed,
      } as LedgerOptions);
    } catch (err) {
      throw corrupt(`transaction 1: ${(err as Error).message}`, err);
    }
    sameOrThrow(1, seedTx.postings, ledger.#journal[0]!.postings);

    for (const [i, tx] of fills.entries()) {
      const seq = i + 2;
      if (tx.seq !== seq) throw corrupt(`transaction ${seq} has seq ${tx.seq}`);
      if (tx.fill === null) throw corrupt(`transaction ${seq} has no fill`);
      const sum = tx.postings.reduce((s, p) => s + BigInt(p.amount), 0n);
      if (sum !== 0n) throw corrupt(`transaction ${seq} does not balance (postings sum to ${sum} atoms)`);
      const fill: RecordedFill = {
        asset: tx.fill.asset,
        side: tx.fill.side,
        quantity: BigInt(tx.fill.quantity),
        price: tx.fill.price,
        notional: BigInt(tx.fill.notional),
        fee: BigInt(tx.fill.fee),
      };
      let postings: Posting[];
      try {
        checkRecordedFill(fill, quote);
        postings = ledger.#prepare(fill);
      } catch (err) {
        throw corrupt(`transaction ${seq}: ${(err as Error).message}`, err);
      }
      sameOrThrow(seq, tx.postings, postings);
      ledger.#commit(postings, fill, tx.ts, tx.ref);
    }
    return ledger;
  }

  #balance(account: string): bigint {
    return this.#balances.get(account) ?? 0n;
  }

  #normalise(input: FillInput): Normalised {
    if (typeof input !== 'object' || input === null) throw badFill('fill must be an object');
    const { asset, side, quantity, price, fee, ts, ref } = input;
    if (typeof asset !== 'string' || !CURRENCY.test(asset) || asset === this.quote) {
      throw badFill(
        `fill asset must be an upper-case currency code other than ${this.quote}, got ${show(asset)}`,
      );
    }
    if (side !== 'buy' && side !== 'sell') throw badFill(`fill side must be buy or sell, got ${show(side)}`);
    for (const [name, x, min] of [
      ['quantity', quantity, '> 0'],
      ['price', price, '> 0'],
      ['fee', fee, '>= 0'],
    ] as const) {
      const ok = typeof x === 'number' && Number.isFinite(x) && (min === '> 0' ? x > 0 : x >= 0);
      if (!ok) throw badFill(`fill ${name} must be a finite number ${min}, got ${show(x)}`);
    }
    if (typeof ts !== 'number' || !Number.isFinite(ts))
      throw badFill(`fill ts must be a finite number, got ${show(ts)}`);
    if (typeof ref !== 'string') throw badFill(`fill ref must be a string, got ${show(ref)}`);

    const q = toAtoms(quantity);
    if (q === 0n) throw badFill(`fill quantity ${quantity} rounds to 0 at 8 decimals`);
    const product = fromAtoms(q) * price;
    if (!Number.isFinite(product)) throw badFill(`fill notional ${formatAtoms(q)} × ${price} is not finite`);
    const notional = toAtoms(product);
    if (notional === 0n)
      throw badFill(`fill notional ${formatAtoms(q)} × ${price} rounds to 0 at 8 decimals`);
    return { fill: { asset, side, quantity: q, price, notional, fee: toAtoms(fee) }, ts, ref };
  }

  /** The postings a fill makes against the current books; throws (changing nothing) if it cannot. */
  #prepare(fill: RecordedFill): Posting[] {
    const { asset, side, quantity, price, notional, fee } = fill;
    const cash = this.cashAtoms();
    const q = `${formatAtoms(quantity)} ${asset} at ${price}`;
    if (side === 'buy') {
      const total = notional + fee;
      if (total > cash) {
        throw new LedgerError(
          'E_INSUFFICIENT_CASH',
          `buy of ${q} needs ${formatAtoms(total)} ${this.quote} with fee, cash is ${formatAtoms(cash)} ${this.quote}`,
        );
      }
      return nonZero([
        { account: positionAccount(asset), amount: notional },
        { account: FEES_ACCOUNT, amount: fee },
        { account: cashAccount(this.quote), amount: -total },
      ]);
    }
    const held = this.#quantities.get(asset) ?? 0n;
    if (quantity > held) {
      throw new LedgerError(
        'E_INSUFFICIENT_POSITION',
        `sell of ${q} exceeds the position of ${formatAtoms(held)} ${asset}`,
      );
    }
    const cost = this.#balance(positionAccount(asset));
    // Average cost, prorated exactly; a full close takes the whole cost so no dust is left behind.
    const basis = quantity === held ? cost : mulDivRound(cost, quantity, held);
    const net = notional - fee;
    if (cash + net < 0n) {
      throw new LedgerError(
        'E_INSUFFICIENT_CASH',
        `sell of ${q} pays a fee of ${formatAtoms(fee)} ${this.quote} that cash of ${formatAtoms(cash)} ${this.quote} and proceeds of ${formatAtoms(notional)} ${this.quote} cannot cover`,
      );
    }
    return nonZero([
      { account: cashAccount(this.quote), amount: net },
      { account: FEES_ACCOUNT, amount: fee },
      { account: positionAccount(asset), amount: -basis },
      { account: REALISED_PNL_ACCOUNT, amount: basis - notional },
    ]);
  }

  #commit(postings: Posting[], fill: RecordedFill | null, ts: number, ref: string): Transaction {
    const tx: Transaction = Object.freeze({
      seq: this.#journal.length + 1,
      ts,
      ref,
      postings: Object.freeze(postings.map((p) => Object.freeze({ ...p }))),
      fill: fill === null ? null : Object.freeze({ ...fill }),
    });
    this.#journal.push(tx);
    for (const p of postings) this.#balances.set(p.account, this.#balance(p.account) + p.amount);
    if (fill !== null) {
      const delta = fill.side === 'buy' ? fill.quantity : -fill.quantity;
      this.#quantities.set(fill.asset, (this.#quantities.get(fill.asset) ?? 0n) + delta);
    }
    return tx;
  }
}

function nonZero(postings: Posting[]): Posting[] {
  return postings.filter((p) => p.amount !== 0n);
}

/** The checks #normalise makes on numbers, made on a stored fill's atoms. */
function checkRecordedFill(fill: RecordedFill, quote: string): void {
  if (fill.asset === quote) throw badFill(`fill asset must be other than ${quote}`);
  if (fill.quantity <= 0n) throw badFill('fill quantity must be > 0');
  if (fill.fee < 0n) throw badFill('fill fee must be >= 0');
  if (!Number.isFinite(fill.price) || fill.price <= 0)
    throw badFill('fill price must be a finite number > 0');
  if (fill.notional <= 0n) throw badFill('fill notional must be > 0');
  if (fill.notional !== toAtoms(fromAtoms(fill.quantity) * fill.price)) {
    throw badFill('fill notional is not quantity × price');
  }
}

function sameOrThrow(
  seq: number,
  stored: readonly { account: string; amount: string }[],
  derived: readonly Posting[],
): void {
  const same =
    stored.length === derived.length &&
    stored.every((p, i) => p.account === derived[i]!.account && BigInt(p.amount) === derived[i]!.amount);
  if (!same) throw corrupt(`transaction ${seq} postings do not match its fill`);
}
