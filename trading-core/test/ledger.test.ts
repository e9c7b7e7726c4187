import fc from 'fast-check';
import t from 'tap';
import { fromAtoms, toAtoms } from '../src/atoms.js';
import { LedgerError } from '../src/ledger-error.js';
import { Ledger } from '../src/ledger.js';
import type { FillInput, LedgerJson } from '../src/ledger.js';
import type { Fill } from '../src/fill-model.js';
import type { RecordedFill } from '../src/ledger/transaction.js';
import { throwsExactly } from './helpers/throws.js';

const A = (n: number): bigint => toAtoms(n);
const fill = (f: Partial<FillInput>): FillInput => ({
  asset: 'BTC',
  side: 'buy',
  quantity: 0.25,
  price: 20_000,
  fee: 5,
  ts: 1000,
  ref: 'o-1',
  ...f,
});
const seeded = (): Ledger => new Ledger({ quote: 'USDT', seed: 10_000 });

t.test('the seed is cash debited against capital', async (t) => {
  const l = seeded();
  t.equal(l.cash(), 10_000);
  t.same(l.balances(), { capital: -10_000, 'cash:USDT': 10_000 });
  t.same(l.transactions(), [
    {
      seq: 1,
      ts: 0,
      ref: 'seed',
      fill: null,
      postings: [
        { account: 'cash:USDT', amount: A(10_000) },
        { account: 'capital', amount: -A(10_000) },
      ],
    },
  ]);
  t.equal(l.trialBalance(), 0n);
});

t.test('a buy moves cost into the position and the fee into fees, out of cash', async (t) => {
  const l = seeded();
  const tx = l.applyFill(fill({}));
  t.same(tx, {
    seq: 2,
    ts: 1000,
    ref: 'o-1',
    postings: [
      { account: 'position:BTC', amount: A(5000) },
      { account: 'fees', amount: A(5) },
      { account: 'cash:USDT', amount: -A(5005) },
    ],
    fill: { asset: 'BTC', side: 'buy', quantity: A(0.25), price: 20_000, notional: A(5000), fee: A(5) },
  });
  t.equal(l.cash(), 4995);
  t.same(l.position('BTC'), { quantity: 0.25, cost: 5000 });
  t.same(l.positions(), { BTC: { quantity: 0.25, cost: 5000 } });
  t.equal(l.feesPaid(), 5);
  t.equal(l.realisedPnl(), 0);
  t.equal(l.equity({ BTC: 22_000 }), 10_495);
  t.same(l.balances(), { capital: -10_000, 'cash:USDT': 4995, fees: 5, 'position:BTC': 5000 });
  t.equal(l.trialBalance(), 0n);
  t.ok(l.isBalanced());
});

t.test('a sell at a gain removes average cost and credits realised PnL', async (t) => {
  const l = seeded();
  l.applyFill(fill({}));
  const tx = l.applyFill(fill({ side: 'sell', quantity: 0.1, price: 30_000, fee: 3, ref: 'o-2' }));
  t.same(tx.postings, [
    { account: 'cash:USDT', amount: A(2997) },
    { account: 'fees', amount: A(3) },
    { account: 'position:BTC', amount: -A(2000) },
    { account: 'realised-pnl', amount: -A(1000) },
  ]);
  t.equal(l.realisedPnl(), 1000);
  t.same(l.position('BTC'), { quantity: 0.15, cost: 3000 });
  t.equal(l.cash(), 4995 + 2997);
  t.equal(l.feesPaid(), 8);
  t.ok(l.isBalanced());
});

t.test('a sell at a loss debits realised PnL', async (t) => {
  const l = seeded();
  l.applyFill(fill({}));
  const tx = l.applyFill(fill({ side: 'sell', quantity: 0.1, price: 15_000, fee: 1.5 }));
  t.same(tx.postings, [
    { account: 'cash:USDT', amount: A(1498.5) },
    { account: 'fees', amount: A(1.5) },
    { account: 'position:BTC', amount: -A(2000) },
    { account: 'realised-pnl', amount: A(500) },
  ]);
  t.equal(l.realisedPnl(), -500);
  t.equal(l.trialBalance(), 0n);
});

