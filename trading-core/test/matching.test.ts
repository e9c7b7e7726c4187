import t from 'tap';
import fc from 'fast-check';
import { ATOMS_PER_UNIT, toAtoms } from '../src/atoms.js';
import {
  feeOn,
  fillAt,
  limitOrderFill,
  limitOrderFillAt,
  limitOrderReserve,
  marketOrderFill,
  marketPrice,
  notionalOf,
  quantityForQuote,
  quoteCost,
} from '../src/matching/index.js';

const COSTS = { slippageBps: 5, feeBps: 10 };
const NO_COSTS = { slippageBps: 0, feeBps: 0 };
const atoms = (n: number) => toAtoms(n);

t.test('a fill is exact in atoms: notional rounded down, fee rounded half away from zero', async (t) => {
  const f = fillAt('buy', atoms(0.0025), atoms(40_000), COSTS);
  t.same(f, {
    side: 'buy',
    quantity: 250_000n,
    price: 4_000_000_000_000n,
    notional: 10_000_000_000n,
    fee: 10_000_000n,
  });
  t.equal(quoteCost(f), 10_010_000_000n);
  // 1 atom × 0.5 units = 0.5 atom: rounded down, never up.
  t.equal(notionalOf(1n, ATOMS_PER_UNIT / 2n), 0n);
  t.equal(notionalOf(3n, ATOMS_PER_UNIT / 2n), 1n);
  // 15 atoms × 10 bps = 0.015 atom → 0; 5,000 atoms × 10 bps = 5 atoms; 500 × 10 bps = 0.5 → 1.
  t.equal(feeOn(15n, COSTS), 0n);
  t.equal(feeOn(5_000n, COSTS), 5n);
  t.equal(feeOn(500n, COSTS), 1n);
  t.equal(feeOn(10_000n, { slippageBps: 0, feeBps: 7.5 }), 8n, 'a fractional fee in bps is exact too');
  t.throws(() => fillAt('buy', 0n, 1n, COSTS), RangeError);
  t.throws(() => fillAt('sell', 1n, 0n, COSTS), RangeError);
});

t.test('a market price moves against the taker and rounds against it on the atom grid', async (t) => {
  t.equal(marketPrice('buy', 40_000, COSTS), atoms(40_020));
  t.equal(marketPrice('sell', 40_000, COSTS), atoms(39_980));
  // 0.123456789 × 1.0005 = 0.1235185173945…: up for a buy, down for a sell.
  t.equal(marketPrice('buy', 0.123456789, COSTS), 12_351_852n);
  t.equal(marketPrice('sell', 0.123456789, COSTS), 12_339_506n);
  t.equal(marketPrice('buy', 0.123456789, NO_COSTS), 12_345_679n);
  t.equal(marketPrice('sell', 0.123456789, NO_COSTS), 12_345_678n);
  const f = marketOrderFill('buy', atoms(0.5), 100, COSTS);
  t.same(f, fillAt('buy', atoms(0.5), atoms(100.05), COSTS));
});

t.test('quantityForQuote buys the most on the lot grid without passing the quote amount', async (t) => {
  t.equal(quantityForQuote(atoms(100), atoms(40_020), atoms(0.00001), atoms(0.00001)), atoms(0.00249));
  t.equal(quantityForQuote(atoms(1), atoms(40_020), atoms(0.00001), atoms(0.00001)), atoms(0.00002));
  t.equal(quantityForQuote(atoms(0.1), atoms(40_020), atoms(0.00001), atoms(0.00001)), 0n, 'below minQty');
  // The grid counts from minQty: 0.15 + k × 0.1.
  t.equal(quantityForQuote(atoms(10), atoms(20), atoms(0.1), atoms(0.15)), atoms(0.45));
  fc.assert(
    fc.property(
      fc.bigInt({ min: 1n, max: 10n ** 14n }),
      fc.bigInt({ min: 1n, max: 10n ** 14n }),
      fc.bigInt({ min: 1n, max: 10n ** 9n }),
      (quote, price, step) => {
        const q = quantityForQuote(quote, price, step, step);
        // On the grid, exactly within the quote amount, and one more step would pass it.
        return (
          q % step === 0n &&
          q * price <= quote * ATOMS_PER_UNIT &&
          (q + step) * price > quote * ATOMS_PER_UNIT
        );
      },
    ),
  );
  t.throws(() => quantityForQuote(1n, 0n, 1n, 1n), RangeError);
});

t.test('a limit order fills when the bar trades through it, never worse than its limit', async (t) => {
  const buy = { side: 'buy' as const, quantity: atoms(0.01), limit: atoms(100) };
  const sell = { side: 'sell' as const, quantity: atoms(0.01), limit: atoms(100) };
  t.equal(limitOrderFill(buy, { open: 105, high: 106, low: 100.01 }, COSTS), null, 'low above the limit');
  t.same(
    limitOrderFill(buy, { open: 105, high: 106, low: 100 }, COSTS),
    fillAt('buy', atoms(0.01), atoms(100), COSTS),
  );
  t.same(
    limitOrderFill(buy, { open: 95, high: 99, low: 90 }, COSTS),
    fillAt('buy', atoms(0.01), atoms(95), COSTS),
    'gapped below: at the open',
  );
  t.equal(limitOrderFill(sell, { open: 95, high: 99.99, low: 90 }, COSTS), null, 'high below the limit');
  t.same(
    limitOrderFill(sell, { open: 95, high: 100, low: 90 }, COSTS),
    fillAt('sell', atoms(0.01), atoms(100), COSTS),
  );
  t.same(
    limitOrderFill(sell, { open: 110, high: 111, low: 109 }, COSTS),
    fillAt('sell', atoms(0.01), atoms(110), COSTS),
    'gapped above: at the open',
  );
  t.same(
    limitOrderFillAt(buy, 99, COSTS),
    fillAt('buy', atoms(0.01), atoms(99), COSTS),
    'marketable on arrival',
  );
  t.equal(limitOrderFillAt(buy, 101, COSTS), null);
  t.equal(limitOrderFillAt(sell, 99, COSTS), null);
});

t.test('a resting limit order reserves the worst it can cost', async (t) => {
  const buy = { side: 'buy' as const, quantity: atoms(0.01), limit: atoms(100) };
  t.equal(limitOrderReserve(buy, COSTS), atoms(1.001));
  t.equal(limitOrderReserve({ ...buy, side: 'sell' }, COSTS), atoms(0.01));
  fc.assert(
    fc.property(
      fc.double({ min: 1, max: 200, noNaN: true }),
      fc.double({ min: 0, max: 100, noNaN: true }),
      (open, down) => {
        const bar = { open, high: open, low: Math.max(0.01, open - down) };
        const fill = limitOrderFill(buy, bar, COSTS);
        return fill === null || (fill.price <= buy.limit && quoteCost(fill) <= limitOrderReserve(buy, COSTS));
      },
    ),
  );
});
