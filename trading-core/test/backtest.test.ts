import t from 'tap';
import { fromAtoms, toAtoms } from '../src/atoms.js';
import { backtest } from '../src/backtest.js';
import type { Candle } from '../src/candle.js';
import { DEFAULT_FILL_COSTS } from '../src/fill-model.js';
import { EmaCrossVolumeStrategy } from '../src/strategies/ema-cross.js';
import type { Strategy, StrategyAction } from '../src/strategies/strategy.js';
import { loadCandles } from './helpers/ohlcv.js';
import { rangeError, throwsExactly } from './helpers/throws.js';

const HOUR = 3_600_000;
const bar = (i: number, open: number, close: number): Candle => ({
  time: i * HOUR,
  open,
  high: Math.max(open, close),
  low: Math.min(open, close),
  close,
  volume: 1,
});

/** Says what it is told, candle by candle: a hand-made strategy for exact numbers. */
const scripted = (actions: (StrategyAction | null)[]): Strategy => {
  let i = 0;
  return { name: 'scripted', version: 'scripted/1', onCandle: () => actions[i++] ?? null };
};

const btc = loadCandles('BTC');
const options = { symbol: 'BTC/USDT', quote: 'USDT', seed: 10_000, costs: DEFAULT_FILL_COSTS };

t.test('a scripted round trip gives exact equity, return and drawdown', async (t) => {
  const candles = [bar(0, 100, 100), bar(1, 100, 80), bar(2, 80, 120), bar(3, 120, 120)];
  const costs = { slippageBps: 0, feeBps: 0 };
  const r = backtest(candles, scripted(['buy', null, 'sell', null]), { ...options, seed: 1000, costs });
  t.same(
    r.trades.map((x) => [x.time, x.side, x.quantity, x.price]),
    [
      [1 * HOUR, 'buy', 10, 100],
      [3 * HOUR, 'sell', 10, 120],
    ],
  );
  t.equal(r.fills, 2);
  t.equal(r.finalEquity, 1200);
  t.equal(r.totalReturn, 0.2);
  t.equal(r.maxDrawdown, 0.2, 'held 10 at 100 then marked at 80');
  t.equal(r.ledgerBalanced, true);
  t.strictSame(r.strategy, { name: 'scripted', version: 'scripted/1', params: {} }, 'what ran is reported');
  t.equal(r.exposure, 0.5, 'closed holding on candles 1 and 2 of 4');
  t.equal(r.equity, undefined, 'no equity curve unless asked');
  const curve = backtest(candles, scripted(['buy', null, 'sell', null]), {
    ...options,
    seed: 1000,
    costs,
    equityCurve: true,
  }).equity;
  t.strictSame([...curve!], [1000, 800, 1200, 1200], 'equity at each close: cash, then 10 held, then cash');
});

t.test('a sell that gaps down counts in the drawdown on its own candle, flat after it', async (t) => {
  // Held at 100 through the close that decides the sell; the next candle opens at 50 and the
  // sell fills there. From then on the portfolio is flat, so that candle's equity is the cash
  // alone, and it is the low: the loop must not take a flat candle as one that changes nothing.
  const candles = [bar(0, 100, 100), bar(1, 100, 100), bar(2, 50, 60), bar(3, 60, 60)];
  const costs = { slippageBps: 0, feeBps: 0 };
  const run = (equityCurve: boolean) =>
    backtest(candles, scripted(['buy', 'sell', null, null]), { ...options, seed: 1000, costs, equityCurve });
  const r = run(true);
  t.strictSame(
    r.trades.map((x) => [x.time, x.side, x.price]),
    [
      [1 * HOUR, 'buy', 100],
      [2 * HOUR, 'sell', 50],
    ],
  );
  t.strictSame([...r.equity!], [1000, 1000, 500, 500], 'cash, 10 held at 100, then cash');
  t.equal(r.maxDrawdown, 0.5, 'the fall to 500 on the sell candle');
  t.equal(r.exposure, 0.25, 'held at one close of four');
  t.equal(run(false).maxDrawdown, 0.5, 'the same without the equity curve');
});