t.test('closing a position in uneven parts leaves exactly zero cost', async (t) => {
  const l = seeded();
  l.applyFill(fill({ quantity: 1, price: 100, fee: 0 }));
  l.applyFill(fill({ quantity: 0.5, price: 133.33333333, fee: 0 }));
  t.same(l.positionAtoms('BTC'), { quantity: A(1.5), cost: A(166.66666667) });
  for (const quantity of [0.33333333, 0.33333333, 0.7]) {
    l.applyFill(fill({ side: 'sell', quantity, price: 101.7, fee: 0.01 }));
  }
  l.applyFill(fill({ side: 'sell', quantity: l.position('BTC').quantity, price: 99, fee: 0.01 }));
  t.same(l.positionAtoms('BTC'), { quantity: 0n, cost: 0n });
  t.same(l.positions(), {});
  t.equal(l.balancesAtoms()['position:BTC'], 0n);
  const b = l.balancesAtoms();
  t.equal(b['cash:USDT']! + b['fees']! + b['realised-pnl']!, A(10_000));
});

const REFUSALS: [string, (l: Ledger) => unknown, string, string][] = [
  [
    'a buy costing more than the cash',
    (l) => l.applyFill(fill({ quantity: 0.6, fee: 12 })),
    'E_INSUFFICIENT_CASH',
    'buy of 0.6 BTC at 20000 needs 12012 USDT with fee, cash is 4995 USDT',
  ],
  [
    'a sell larger than the position',
    (l) => l.applyFill(fill({ side: 'sell', quantity: 1 })),
    'E_INSUFFICIENT_POSITION',
    'sell of 1 BTC at 20000 exceeds the position of 0.25 BTC',
  ],
  [
    'a sell of an asset never held',
    (l) => l.applyFill(fill({ asset: 'ETH', side: 'sell', quantity: 1, price: 2000 })),
    'E_INSUFFICIENT_POSITION',
    'sell of 1 ETH at 2000 exceeds the position of 0 ETH',
  ],
  [
    'a zero quantity',
    (l) => l.applyFill(fill({ quantity: 0 })),
    'E_BAD_FILL',
    'fill quantity must be a finite number > 0, got 0',
  ],
  [
    'a negative quantity',
    (l) => l.applyFill(fill({ quantity: -1 })),
    'E_BAD_FILL',
    'fill quantity must be a finite number > 0, got -1',
  ],
  [
    'a NaN quantity',
    (l) => l.applyFill(fill({ quantity: NaN })),
    'E_BAD_FILL',
    'fill quantity must be a finite number > 0, got NaN',
  ],
  [
    'a quantity below one atom',
    (l) => l.applyFill(fill({ quantity: 1e-9 })),
    'E_BAD_FILL',
    'fill quantity 1e-9 rounds to 0 at 8 decimals',
  ],
  [
    'an infinite price',
    (l) => l.applyFill(fill({ price: Infinity })),
    'E_BAD_FILL',
    'fill price must be a finite number > 0, got Infinity',
  ],
  [
    'a zero price',
    (l) => l.applyFill(fill({ price: 0 })),
    'E_BAD_FILL',
    'fill price must be a finite number > 0, got 0',
  ],
  [
    'a notional below one atom',
    (l) => l.applyFill(fill({ quantity: 0.00000001, price: 0.1 })),
    'E_BAD_FILL',
    'fill notional 0.00000001 × 0.1 rounds to 0 at 8 decimals',
  ],
  [
    'a negative fee',
    (l) => l.applyFill(fill({ fee: -1 })),
    'E_BAD_FILL',
    'fill fee must be a finite number >= 0, got -1',
  ],
  [
    'a fee given as a string',
    (l) => l.applyFill(fill({ fee: '5' as unknown as number })),
    'E_BAD_FILL',
    'fill fee must be a finite number >= 0, got "5"',
  ],
  [
    'the quote as the asset',
    (l) => l.applyFill(fill({ asset: 'USDT' })),
    'E_BAD_FILL',
    'fill asset must be an upper-case currency code other than USDT, got "USDT"',
  ],
  [
    'an unknown side',
    (l) => l.applyFill(fill({ side: 'hold' as 'buy' })),
    'E_BAD_FILL',
    'fill side must be buy or sell, got "hold"',
  ],
  [
    'equity without a mark for a held asset',
    (l) => l.equity({ ETH: 2000 }),
    'E_NO_MARK',
    'no usable mark price for BTC, got undefined',
  ],
];

