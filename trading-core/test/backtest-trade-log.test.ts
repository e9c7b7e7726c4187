import t from 'tap';
import { TradeLog } from '../src/backtest-trade-log.js';

t.test('a trade log gives back every trade added, in order, past its first growth', async (t) => {
  const log = new TradeLog();
  t.strictSame(log.toArray(), [], 'empty');
  const expected = Array.from({ length: 200 }, (_, i) => ({
    side: i % 3 === 0 ? ('sell' as const) : ('buy' as const),
    quantity: 0.1 + i * 1e-8,
    price: 40_000 + i / 7,
    notional: (0.1 + i * 1e-8) * (40_000 + i / 7),
    fee: i === 5 ? 0 : 4.000_000_01 * i,
    time: 1_700_000_000_000 + i * 3_600_000,
  }));
  for (const x of expected) log.add(x.side, x.quantity, x.price, x.notional, x.fee, x.time);
  const trades = log.toArray();
  t.strictSame(trades, expected, 'the same numbers to the bit, and each side');
  t.not(log.toArray()[0], trades[0], 'new objects each time: a caller cannot change the log');
  trades[0]!.price = 1;
  t.equal(log.toArray()[0]!.price, expected[0]!.price);
});
