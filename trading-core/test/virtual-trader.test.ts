import fc from 'fast-check';
import t from 'tap';
import { fromAtoms, toAtoms } from '../src/atoms.js';
import type { Candle } from '../src/candle.js';
import type { FillCosts } from '../src/fill-model.js';
import { EmaCrossVolumeStrategy } from '../src/strategies/ema-cross.js';
import { Ledger } from '../src/ledger.js';
import { VirtualTrader } from '../src/virtual-trader.js';
import { loadCandles } from './helpers/ohlcv.js';
import { rangeError, throwsExactly } from './helpers/throws.js';

const HOUR = 3_600_000;
const COSTS: FillCosts = { slippageBps: 10, feeBps: 10 };
const bar = (i: number, open: number, close: number, extra: Partial<Candle> = {}): Candle => ({
  time: i * HOUR,
  open,
  high: Math.max(open, close),
  low: Math.min(open, close),
  close,
  volume: 1,
  ...extra,
});

t.test('an order decided at a close fills at the next open, moved by slippage, fee on top', async (t) => {
  const vt = new VirtualTrader({ quote: 'USDT', seed: 1000, costs: COSTS, allocation: 0.5 });

  const s0 = vt.onCandle('BTC/USDT', bar(0, 100, 100), 'buy');
  t.same(
    s0,
    { filled: null, order: { side: 'buy', quantity: 5, referencePrice: 100 } },
    '50% of 1000 at 100',
  );
  t.same(vt.pending('BTC/USDT'), { side: 'buy', quantity: 5, referencePrice: 100 });
  t.equal(vt.ledger.cash(), 1000, 'nothing is spent before the next candle');

  const s1 = vt.onCandle('BTC/USDT', bar(1, 100, 104), null);
  t.equal(s1.order, null);
  t.equal(s1.filled?.side, 'buy');
  t.equal(s1.filled?.quantity, 5);
  t.equal(s1.filled?.price, 100 * (1 + 10 / 10_000), 'open 100 plus 10 bps');
  t.equal(vt.pending('BTC/USDT'), null);
  t.same(vt.ledger.positionAtoms('BTC'), { quantity: toAtoms(5), cost: toAtoms(500.5) });
  t.equal(vt.ledger.feesPaid(), 0.5005);
  t.equal(vt.ledger.cash(), 498.9995);
  t.equal(vt.equity(), 498.9995 + 5 * 104, 'marked at the latest close');

  t.equal(vt.onCandle('BTC/USDT', bar(2, 104, 102), 'buy').order, null, 'no second buy while holding');
  const s3 = vt.onCandle('BTC/USDT', bar(3, 120, 130), 'sell');
  t.same(s3, { filled: null, order: { side: 'sell', quantity: 5, referencePrice: 130 } });

  const s4 = vt.onCandle('BTC/USDT', bar(4, 125, 90), 'sell');
  t.equal(s4.order, null, 'nothing left to sell');
  t.equal(s4.filled?.price, 125 * (1 - 10 / 10_000), 'open 125 minus 10 bps');
  t.same(vt.ledger.positionAtoms('BTC'), { quantity: 0n, cost: 0n });
  t.equal(vt.ledger.cash(), 1122.750125, '498.9995 + 624.375 - 0.624375, exactly');
  t.equal(vt.ledger.realisedPnl(), 123.875, '624.375 - 500.5');
  t.equal(vt.ledger.feesPaid(), 1.124875, '0.5005 + 0.624375');
  t.equal(vt.ledger.trialBalance(), 0n);
  t.equal(vt.equity(), vt.ledger.cash());
});

t.test('the fee and notional reported per fill are the ones the ledger recorded, to the atom', async (t) => {
  const vt = new VirtualTrader({ quote: 'USDT', seed: 1000, costs: COSTS, allocation: 0.5 });
  vt.onCandle('BTC/USDT', bar(0, 100, 100), 'buy');
  const { filled } = vt.onCandle('BTC/USDT', bar(1, 101.3, 104), null);
  // In floats 5 × (101.3 × 1.001) is 507.00649999999996 and its fee 0.5070064999999999.
  t.equal(filled?.price, 101.40129999999999);
  t.equal(filled?.notional, 507.0065);
  t.equal(filled?.fee, 0.5070065);
  const booked = vt.ledger.transactions().at(-1)!.fill!;
  t.same([toAtoms(filled!.notional), toAtoms(filled!.fee)], [booked.notional, booked.fee]);
});