for (const [what, act, code, message] of REFUSALS) {
  t.test(`${what} is refused with ${code} and changes nothing`, async (t) => {
    const l = seeded();
    l.applyFill(fill({}));
    const before = JSON.stringify(l);
    throwsExactly(t, () => act(l), { name: 'LedgerError', code, message });
    t.equal(JSON.stringify(l), before);
    t.equal(l.check(fill({ quantity: 0.1 })), null, 'still usable');
  });
}

t.test('a sell whose fee exceeds proceeds and cash is refused', async (t) => {
  const l = new Ledger({ quote: 'USDT', seed: 100 });
  l.applyFill(fill({ quantity: 1, price: 100, fee: 0 }));
  const before = JSON.stringify(l);
  const f = fill({ side: 'sell', quantity: 1, price: 1, fee: 2 });
  const expected = {
    code: 'E_INSUFFICIENT_CASH',
    message:
      'sell of 1 BTC at 1 pays a fee of 2 USDT that cash of 0 USDT and proceeds of 1 USDT cannot cover',
  };
  t.match(l.check(f), expected);
  throwsExactly(t, () => l.applyFill(f), expected);
  t.equal(JSON.stringify(l), before);
});

t.test('bad ledger options are refused with E_BAD_OPTIONS', async (t) => {
  throwsExactly(t, () => new Ledger({ quote: 'usdt', seed: 1 }), {
    code: 'E_BAD_OPTIONS',
    message: 'quote must be an upper-case currency code, got "usdt"',
  });
  throwsExactly(t, () => new Ledger({ quote: 'USDT', seed: 0 }), {
    code: 'E_BAD_OPTIONS',
    message: 'seed must be a finite number > 0, got 0',
  });
  throwsExactly(t, () => new Ledger({ quote: 'USDT', seed: 1e-9 }), {
    code: 'E_BAD_OPTIONS',
    message: 'seed 1e-9 rounds to 0 at 8 decimals',
  });
});

t.test('returned transactions cannot be altered', async (t) => {
  const l = seeded();
  const tx = l.applyFill(fill({}));
  t.throws(() => ((tx.postings[0] as { amount: bigint }).amount = 0n), TypeError);
  t.ok(l.isBalanced());
});

// ---- persistence --------------------------------------------------------------------------

function sampleLedger(): Ledger {
  const l = seeded();
  l.applyFill(fill({}));
  l.applyFill(fill({ asset: 'ETH', quantity: 1.5, price: 1800.5, fee: 2.7, ts: 2000, ref: 'o-2' }));
  l.applyFill(fill({ side: 'sell', quantity: 0.1, price: 30_000, fee: 3, ts: 3000, ref: 'o-3' }));
  return l;
}

const roundTrip = (l: Ledger): LedgerJson => JSON.parse(JSON.stringify(l)) as LedgerJson;

t.test('fromJSON(toJSON()) rebuilds the same books', async (t) => {
  const l = sampleLedger();
  const back = Ledger.fromJSON(roundTrip(l));
  t.same(back.toJSON(), l.toJSON());
  t.same(back.balancesAtoms(), l.balancesAtoms());
  t.same(back.positions(), l.positions());
  t.equal(back.transactions().length, 4);
  back.applyFill(fill({ side: 'sell', quantity: 0.15, price: 25_000, fee: 1, ts: 4000 }));
  t.same(back.positionAtoms('BTC'), { quantity: 0n, cost: 0n });
});

