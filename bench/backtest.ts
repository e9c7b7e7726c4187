/**
 * Issue #11's backtest figures: candles per second of `backtest()` (one strategy, with fills
 * booked in the exact ledger) beside a hand-written loop computing the same indicators and
 * decisions with float fills, over the same candles in the same run.
 */
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  DEFAULT_FILL_COSTS,
  EmaCrossVolumeStrategy,
  backtest,
  type Candle,
  type FillCosts,
} from '@appliance/trading-core';
import { describeCsvFile, readCandleCsv } from '../datafeed-node/src/csv-candles.js';
import { REPO_ROOT } from './ipc.js';
import type { Suite } from './suite.js';
import { fmt, formatTable } from './table.js';

/** The recorded candles beside the repository (see shared/data/SOURCES.md); never copied in. */
const DEFAULT_DATA = resolve(REPO_ROOT, '../shared/data/ohlcv');
const DEFAULT_ROUNDS = 7;
/** Every file is run this many times a round, so a round is long enough to time. */
const REPEAT = 8;

interface Series {
  symbol: string;
  candles: Candle[];
}

/**
 * Every candle file in `dir` named as the datafeed names them (`binance_BTC-USDT_1h.csv`), read
 * with the datafeed's own reader, which checks each row.
 */
async function loadSeries(dir: string): Promise<Series[]> {
  const files = readdirSync(dir)
    .filter((f) => describeCsvFile(f) !== undefined)
    .sort();
  if (files.length === 0) throw new Error(`backtest bench: no candle CSV files in ${dir}`);
  const all: Series[] = [];
  for (const file of files) {
    const candles: Candle[] = [];
    for await (const c of readCandleCsv(join(dir, file))) candles.push(c);
    all.push({ symbol: describeCsvFile(file)!.symbol, candles });
  }
  return all;
}

interface Run {
  fills: number;
  finalEquity: number;
}

/**
 * The peer: EmaCrossVolumeStrategy's rule and the trader's decide-at-close, fill-at-next-open
 * order written out in one loop, with float cash and position (no atoms, no ledger, no
 * candle checks). The same indicators, to the operation: EMAs seeded with the simple average,
 * and the volume average a running sum with its rounding error carried (TwoSum), as
 * VolumeAverage keeps it. The same decisions, so the same number of fills give or take rounding;
 * the drawdown divides only at a new low since the peak, as backtest() does.
 */
function handLoop(candles: readonly Candle[], seed: number, costs: FillCosts): Run {
  const fastAlpha = 2 / (12 + 1);
  const slowAlpha = 2 / (26 + 1);
  const volumePeriod = 20;
  const volumes = new Float64Array(volumePeriod);
  const buyFactor = 1 + costs.slippageBps / 10_000;
  const sellFactor = 1 - costs.slippageBps / 10_000;
  const fee = costs.feeBps / 10_000;
  let fast = 0;
  let slow = 0;
  let volumeSum = 0;
  let volumeError = 0;
  let wasAbove = -1;
  let cash = seed;
  let held = 0;
  let pending = 0;
  let pendingQuantity = 0;
  let fills = 0;
  let peak = seed;
  let trough = seed;
  let maxDrawdown = 0;
  let lastClose = 0;
  for (let i = 0; i < candles.length; i++) {
    const c = candles[i]!;
    if (pending === 1) {
      const price = c.open * buyFactor;
      const quantity = Math.min(pendingQuantity, cash / (price * (1 + fee)));
      cash -= quantity * price * (1 + fee);
      held = quantity;
      fills++;
    } else if (pending === 2) {
      cash += held * c.open * sellFactor * (1 - fee);
      held = 0;
      fills++;
    }
    pending = 0;
    const close = c.close;
    const averageVolume = i >= volumePeriod ? (volumeSum + volumeError) / volumePeriod : -1;
    const slot = i % volumePeriod;
    if (i >= volumePeriod) {
      const y = -volumes[slot]!;
      const t = volumeSum + y;
      const b = t - volumeSum;
      volumeError += volumeSum - (t - b) + (y - b);
      volumeSum = t;
    }
    const v = c.volume;
    const t = volumeSum + v;
    const b = t - volumeSum;
    volumeError += volumeSum - (t - b) + (v - b);
    volumeSum = t;
    volumes[slot] = v;
    if (i < 12) fast += close / 12;
    else fast += fastAlpha * (close - fast);
    if (i < 26) slow += close / 26;
    else slow += slowAlpha * (close - slow);
    if (i >= 25) {
      const above = fast > slow ? 1 : 0;
      if (wasAbove !== -1 && above !== wasAbove) {
        if (above === 1) {
          if (held === 0 && averageVolume >= 0 && c.volume > averageVolume) {
            pending = 1;
            pendingQuantity = cash / (close * buyFactor * (1 + fee));
          }
        } else if (held > 0) pending = 2;
      }
      wasAbove = above;
    }
    lastClose = close;
    const equity = cash + held * close;
    if (equity > peak) {
      peak = equity;
      trough = equity;
    } else if (equity < trough) {
      trough = equity;
      maxDrawdown = Math.max(maxDrawdown, (peak - equity) / peak);
    }
  }
  // Used, so the loop's work cannot be optimised away.
  if (!(maxDrawdown >= 0)) throw new Error('backtest bench: hand loop lost its drawdown');
  return { fills, finalEquity: cash + held * lastClose };
}

