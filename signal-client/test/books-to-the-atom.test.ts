// Issue #9, one money type: the device's books and the paper exchange's balances are both
// trading-core atoms, so after a run of real ccxt orders they are equal to the atom, not merely
// to 6 decimals. The opening balance, the prices and the fee are chosen so that any rounding
// of one side that the other does not share would show in the last digit.
import t from 'tap';
import { Ledger, formatAtoms, toAtoms } from '@appliance/trading-core';
import { startStack } from './stack.js';

t.test('after buys and sells through ccxt, the books equal the exchange to the atom', async (t) => {
  const stack = await startStack(t, { policy: { orderQuote: 123.45678901, maxOrderQuote: 250 } });
  // 1.5e-8 above a round amount: float rounding (toFixed) and atom rounding disagree on it.
  const opening = 1_000.000000015;
  const dev = await stack.device({ keys: stack.account(opening) });
  const prices = [40_000.37, 40_113.99, 39_871.13, 39_950.07];
  await stack.signal('buy', prices[0]!);
  await stack.signal('sell', prices[1]!);
  await stack.signal('buy', prices[2]!);
  await stack.signal('buy', prices[3]!);
  await dev.until(4);
  t.same(
    dev.decisions.map((d) => `${d.side} ${d.outcome}`),
    ['buy executed', 'sell executed', 'buy executed', 'buy executed'],
  );

  const exchange = stack.paper.balanceAtoms(dev.keys.apiKey);
  const books = Ledger.fromJSON(dev.store.data.ledger);
  t.ok(books.isBalanced(), 'the device books balance');
  // The exchange took the opening amount as trading-core rounds it (toAtoms: ...02, where
  // toFixed(8) gives ...01), and moved exactly what the fills it reported say.
  t.equal(
    exchange.USDT!.free,
    toAtoms(opening) - spentAndFees(stack.paper.orders(dev.keys.apiKey)),
    'the exchange: the opening balance in atoms less what its fills moved',
  );
  t.equal(formatAtoms(books.cashAtoms()), formatAtoms(exchange.USDT!.free), 'cash, to the atom');
  t.equal(
    formatAtoms(books.positionAtoms('BTC').quantity),
    formatAtoms(exchange.BTC!.free),
    'BTC held, to the atom',
  );
  t.equal(exchange.USDT!.locked + exchange.BTC!.locked, 0n, 'nothing is held back');
  t.not(exchange.USDT!.free % 1_000_000n, 0n, 'the cash is not a round amount at 6 decimals');
});

/** USDT out of the account by the orders' own fills: buys cost notional + fee, sells bring notional - fee. */
function spentAndFees(
  orders: { side: string; fills: { price: number; qty: number; commission: number }[] }[],
) {
  let out = 0n;
  for (const o of orders)
    for (const f of o.fills) {
      const notional = (toAtoms(f.qty) * toAtoms(f.price)) / 100_000_000n;
      out += o.side === 'BUY' ? notional + toAtoms(f.commission) : -(notional - toAtoms(f.commission));
    }
  return out;
}