const TAMPERS: [string, (j: LedgerJson) => unknown, string][] = [
  [
    'a posting amount nudged by one atom',
    (j) =>
      (j.transactions[1]!.postings[0]!.amount = (
        BigInt(j.transactions[1]!.postings[0]!.amount) + 1n
      ).toString()),
    'ledger journal is corrupt: transaction 2 does not balance (postings sum to 1 atoms)',
  ],
  [
    'cash moved from one posting to another, still balanced',
    (j) => {
      const [p, f] = j.transactions[1]!.postings;
      p!.amount = (BigInt(p!.amount) + 100n).toString();
      f!.amount = (BigInt(f!.amount) - 100n).toString();
    },
    'ledger journal is corrupt: transaction 2 postings do not match its fill',
  ],
  [
    'a fill quantity changed',
    (j) => (j.transactions[1]!.fill!.quantity = '30000000'),
    'ledger journal is corrupt: transaction 2: fill notional is not quantity × price',
  ],
  [
    'a transaction removed',
    (j) => j.transactions.splice(2, 1),
    'ledger journal is corrupt: transaction 3 has seq 4',
  ],
  [
    'a sell turned into a bigger sell',
    (j) => {
      const f = j.transactions[3]!.fill!;
      f.quantity = '100000000';
      f.notional = '3000000000000';
    },
    'ledger journal is corrupt: transaction 4: sell of 1 BTC at 30000 exceeds the position of 0.25 BTC',
  ],
  [
    'a seed that is not the first transaction',
    (j) => (j.transactions[0]!.fill = j.transactions[1]!.fill),
    'ledger journal is corrupt: transaction 1 must be the seed: seq 1, no fill, a positive cash posting',
  ],
  [
    'an amount stored as a number',
    (j) => ((j.transactions[1]!.postings[0] as { amount: unknown }).amount = 5000),
    'ledger journal is corrupt: transactions.1.postings.0.amount: Invalid input: expected string, received number',
  ],
  [
    'another format',
    (j) => ((j as { format: string }).format = 'appliance.ledger/2'),
    'ledger journal is corrupt: format: Invalid input: expected "appliance.ledger/1"',
  ],
];

for (const [what, tamper, message] of TAMPERS) {
  t.test(`a journal with ${what} is rejected as corrupt`, async (t) => {
    const json = roundTrip(sampleLedger());
    tamper(json);
    throwsExactly(t, () => Ledger.fromJSON(json), { name: 'LedgerError', code: 'E_CORRUPT', message });
  });
}

t.test('something that is not a journal at all is rejected as corrupt', async (t) => {
  const cases: [unknown, string][] = [
    ['{}', '(root): Invalid input: expected object, received string'],
    [null, '(root): Invalid input: expected object, received null'],
    [
      { format: 'appliance.ledger/1', quote: 'USDT', transactions: [] },
      'transactions: Too small: expected array to have >=1 items',
    ],
  ];
  for (const [junk, detail] of cases) {
    throwsExactly(t, () => Ledger.fromJSON(junk), {
      code: 'E_CORRUPT',
      message: `ledger journal is corrupt: ${detail}`,
    });
  }
});

t.test('any single changed amount in a journal is rejected', async (t) => {
  const json = roundTrip(sampleLedger());
  const slots = json.transactions.flatMap((tx, i) => tx.postings.map((_, k) => [i, k] as const));
  fc.assert(
    fc.property(
      fc.constantFrom(...slots),
      fc.bigInt({ min: -(10n ** 12n), max: 10n ** 12n }),
      ([i, k], delta) => {
        fc.pre(delta !== 0n);
        const copy = structuredClone(json);
        const p = copy.transactions[i]!.postings[k]!;
        p.amount = (BigInt(p.amount) + delta).toString();
        try {
          Ledger.fromJSON(copy);
        } catch (err) {
          return err instanceof LedgerError && err.code === 'E_CORRUPT';
        }
        return false;
      },
    ),
  );
  t.pass('every tampered copy was rejected');
});

// ---- property: the books always add up ------------------------------------------------------

type Op =
  | { side: 'buy'; asset: string; quantity: number; price: number; fee: number }
  | { side: 'sell'; asset: string; quantity: number | 'all' | 'half'; price: number; fee: number };

