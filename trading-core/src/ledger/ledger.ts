import { fromAtoms, toAtoms } from '../atoms.js';
import { LedgerError, isLedgerError } from '../ledger-error.js';
import {
  CAPITAL_ACCOUNT,
  CURRENCY,
  FEES_ACCOUNT,
  REALISED_PNL_ACCOUNT,
  cashAccount,
  positionAccount,
} from './accounts.js';
import { checkRecordedFill, normaliseFill, show, type FillInput } from './fill-input.js';
import {
  corrupt,
  journalToJson,
  parseJournal,
  recordedFillOf,
  samePostingsOrThrow,
  seedAtomsOf,
  type LedgerJson,
} from './journal-json.js';
import { fillAmounts, fillPostings, shortOfCash, type BooksBefore, type FillAmounts } from './postings.js';
import type { Fill } from '../fill-model.js';
import type { Posting, RecordedFill, Transaction } from './transaction.js';

export interface LedgerOptions {
  /** Quote currency, e.g. `USDT`. */
  quote: string;
  /** Starting cash in quote, > 0. */
  seed: number;
  /** Time stamped on the seed transaction. Default 0. */
  ts?: number;
  /** Reference of the seed transaction. Default `seed`. */
  ref?: string;
  /**
   * Keep every transaction (default true): needed for `transactions()`, `toJSON()` and the
   * journal-replaying `isBalanced()`. A backtest books thousands of fills it never reads back and
   * turns it off: balances stay exact, each transaction is still checked to sum to zero as it is
   * booked, and `isBalanced()` checks the balances sum to zero.
   */
  journal?: boolean;
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

/** Lets fromJSON seed a ledger with exact atoms; not reachable from outside this module. */
const SEED_ATOMS = Symbol('seedAtoms');

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
  readonly #keepJournal: boolean;
  /** Transactions booked, journal or not: the next one's seq is this + 1. */
  #booked = 0;
  /** Set if a transaction without a journal did not sum to zero: a bug, which isBalanced reports. */
  #unbalanced = false;
  /**
   * Balances by account, and atoms held by asset, in cells changed in place: a fill looks each
   * account up once instead of a get and a set, and the cash cell is kept at hand.
   */
  readonly #balances = new Map<string, Cell>();
  readonly #quantities = new Map<string, Holding>();
  readonly #cashAccount: string;
  readonly #cash: Cell;
  /** The fees and realised-PnL cells, once a posting has reached them. */
  #fees: Cell | undefined;
  #realised: Cell | undefined;

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
    this.#keepJournal = options.journal ?? true;
    this.#cashAccount = cashAccount(quote);
    this.#cash = this.#cell(this.#cashAccount);
    this.#commit(
      [
        { account: this.#cashAccount, amount: seedAtoms },
        { account: CAPITAL_ACCOUNT, amount: -seedAtoms },
      ],
      null,
      ts,
      ref,
    );
  }

  /** Books a fill and returns its transaction; throws a LedgerError and changes nothing if it cannot. */
  applyFill(input: FillInput): Transaction {
    const { fill, ts, ref } = normaliseFill(input, this.quote);
    return this.#commit(this.#prepare(fill), fill, ts, ref);
  }

  /**
   * applyFill, except that a fill the cash cannot cover (applyFill's E_INSUFFICIENT_CASH) returns
   * null instead of throwing, having changed nothing: for a caller that shrinks a buy until it
   * fits, without building a refusal (its stack trace) for every try. Other refusals throw.
   */
  applyFillIfCovered(input: FillInput): Transaction | null {
    const { fill, ts, ref } = normaliseFill(input, this.quote);
    const books = this.#booksFor(fill);
    if (shortOfCash(fill, books.cash)) return null;
    return this.#commit(fillPostings(fill, books), fill, ts, ref);
  }

  /**
   * applyFillIfCovered for a hot caller that never reads the transaction (a backtest books
   * thousands): the fill as booked, in numbers, for a trade report. Quantity, notional and fee
   * are exactly `fromAtoms` of the recorded atoms (a `quantity × price` such as 3 × 100.1 =
   * 300.29999999999995 is booked, and reported, as 300.3), so a report adds up to the books.
   * Without a journal the fill's amounts (`fillAmounts`, the rule every path books by) go
   * straight to the balances, with no postings or transaction built: the same refusals and the
   * same balances as applyFillIfCovered, at a third of the allocations. Null where the cash falls
   * short, having changed nothing.
   */
  bookFill(input: FillInput): Fill | null {
    const { fill, ts, ref, units } = normaliseFill(input, this.quote);
    const holding = this.#quantities.get(fill.asset);
    const books = this.#booksFor(fill, holding);
    if (shortOfCash(fill, books.cash)) return null;
    if (this.#keepJournal) this.#commit(fillPostings(fill, books), fill, ts, ref);
    else this.#bookAmounts(fill, fillAmounts(fill, books), holding);
    return {
      side: fill.side,
      quantity: units.quantity,
      price: fill.price,
      notional: units.notional,
      fee: units.fee,
    };
  }

  /**
   * A fill's amounts straight to the balances, for a ledger without a journal. Only what moves,
   * as fillPostings leaves out zero postings: the same accounts come to exist (the position
   * account's with the holding, as #moveQuantity makes it after postings).
   */
  #bookAmounts(fill: RecordedFill, a: FillAmounts, known: Holding | undefined): void {
    const holding = known ?? this.#holding(fill.asset);
    if (a.position !== 0n) holding.cost.amount += a.position;
    if (a.fees !== 0n) (this.#fees ??= this.#cell(FEES_ACCOUNT)).amount += a.fees;
    if (a.cash !== 0n) this.#cash.amount += a.cash;
    if (a.realised !== 0n) (this.#realised ??= this.#cell(REALISED_PNL_ACCOUNT)).amount += a.realised;
    if (a.cash + a.fees + a.position + a.realised !== 0n) this.#unbalanced = true;
    this.#booked++;
    holding.quantity += fill.side === 'buy' ? fill.quantity : -fill.quantity;
  }

  /** The LedgerError `applyFill(input)` would throw, or null if it would succeed. Changes nothing. */
  check(input: FillInput): LedgerError | null {
    try {
      this.#prepare(normaliseFill(input, this.quote).fill);
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
    return this.#cash.amount;
  }

  position(asset: string): Position {
    const p = this.positionAtoms(asset);
    return { quantity: fromAtoms(p.quantity), cost: fromAtoms(p.cost) };
  }

  /** Atoms held of `asset`: positionAtoms(asset).quantity without its cost. */
  quantityAtoms(asset: string): bigint {
    return this.#quantities.get(asset)?.quantity ?? 0n;
  }

  positionAtoms(asset: string): PositionAtoms {
    return { quantity: this.quantityAtoms(asset), cost: this.#balance(positionAccount(asset)) };
  }

  /** Open positions (quantity > 0) by asset. */
  positions(): Record<string, Position> {
    const out: Record<string, Position> = {};
    for (const asset of [...this.#quantities.keys()].sort()) {
      if (this.quantityAtoms(asset) > 0n) out[asset] = this.position(asset);
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
    for (const [asset, { quantity }] of this.#quantities) {
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
    for (const account of [...this.#balances.keys()].sort()) out[account] = this.#balance(account);
    return out;
  }

  /** Sum of every posting in the journal, recomputed; 0n for sound books. */
  trialBalance(): bigint {
    let sum = 0n;
    if (!this.#keepJournal) {
      for (const { amount } of this.#balances.values()) sum += amount;
      return sum;
    }
    for (const tx of this.#journal) for (const p of tx.postings) sum += p.amount;
    return sum;
  }

  /** Every transaction sums to 0n and the running balances equal the journal re-added. */
  isBalanced(): boolean {
    if (!this.#keepJournal) return !this.#unbalanced && this.trialBalance() === 0n;
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
      if ((totals.get(account) ?? 0n) !== this.#balance(account)) return false;
    }
    return true;
  }

  transactions(): readonly Transaction[] {
    return [...this.#journalOrThrow()];
  }

  toJSON(): LedgerJson {
    return journalToJson(this.quote, this.#journalOrThrow());
  }

  #journalOrThrow(): Transaction[] {
    if (!this.#keepJournal)
      throw new LedgerError('E_NO_JOURNAL', 'this ledger keeps no journal (made with journal: false)');
    return this.#journal;
  }

  /**
   * Rebuilds a ledger from `toJSON()` output (already JSON.parsed) by replaying every fill and
   * checking that it produces exactly the stored postings. Anything malformed, unbalanced or
   * inconsistent is refused with E_CORRUPT: a journal is trusted only if it re-derives itself.
   */
  static fromJSON(json: unknown): Ledger {
    const { quote, transactions } = parseJournal(json);
    const [seedTx, ...fills] = transactions as [
      LedgerJson['transactions'][number],
      ...LedgerJson['transactions'],
    ];
    const seed = seedAtomsOf(seedTx);
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
    samePostingsOrThrow(1, seedTx.postings, ledger.#journal[0]!.postings);

    for (const [i, tx] of fills.entries()) {
      const seq = i + 2;
      const fill = recordedFillOf(tx, seq);
      let postings: Posting[];
      try {
        checkRecordedFill(fill, quote);
        postings = ledger.#prepare(fill);
      } catch (err) {
        throw corrupt(`transaction ${seq}: ${(err as Error).message}`, err);
      }
      samePostingsOrThrow(seq, tx.postings, postings);
      ledger.#commit(postings, fill, tx.ts, tx.ref);
    }
    return ledger;
  }

  #balance(account: string): bigint {
    return this.#balances.get(account)?.amount ?? 0n;
  }

  /** The account's cell, made (at zero) the first time a posting reaches it. */
  #cell(account: string): Cell {
    let cell = this.#balances.get(account);
    if (cell === undefined) {
      cell = { amount: 0n };
      this.#balances.set(account, cell);
    }
    return cell;
  }

  /** What a fill's postings depend on in the books now (`holding`: the fill's asset's, if known). */
  #booksFor(fill: RecordedFill, holding = this.#quantities.get(fill.asset)): BooksBefore {
    return {
      quote: this.quote,
      cash: this.#cash.amount,
      held: holding?.quantity ?? 0n,
      cost: holding?.cost.amount ?? 0n,
    };
  }

  /** The postings a fill makes against the current books; throws (changing nothing) if it cannot. */
  #prepare(fill: RecordedFill): Posting[] {
    return fillPostings(fill, this.#booksFor(fill));
  }

  #commit(postings: Posting[], fill: RecordedFill | null, ts: number, ref: string): Transaction {
    const seq = ++this.#booked;
    if (!this.#keepJournal) {
      let sum = 0n;
      for (const p of postings) {
        sum += p.amount;
        this.#post(p);
      }
      if (sum !== 0n) this.#unbalanced = true;
      this.#moveQuantity(fill);
      return { seq, ts, ref, postings, fill };
    }
    const tx: Transaction = Object.freeze({
      seq,
      ts,
      ref,
      // Frozen where they are: #prepare and normaliseFill made them for this transaction alone.
      postings: Object.freeze(postings.map((p) => Object.freeze(p))),
      fill: fill === null ? null : Object.freeze(fill),
    });
    this.#journal.push(tx);
    for (const p of postings) this.#post(p);
    this.#moveQuantity(fill);
    return tx;
  }

  #post(p: Posting): void {
    const account = p.account;
    const cell =
      account === this.#cashAccount
        ? this.#cash
        : account === FEES_ACCOUNT
          ? (this.#fees ??= this.#cell(account))
          : account === REALISED_PNL_ACCOUNT
            ? (this.#realised ??= this.#cell(account))
            : this.#cell(account);
    cell.amount += p.amount;
  }

  #moveQuantity(fill: RecordedFill | null): void {
    if (fill === null) return;
    this.#holding(fill.asset).quantity += fill.side === 'buy' ? fill.quantity : -fill.quantity;
  }

  /** What is held of `asset`, made (nothing held, its position account's cell) at its first fill, a buy. */
  #holding(asset: string): Holding {
    let holding = this.#quantities.get(asset);
    if (holding === undefined) {
      holding = { quantity: 0n, cost: this.#cell(positionAccount(asset)) };
      this.#quantities.set(asset, holding);
    }
    return holding;
  }
}

/** One account's balance, in atoms. */
interface Cell {
  amount: bigint;
}

/** What is held of one asset: its atoms, and the cell of its position account (its cost). */
interface Holding {
  quantity: bigint;
  readonly cost: Cell;
}