function engine(series: Series, seed: number, costs: FillCosts): Run {
  const r = backtest(series.candles, new EmaCrossVolumeStrategy(), { symbol: series.symbol, seed, costs });
  if (!r.ledgerBalanced) throw new Error(`backtest bench: ${series.symbol}: the ledger does not balance`);
  return { fills: r.fills, finalEquity: r.finalEquity };
}

const RUNNERS = [
  { name: 'backtest()', run: engine },
  { name: 'hand loop', run: (s: Series, seed: number, costs: FillCosts) => handLoop(s.candles, seed, costs) },
] as const;

function timeRound(
  run: (s: Series, seed: number, costs: FillCosts) => Run,
  all: Series[],
): { seconds: number; fills: number } {
  let fills = 0;
  const started = process.hrtime.bigint();
  for (let k = 0; k < REPEAT; k++) for (const s of all) fills += run(s, 10_000, DEFAULT_FILL_COSTS).fills;
  return { seconds: Number(process.hrtime.bigint() - started) / 1e9, fills: fills / REPEAT };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

export const backtestSuite: Suite = {
  name: 'backtest',
  description:
    'backtest candles/s with fills (ema-cross-volume) vs a hand-written float loop, real 1h candles',
  options: { 'backtest-data': { type: 'string' }, 'backtest-rounds': { type: 'string' } },
  async run(ctx) {
    const dir = resolve(String(ctx.options['backtest-data'] ?? DEFAULT_DATA));
    const rounds = Number(ctx.options['backtest-rounds'] ?? DEFAULT_ROUNDS);
    if (!Number.isInteger(rounds) || rounds < 1)
      throw new Error('--backtest-rounds must be a positive integer');
    const all = await loadSeries(dir);
    const candles = all.reduce((n, s) => n + s.candles.length, 0);
    ctx.log(`backtest: ${all.length} files, ${candles} candles, ×${REPEAT} a round, ${rounds} rounds`);
    // Untimed rounds warm the JIT for both.
    for (const r of RUNNERS) for (let k = 0; k < 2; k++) timeRound(r.run, all);
    const seconds = new Map<string, number[]>(RUNNERS.map((r) => [r.name, []]));
    const fills = new Map<string, number>();
    for (let round = 0; round < rounds; round++) {
      // ABBA order, so drift falls on both sides of the ratio.
      const order = round % 2 === 0 ? RUNNERS : [...RUNNERS].reverse();
      for (const r of order) {
        const t = timeRound(r.run, all);
        seconds.get(r.name)!.push(t.seconds);
        fills.set(r.name, t.fills);
        ctx.log(
          `backtest: ${r.name} round ${round + 1}: ${fmt((candles * REPEAT) / t.seconds / 1e6)} M candles/s`,
        );
      }
    }
    const results = Object.fromEntries(
      RUNNERS.map((r) => {
        const s = median(seconds.get(r.name)!);
        return [r.name, { candlesPerSec: Math.round((candles * REPEAT) / s), fills: fills.get(r.name)! }];
      }),
    );
    const ours = results['backtest()']!;
    const hand = results['hand loop']!;
    const handOverOurs = hand.candlesPerSec / ours.candlesPerSec;
    return {
      report: {
        config: { dir, files: all.map((s) => s.symbol), candles, repeat: REPEAT, rounds },
        results,
        ratios: { handOverOurs, fillShare: ours.fills / candles },
      },
      table: [
        `backtest: ema-cross-volume over ${candles} real candles (${all.length} files), median of ${rounds} rounds`,
        ...formatTable(
          ['runner', 'M candles/s', 'fills', 'fills / candle'],
          RUNNERS.map((r) => {
            const x = results[r.name]!;
            return [r.name, fmt(x.candlesPerSec / 1e6), x.fills, fmt(x.fills / candles, 4)];
          }),
        ),
        `hand loop ÷ backtest(): ${fmt(handOverOurs)}x (target: within 3x; backtest() >= 20 M candles/s)`,
      ],
    };
  },
};