// Weighted so that most fills are valid and many go through, with enough bad input mixed in.
const quantityArb = fc.oneof(
  { arbitrary: fc.integer({ min: 1, max: 300_000_000 }).map((a) => a / 1e8), weight: 6 },
  { arbitrary: fc.double({ min: 1e-10, max: 5, noNaN: true }), weight: 2 },
  { arbitrary: fc.constantFrom(0, -1, NaN, Infinity, 1e-9), weight: 1 },
);
const priceArb = fc.oneof(
  { arbitrary: fc.integer({ min: 1, max: 500_000 }).map((c) => c / 100), weight: 6 },
  { arbitrary: fc.double({ min: 1e-5, max: 100_000, noNaN: true }), weight: 2 },
  { arbitrary: fc.constantFrom(0, -5, NaN, Infinity), weight: 1 },
);
const feeArb = fc.oneof(
  { arbitrary: fc.integer({ min: 0, max: 2_000_000_000 }).map((a) => a / 1e8), weight: 6 },
  { arbitrary: fc.constant(0), weight: 2 },
  { arbitrary: fc.constantFrom(-1, NaN), weight: 1 },
);
const assetArb = fc.constantFrom('BTC', 'ETH');
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    side: fc.constant('buy' as const),
    asset: assetArb,
    quantity: quantityArb,
    price: priceArb,
    fee: feeArb,
  }),
  fc.record({
    side: fc.constant('sell' as const),
    asset: assetArb,
    quantity: fc.oneof(
      { arbitrary: quantityArb, weight: 2 },
      { arbitrary: fc.constantFrom('all' as const, 'half' as const), weight: 3 },
    ),
    price: priceArb,
    fee: feeArb,
  }),
);

t.test('random buys and sells, valid or not, always leave the books adding up', async (t) => {
  const SEED = 10_000;
  // Outcomes over all runs, so the test can tell if the generators stopped exercising anything.
  const outcomes = new Map<string, number>();
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 40 }), (ops) => {
      const l = new Ledger({ quote: 'USDT', seed: SEED });
      // The model: what should happen, worked out from the inputs alone, in atoms.
      const held = new Map<string, bigint>();
      let spentOnBuys = 0n;
      let netFromSells = 0n;
      for (const [step, op] of ops.entries()) {
        const have = held.get(op.asset) ?? 0n;
        const quantity =
          op.quantity === 'all'
            ? fromAtoms(have)
            : op.quantity === 'half'
              ? fromAtoms(have / 2n)
              : op.quantity;
        const input: FillInput = { ...op, quantity, ts: step, ref: `r${step}` };
        const cash = toAtoms(SEED) - spentOnBuys + netFromSells;

        let expected: string | null = null;
        const valid =
          Number.isFinite(quantity) &&
          quantity > 0 &&
          Number.isFinite(op.price) &&
          op.price > 0 &&
          Number.isFinite(op.fee) &&
          op.fee >= 0;
        const q = valid ? toAtoms(quantity) : 0n;
        const product = valid ? fromAtoms(q) * op.price : NaN;
        const notional = Number.isFinite(product) ? toAtoms(product) : 0n;
        const fee = valid ? toAtoms(op.fee) : 0n;
        if (!valid || q === 0n || notional === 0n) expected = 'E_BAD_FILL';
        else if (op.side === 'buy' && notional + fee > cash) expected = 'E_INSUFFICIENT_CASH';
        else if (op.side === 'sell' && q > have) expected = 'E_INSUFFICIENT_POSITION';
        else if (op.side === 'sell' && cash + notional - fee < 0n) expected = 'E_INSUFFICIENT_CASH';

        const before = JSON.stringify(l);
        let got: string | null = null;
        try {
          l.applyFill(input);
        } catch (err) {
          if (!(err instanceof LedgerError)) throw err;
          got = err.code;
        }
        if (got !== expected) throw new Error(`step ${step}: expected ${expected}, got ${got}`);
        const outcome = `${op.side} ${got ?? 'applied'}`;
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
        if (got !== null) {
          if (JSON.stringify(l) !== before)
            throw new Error(`step ${step}: a refused fill changed the ledger`);
        } else if (op.side === 'buy') {
          spentOnBuys += notional + fee;
          held.set(op.asset, have + q);
        } else {
          netFromSells += notional - fee;
          held.set(op.asset, have - q);
        }

        const b = l.balancesAtoms();
        const positionCost = Object.entries(b)
          .filter(([account]) => account.startsWith('position:'))
          .reduce((s, [, v]) => s + v, 0n);
        const checks: [string, boolean][] = [
          ['trial balance is 0n', l.trialBalance() === 0n],
          ['isBalanced', l.isBalanced()],
          ['cash is never negative', l.cashAtoms() >= 0n],
          ['cash equals seed - buys + sells', l.cashAtoms() === toAtoms(SEED) - spentOnBuys + netFromSells],
          [
            'realised PnL + fees + cash + position cost equals the seed',
            (b['realised-pnl'] ?? 0n) + (b['fees'] ?? 0n) + l.cashAtoms() + positionCost === toAtoms(SEED),
          ],
        ];
        for (const asset of ['BTC', 'ETH']) {
          const p = l.positionAtoms(asset);
          checks.push([`${asset} quantity matches the model`, p.quantity === (held.get(asset) ?? 0n)]);
          checks.push([`${asset} quantity and cost are never negative`, p.quantity >= 0n && p.cost >= 0n]);
          checks.push([`${asset} has no cost without quantity`, p.quantity > 0n || p.cost === 0n]);
        }
        for (const [name, ok] of checks) if (!ok) throw new Error(`step ${step}: ${name}`);
      }
      const back = Ledger.fromJSON(JSON.parse(JSON.stringify(l)));
      if (JSON.stringify(back) !== JSON.stringify(l)) throw new Error('fromJSON(toJSON()) differs');
    }),
    { numRuns: 500 },
  );
  const seen = Object.fromEntries(outcomes);
  t.comment(JSON.stringify(seen));
  for (const outcome of [
    'buy applied',
    'sell applied',
    'buy E_BAD_FILL',
    'buy E_INSUFFICIENT_CASH',
    'sell E_INSUFFICIENT_POSITION',
  ]) {
    t.ok((seen[outcome] ?? 0) >= 20, `${outcome}: ${seen[outcome] ?? 0} times`);
  }
});

