import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import t from 'tap';
import { backtest, type BacktestResult, type BacktestTrade } from '../src/backtest.js';
import type { Candle } from '../src/candle.js';
import { DEFAULT_FILL_COSTS, type FillCosts } from '../src/fill-model.js';
import { EmaCrossVolumeStrategy } from '../src/strategies/ema-cross.js';
import { createStrategy, strategyNames } from '../src/strategies/registry.js';
import type { Strategy } from '../src/strategies/strategy.js';
import { VirtualTrader } from '../src/virtual-trader.js';
import { loadCandles } from './helpers/ohlcv.js';

const BASES = ['BTC', 'ETH', 'SOL', 'BNB', 'XRP', 'ADA', 'DOGE'] as const;
const candles = new Map(BASES.map((b) => [`${b}/USDT`, loadCandles(b)]));

/**
 * What backtest() computed before its fast loop: the VirtualTrader (the datafeed's portfolio)
 * driven candle by candle, with the ledger asked for cash and position after every fill. Kept
 * here as the reference the fast loop must equal to the atom.
 */
function referenceBacktest(
  series: readonly Candle[],
  strategy: Strategy,
  symbol: string,
  costs: FillCosts,
  inputs: Record<string, readonly Candle[]> = {},
  equityCurve = false,
): BacktestResult {
  const seed = 10_000;
  const curve = equityCurve ? new Float64Array(series.length) : undefined;
  const trader = new VirtualTrader({ quote: 'USDT', seed, costs, allocation: 1 });
  const asset = symbol.split('/')[0]!;
  const trades: BacktestTrade[] = [];
  const next = new Map(Object.keys(inputs).map((s) => [s, 0]));
  let cash = seed;
  let held = 0;
  let peak = seed;
  let maxDrawdown = 0;
  let candlesHeld = 0;
  for (const [index, candle] of series.entries()) {
    for (const [name, list] of Object.entries(inputs)) {
      let i = next.get(name)!;
      for (; i < list.length && list[i]!.time < candle.time; i++) strategy.onInput!(name, list[i]!);
      next.set(name, i);
    }
    const { filled } = trader.onCandle(symbol, candle, strategy.onCandle(candle));
    if (filled !== null) {
      trades.push({ ...filled, time: candle.time });
      cash = trader.ledger.cash();
      held = trader.ledger.position(asset).quantity;
    }
    const equity = cash + held * candle.close;
    if (curve !== undefined) curve[index] = equity;
    if (held > 0) candlesHeld++;
    if (equity > peak) peak = equity;
    else maxDrawdown = Math.max(maxDrawdown, (peak - equity) / peak);
  }
  const finalEquity = trader.equity();
  return {
    strategy: { name: strategy.name, version: strategy.version, params: strategy.params ?? {} },
    trades,
    finalEquity,
    totalReturn: (finalEquity - seed) / seed,
    maxDrawdown,
    fills: trades.length,
    exposure: series.length === 0 ? 0 : candlesHeld / series.length,
    ...(curve === undefined ? {} : { equity: curve }),
    ledgerBalanced: trader.ledger.trialBalance() === 0n && trader.ledger.isBalanced(),
  };
}

const digest = (trades: BacktestTrade[]): string =>
  createHash('sha256').update(JSON.stringify(trades)).digest('hex');

t.test('backtest() gives what it gave before the fast loop, to the atom (golden file)', async (t) => {
  const golden = JSON.parse(readFileSync(new URL('golden/backtest.json', import.meta.url), 'utf8')) as {
    runs: Record<string, unknown>;
  };
  const params = {
    default: {},
    fast: { fastPeriod: 3, slowPeriod: 8, volumePeriod: 5 },
  } as const;
  let checked = 0;
  for (const base of BASES) {
    for (const [label, p] of Object.entries(params)) {
      for (const costs of [DEFAULT_FILL_COSTS, { slippageBps: 0, feeBps: 7.5 }]) {
        const symbol = `${base}/USDT`;
        const r = backtest(candles.get(symbol)!, new EmaCrossVolumeStrategy(p), {
          symbol,
          seed: 10_000,
          costs,
        });
        const key = `${symbol} ema-cross-volume ${label} slip=${costs.slippageBps} fee=${costs.feeBps}`;
        t.strictSame(
          {
            fills: r.fills,
            finalEquity: r.finalEquity,
            totalReturn: r.totalReturn,
            maxDrawdown: r.maxDrawdown,
            tradesSha256: digest(r.trades),
          },
          golden.runs[key],
          key,
        );
        checked++;
      }
    }
  }
  t.equal(checked, Object.keys(golden.runs).length, 'every golden run was checked');
});

t.test('every registered strategy backtests exactly as the VirtualTrader trades it', async (t) => {
  for (const name of strategyNames()) {
    for (const [symbol, series] of candles) {
      const fresh = () => createStrategy(name);
      const probe = fresh();
      // A strategy that reads other symbols gets them; one of them may be the traded symbol's leader.
      const inputs = Object.fromEntries((probe.inputs ?? []).map((s) => [s, candles.get(s)!]));
      if ((probe.inputs ?? []).includes(symbol)) continue;
      const options = { symbol, seed: 10_000, costs: DEFAULT_FILL_COSTS, inputs };
      const fast = backtest(series, fresh(), options);
      const reference = referenceBacktest(series, fresh(), symbol, DEFAULT_FILL_COSTS, inputs, true);
      const { equity: referenceCurve, ...withoutCurve } = reference;
      t.strictSame(fast, withoutCurve, `${name} on ${symbol}: ${reference.fills} fills`);
      // The equity at every close too, to the bit: the fast loop works it out only where it can
      // change (held, or just filled), the reference on every candle.
      const curve = backtest(series, fresh(), { ...options, equityCurve: true }).equity!;
      const differ = referenceCurve!.findIndex((x, i) => !Object.is(x, curve[i]));
      t.equal(differ, -1, `${name} on ${symbol}: the equity curve, candle by candle`);
    }
  }
});

t.test('the books balance and a run with no signal is the seed to the atom', async (t) => {
  const series = candles.get('BTC/USDT')!;
  const idle: Strategy = { name: 'idle', version: 'idle/1', onCandle: () => null };
  const r = backtest(series, idle, { symbol: 'BTC/USDT', seed: 1234.56789012, costs: DEFAULT_FILL_COSTS });
  t.strictSame(
    {
      fills: r.fills,
      finalEquity: r.finalEquity,
      maxDrawdown: r.maxDrawdown,
      ledgerBalanced: r.ledgerBalanced,
    },
    { fills: 0, finalEquity: 1234.56789012, maxDrawdown: 0, ledgerBalanced: true },
  );
});