t.test('reported fees and notionals add up to the books exactly, whatever the prices', async (t) => {
  const price = fc.double({ min: 0.0001, max: 100_000, noNaN: true });
  fc.assert(
    fc.property(
      fc.array(fc.tuple(price, fc.constantFrom<'buy' | 'sell' | null>('buy', 'sell', null)), {
        minLength: 2,
        maxLength: 40,
      }),
      fc.integer({ min: 0, max: 100 }),
      fc.integer({ min: 0, max: 100 }),
      (steps, slippageBps, feeBps) => {
        const vt = new VirtualTrader({
          quote: 'USDT',
          seed: 1000,
          costs: { slippageBps, feeBps },
          allocation: 1,
        });
        let fees = 0n;
        for (const [i, [p, action]] of steps.entries()) {
          const seen = vt.ledger.transactions().length;
          const { filled } = vt.onCandle('BTC/USDT', bar(i, p, p), action);
          if (filled === null) continue;
          const booked = vt.ledger.transactions();
          if (booked.length !== seen + 1) return false;
          const { notional, fee } = booked.at(-1)!.fill!;
          if (filled.notional !== fromAtoms(notional) || filled.fee !== fromAtoms(fee)) return false;
          fees += toAtoms(filled.fee);
        }
        return fees === (vt.ledger.balancesAtoms().fees ?? 0n);
      },
    ),
    { seed: 9, numRuns: 300 },
  );
  t.pass('every reported fill matched its transaction');
});

t.test('a fill does not depend on anything after the open it fills at', async (t) => {
  const run = (next: Candle) => {
    const vt = new VirtualTrader({ quote: 'USDT', seed: 1000, costs: COSTS, allocation: 1 });
    vt.onCandle('BTC/USDT', bar(0, 100, 100), 'buy');
    return vt.onCandle('BTC/USDT', next, null).filled;
  };
  const calm = run(bar(1, 99, 99.5));
  const wild = run(bar(1, 99, 250, { high: 300, low: 50, volume: 1e6 }));
  t.same(wild, calm);
  t.equal(calm?.price, 99 * (1 + 10 / 10_000));
});

t.test('a buy sized at the close is cut to what the cash covers when the next open gaps up', async (t) => {
  const vt = new VirtualTrader({ quote: 'USDT', seed: 1000, costs: COSTS, allocation: 1 });
  const ordered = vt.onCandle('BTC/USDT', bar(0, 100, 100), 'buy').order!;
  t.equal(ordered.quantity, 9.98002996, 'floor(1000 / (100 × 1.001 × 1.001)) at 8 decimals');
  const { filled } = vt.onCandle('BTC/USDT', bar(1, 110, 111), null);
  t.ok(filled !== null && filled.quantity < ordered.quantity, `filled ${filled?.quantity}`);
  t.ok(vt.ledger.cash() >= 0 && vt.ledger.cash() < 0.000002, `cash left ${vt.ledger.cash()}`);
  t.ok(vt.ledger.isBalanced());
});

t.test('pairs share one balance: a pending buy reserves its cash from the others', async (t) => {
  const vt = new VirtualTrader({ quote: 'USDT', seed: 1000, costs: COSTS, allocation: 0.6 });
  const btc = vt.onCandle('BTC/USDT', bar(0, 100, 100), 'buy').order!;
  const eth = vt.onCandle('ETH/USDT', bar(0, 10, 10), 'buy').order!;
  t.equal(btc.quantity, 6, '60% of 1000 at 100');
  t.ok(eth.quantity < 60, `ETH gets only what BTC left: ${eth.quantity}`);
  t.ok(eth.quantity > 39.7, 'but all of that');
  t.not(vt.onCandle('BTC/USDT', bar(1, 100, 100), null).filled, null);
  t.equal(vt.onCandle('ETH/USDT', bar(1, 10, 10), null).filled?.quantity, eth.quantity);
  t.ok(vt.ledger.cash() >= 0);
  t.same(Object.keys(vt.ledger.positions()), ['BTC', 'ETH']);
});

t.test('a sell while flat and a buy with no cash make no order', async (t) => {
  const vt = new VirtualTrader({ quote: 'USDT', seed: 1000, costs: COSTS, allocation: 1 });
  t.equal(vt.onCandle('BTC/USDT', bar(0, 100, 100), 'sell').order, null);
  vt.onCandle('BTC/USDT', bar(1, 100, 100), 'buy');
  vt.onCandle('BTC/USDT', bar(2, 100, 100), null);
  t.equal(vt.onCandle('ETH/USDT', bar(2, 10, 10), 'buy').order, null, 'BTC took all the cash');
});