t.test('a ledger without a journal keeps the same books and says it has no journal', async (t) => {
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 40 }), (ops) => {
      const kept = new Ledger({ quote: 'USDT', seed: 10_000 });
      const lean = new Ledger({ quote: 'USDT', seed: 10_000, journal: false });
      for (const [step, op] of ops.entries()) {
        const have = kept.positionAtoms(op.asset).quantity;
        const quantity =
          op.quantity === 'all'
            ? fromAtoms(have)
            : op.quantity === 'half'
              ? fromAtoms(have / 2n)
              : op.quantity;
        const input: FillInput = { ...op, quantity, ts: step, ref: `r${step}` };
        const outcome = (l: Ledger): string => {
          try {
            const tx = l.applyFill(input);
            return `${tx.seq} ${JSON.stringify(tx.postings, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}`;
          } catch (err) {
            if (err instanceof LedgerError) return err.code;
            throw err;
          }
        };
        if (outcome(kept) !== outcome(lean)) return false;
      }
      const same =
        JSON.stringify(kept.balances()) === JSON.stringify(lean.balances()) &&
        kept.trialBalance() === lean.trialBalance() &&
        lean.isBalanced() === true;
      return same;
    }),
    { numRuns: 300 },
  );
  const lean = new Ledger({ quote: 'USDT', seed: 10_000, journal: false });
  for (const f of [() => lean.transactions(), () => lean.toJSON()]) {
    throwsExactly(t, f, {
      name: 'LedgerError',
      code: 'E_NO_JOURNAL',
      message: 'this ledger keeps no journal (made with journal: false)',
    });
  }
});