t.test('the default strategy over the real BTC file trades at next opens and balances', async (t) => {
  const r = backtest(btc, new EmaCrossVolumeStrategy(), options);
  t.ok(r.fills > 100, `${r.fills} fills`);
  t.strictSame(
    r.strategy,
    {
      name: 'ema-cross-volume',
      version: 'ema-cross-volume/1',
      params: { fastPeriod: 12, slowPeriod: 26, volumePeriod: 20 },
    },
    'the parameters in force, defaults filled in',
  );
  t.equal(r.fills, r.trades.length);
  t.equal(r.ledgerBalanced, true);
  t.ok(r.finalEquity > 0);
  t.equal(r.totalReturn, (r.finalEquity - 10_000) / 10_000);
  t.ok(r.maxDrawdown > 0 && r.maxDrawdown < 1, `max drawdown ${r.maxDrawdown}`);

  // Each trade fills at the open of the candle after the one whose close decided it.
  const actions = (() => {
    const s = new EmaCrossVolumeStrategy();
    return btc.map((c) => s.onCandle(c));
  })();
  const index = new Map(btc.map((c, i) => [c.time, i]));
  let misplaced = 0;
  let badPrice = 0;
  for (const trade of r.trades) {
    const i = index.get(trade.time)!;
    if (actions[i - 1] !== trade.side) misplaced++;
    const slip = trade.side === 'buy' ? 1 + 5 / 10_000 : 1 - 5 / 10_000;
    if (trade.price !== btc[i]!.open * slip) badPrice++;
  }
  t.equal(misplaced, 0, 'no trade without the previous candle asking for it');
  const onGrid = (x: number) => fromAtoms(toAtoms(x)) === x;
  t.same(
    r.trades.filter((x) => !onGrid(x.notional) || !onGrid(x.fee)),
    [],
    'notional and fee are reported as the ledger booked them, in whole atoms',
  );
  t.equal(badPrice, 0, 'every price is that open moved by 5 bps against the taker');
  t.same(
    r.trades.map((x) => x.side).filter((side, i) => side === (i % 2 === 0 ? 'buy' : 'sell')).length,
    r.trades.length,
    'buys and sells alternate, starting with a buy',
  );
});

t.test('cutting the future off does not change any trade already made', async (t) => {
  const full = backtest(btc, new EmaCrossVolumeStrategy(), options);
  const cut = btc.length >> 1;
  const half = backtest(btc.slice(0, cut), new EmaCrossVolumeStrategy(), options);
  t.ok(half.trades.length > 10);
  t.same(
    half.trades,
    full.trades.filter((x) => x.time < btc[cut]!.time),
  );
});

t.test(
  'a leader strategy reads its inputs just before each traded candle, never one that opens with it',
  async (t) => {
    const eth = loadCandles('ETH');
    const log: string[] = [];
    const reader: Strategy = {
      name: 'reader',
      version: 'reader/1',
      inputs: ['ETH/USDT'],
      onInput: (symbol, c) => log.push(`in ${symbol} ${c.time}`),
      onCandle: (c) => {
        log.push(`on ${c.time}`);
        return null;
      },
    };
    const traded = btc.slice(100, 400);
    backtest(traded, reader, { ...options, inputs: { 'ETH/USDT': eth } });
    let lastTraded = -Infinity;
    let inputs = 0;
    let late = 0;
    const pending: number[] = [];
    for (const line of log) {
      const [kind, , time] = line.split(' ');
      if (kind === 'in') {
        inputs++;
        pending.push(Number(time));
        continue;
      }
      const at = Number(line.split(' ')[1]);
      late += pending.filter((x) => x >= at).length;
      pending.length = 0;
      lastTraded = at;
    }
    t.equal(late, 0, 'no input opened at or after the traded candle it preceded');
    t.equal(
      inputs,
      eth.filter((c) => c.time < lastTraded).length,
      'every input candle opening before the last traded one was delivered, once',
    );
  },
);

t.test('inputs a strategy needs are checked before the run', async (t) => {
  const base = { name: 'reader', version: 'reader/1', inputs: ['ETH/USDT'], onCandle: () => null };
  throwsExactly(
    t,
    () => backtest(btc, { ...base, onInput: () => {} }, options),
    rangeError('backtest: strategy reader reads ETH/USDT: give its candles in inputs'),
  );
  throwsExactly(
    t,
    () => backtest(btc, base, { ...options, inputs: { 'ETH/USDT': [] } }),
    rangeError('backtest: strategy reader lists inputs but has no onInput'),
  );
  const bad = [bar(0, 1, 1), { ...bar(1, 1, 1), low: 2 }];
  throwsExactly(
    t,
    () => backtest(btc, { ...base, onInput: () => {} }, { ...options, inputs: { 'ETH/USDT': bad } }),
    rangeError(
      'backtest: bad ETH/USDT candle at 3600000: low <= min(open, close) <= max(open, close) <= high does not hold',
    ),
  );
  throwsExactly(
    t,
    () => backtest([bar(1, 1, 1), bar(1, 1, 1)], scripted([]), options),
    rangeError('backtest: BTC/USDT candle at 3600000 is not after the previous one at 3600000'),
  );
  throwsExactly(
    t,
    () => backtest(btc, scripted([]), { ...options, symbol: 'BTCUSDT' }),
    rangeError('backtest: symbol must look like BTC/USDT, got BTCUSDT'),
  );
});