t.test('bad input is refused with a RangeError and changes nothing', async (t) => {
  const vt = new VirtualTrader({ quote: 'USDT', seed: 1000, costs: COSTS, allocation: 1 });
  vt.onCandle('BTC/USDT', bar(5, 100, 100), 'buy');
  const before = JSON.stringify(vt.ledger);
  throwsExactly(
    t,
    () => vt.onCandle('BTCUSDT', bar(6, 100, 100), null),
    rangeError('VirtualTrader: symbol must look like BTC/USDT, got BTCUSDT'),
  );
  throwsExactly(
    t,
    () => vt.onCandle('BTC/EUR', bar(6, 100, 100), null),
    rangeError('VirtualTrader: symbol must look like BTC/USDT, got BTC/EUR'),
  );
  throwsExactly(
    t,
    () => vt.onCandle('BTC/USDT', bar(6, 100, 100, { low: 101 }), null),
    rangeError(
      'VirtualTrader: bad BTC/USDT candle at 21600000: low <= min(open, close) <= max(open, close) <= high does not hold',
    ),
  );
  throwsExactly(
    t,
    () => vt.onCandle('BTC/USDT', bar(5, 100, 100), null),
    rangeError('VirtualTrader: BTC/USDT candle at 18000000 is not after the previous one at 18000000'),
  );
  throwsExactly(
    t,
    () => vt.onCandle('BTC/USDT', bar(6, 100, 100), 'hold' as 'buy'),
    rangeError('VirtualTrader: action must be buy, sell or null, got hold'),
  );
  t.equal(JSON.stringify(vt.ledger), before);
  t.not(vt.pending('BTC/USDT'), null, 'the pending order survives');
  t.not(vt.onCandle('BTC/USDT', bar(6, 100, 100), null).filled, null);
});

t.test('bad options are refused with RangeErrors naming them', async (t) => {
  const base = { quote: 'USDT', seed: 1000, costs: COSTS, allocation: 1 };
  throwsExactly(
    t,
    () => new VirtualTrader({ ...base, allocation: 1.5 }),
    rangeError('VirtualTrader: allocation must be in (0, 1], got 1.5'),
  );
  throwsExactly(
    t,
    () => new VirtualTrader({ ...base, allocation: 0 }),
    rangeError('VirtualTrader: allocation must be in (0, 1], got 0'),
  );
  throwsExactly(
    t,
    () => new VirtualTrader({ ...base, costs: { slippageBps: -1, feeBps: 10 } }),
    rangeError('VirtualTrader: costs.slippageBps must be in [0, 10000), got -1'),
  );
  throwsExactly(
    t,
    () => new VirtualTrader({ ...base, costs: { slippageBps: 1, feeBps: NaN } }),
    rangeError('VirtualTrader: costs.feeBps must be in [0, 10000), got NaN'),
  );
});

t.test('one strategy over three real pairs on one balance keeps the books sound', async (t) => {
  const symbols = ['BTC', 'ETH', 'SOL'] as const;
  const data = Object.fromEntries(symbols.map((s) => [s, loadCandles(s)]));
  const strategies = Object.fromEntries(symbols.map((s) => [s, new EmaCrossVolumeStrategy()]));
  const vt = new VirtualTrader({ quote: 'USDT', seed: 10_000, costs: COSTS, allocation: 1 / 3 });
  const rows = Math.min(...symbols.map((s) => data[s]!.length));
  let fills = 0;
  let orders = 0;
  let cashWentNegative = false;
  let orderWithoutFill = 0;
  for (let i = 0; i < rows; i++) {
    for (const s of symbols) {
      const c = data[s]![i]!;
      const pendingBefore = vt.pending(`${s}/USDT`);
      const step = vt.onCandle(`${s}/USDT`, c, strategies[s]!.onCandle(c));
      if (step.filled !== null) fills++;
      else if (pendingBefore !== null) orderWithoutFill++;
      if (step.order !== null) orders++;
      if (vt.ledger.cashAtoms() < 0n) cashWentNegative = true;
    }
  }
  t.ok(fills > 100, `${fills} fills`);
  t.ok(
    orders >= fills && orders <= fills + 3,
    'every order fills on the next candle except those still pending',
  );
  t.equal(orderWithoutFill, 0);
  t.notOk(cashWentNegative);
  t.equal(vt.ledger.trialBalance(), 0n);
  t.ok(vt.ledger.isBalanced());
  t.same(Ledger.fromJSON(JSON.parse(JSON.stringify(vt.ledger))).balancesAtoms(), vt.ledger.balancesAtoms());
});