t.test(
  'applyFillIfCovered books what applyFill books and returns null, changing nothing, where cash falls short',
  async (t) => {
    let shortfalls = 0;
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 40 }), fc.boolean(), (ops, journal) => {
        const strict = new Ledger({ quote: 'USDT', seed: 10_000, journal });
        const lenient = new Ledger({ quote: 'USDT', seed: 10_000, journal });
        for (const [step, op] of ops.entries()) {
          const { input, expected } = appliedBy(strict, op, step);
          const before = JSON.stringify(lenient.balances());
          let got: string;
          try {
            const tx = lenient.applyFillIfCovered(input);
            if (tx === null) {
              shortfalls++;
              if (JSON.stringify(lenient.balances()) !== before) return false;
            }
            got = tx === null ? 'E_INSUFFICIENT_CASH' : JSON.stringify(tx.fill, bigints);
          } catch (err) {
            if (!(err instanceof LedgerError)) throw err;
            // Every other refusal throws, as applyFill's does.
            if (err.code === 'E_INSUFFICIENT_CASH') return false;
            got = err.code;
          }
          if (got !== expected) return false;
        }
        return JSON.stringify(strict.balances()) === JSON.stringify(lenient.balances());
      }),
      { numRuns: 300 },
    );
    t.ok(shortfalls >= 20, `${shortfalls} buys the cash could not cover returned null`);
  },
);

t.test(
  'bookFill books what applyFill books, straight to the balances without a journal, reports it in the recorded atoms to the bit, and returns null where cash falls short',
  async (t) => {
    let shortfalls = 0;
    let booked = 0;
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 40 }), fc.boolean(), (ops, journal) => {
        const strict = new Ledger({ quote: 'USDT', seed: 10_000 });
        const hot = new Ledger({ quote: 'USDT', seed: 10_000, journal });
        for (const [step, op] of ops.entries()) {
          const { input, expected } = appliedBy(strict, op, step, reported);
          const before = JSON.stringify(hot.balancesAtoms(), bigints);
          let got: string;
          try {
            const fill = hot.bookFill(input);
            if (fill === null) {
              shortfalls++;
              if (JSON.stringify(hot.balancesAtoms(), bigints) !== before) return false;
            } else booked++;
            got = fill === null ? 'E_INSUFFICIENT_CASH' : JSON.stringify(fill);
          } catch (err) {
            if (!(err instanceof LedgerError)) throw err;
            if (err.code === 'E_INSUFFICIENT_CASH') return false;
            // A refusal changes nothing.
            if (JSON.stringify(hot.balancesAtoms(), bigints) !== before) return false;
            got = err.code;
          }
          if (got !== expected) return false;
          // The same accounts, the same atoms, and the same holdings after every step.
          if (
            JSON.stringify(hot.balancesAtoms(), bigints) !== JSON.stringify(strict.balancesAtoms(), bigints)
          )
            return false;
          if (hot.quantityAtoms(op.asset) !== strict.quantityAtoms(op.asset)) return false;
        }
        return hot.isBalanced() && hot.trialBalance() === 0n;
      }),
      { numRuns: 300 },
    );
    t.ok(shortfalls >= 20, `${shortfalls} buys the cash could not cover returned null`);
    t.ok(booked >= 200, `${booked} fills booked`);
  },
);

/** A recorded fill in numbers, each amount converted back from its atoms: what bookFill must report. */
function reported(fill: RecordedFill): Fill {
  return {
    side: fill.side,
    quantity: fromAtoms(fill.quantity),
    price: fill.price,
    notional: fromAtoms(fill.notional),
    fee: fromAtoms(fill.fee),
  };
}

/**
 * The fill `op` makes at `step` against `strict` (all or half of what it holds, or a quantity),
 * and what `applyFill` makes of it there: the recorded fill as JSON, or the refusal's code.
 */
function appliedBy(
  strict: Ledger,
  op: Op,
  step: number,
  show: (fill: RecordedFill) => unknown = (fill) => fill,
): { input: FillInput; expected: string } {
  const have = strict.positionAtoms(op.asset).quantity;
  const quantity =
    op.quantity === 'all' ? fromAtoms(have) : op.quantity === 'half' ? fromAtoms(have / 2n) : op.quantity;
  const input: FillInput = { ...op, quantity, ts: step, ref: `r${step}` };
  try {
    return { input, expected: JSON.stringify(show(strict.applyFill(input).fill!), bigints) };
  } catch (err) {
    if (!(err instanceof LedgerError)) throw err;
    return { input, expected: err.code };
  }
}

function bigints(_key: string, v: unknown): unknown {
  return typeof v === 'bigint' ? String(v) : v;
}
