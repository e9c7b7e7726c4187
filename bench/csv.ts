/**
 * Issue #9's candle CSV figures: rows per second of datafeed-node's `readCandleCsv` beside the
 * reader it replaced (bench/csv-baseline.ts), on the same generated file in the same run.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Candle } from '@appliance/trading-core';
import { seededRandom } from '@appliance/trading-core';
import { readCandleCsv, type ReadCsvOptions } from '../datafeed-node/src/csv-candles.js';
import { readCandleCsvBaseline } from './csv-baseline.js';
import type { Suite } from './suite.js';
import { fmt, formatTable } from './table.js';

/** A year of 1-minute candles. */
const DEFAULT_ROWS = 525_600;
const DEFAULT_ROUNDS = 5;
const MINUTE = 60_000;
/** 2025-01-01T00:00:00Z. */
const START = 1_735_689_600_000;
/** A gap of a few candles every this many rows, as exchange outages leave in real files. */
const GAP_EVERY = 50_000;

type Reader = (path: string, o: ReadCsvOptions) => AsyncGenerator<Candle>;

const READERS: { name: string; read: Reader }[] = [
  { name: 'readCandleCsv', read: readCandleCsv },
  { name: 'baseline', read: readCandleCsvBaseline },
];

/**
 * A random walk written as an exchange export would be: ms times, prices with 2 decimals,
 * volumes with 5. Seeded, so every run reads the same bytes.
 */
function writeCandles(path: string, rows: number): { bytes: number; gaps: number } {
  const random = seededRandom(9);
  const lines = ['time,open,high,low,close,volume'];
  let time = START;
  let price = 42_000;
  let gaps = 0;
  for (let i = 0; i < rows; i++) {
    if (i > 0 && i % GAP_EVERY === 0) {
      time += 3 * MINUTE;
      gaps++;
    }
    const open = price;
    const close = Math.max(1, open * (1 + (random() - 0.5) * 0.004));
    const high = Math.max(open, close) * (1 + random() * 0.001);
    const low = Math.min(open, close) * (1 - random() * 0.001);
    const volume = random() * 50;
    lines.push(
      `${time},${open.toFixed(2)},${high.toFixed(2)},${low.toFixed(2)},${close.toFixed(2)},${volume.toFixed(5)}`,
    );
    price = Number(close.toFixed(2));
    time += MINUTE;
  }
  const text = `${lines.join('\n')}\n`;
  writeFileSync(path, text);
  return { bytes: Buffer.byteLength(text), gaps };
}

/** Reads the whole file as the datafeed does (for await, 1m grid, gaps reported). */
async function timeRead(
  read: Reader,
  path: string,
): Promise<{ seconds: number; cpuSeconds: number; rows: number; gaps: number }> {
  let rows = 0;
  let gaps = 0;
  let checksum = 0;
  const started = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  for await (const c of read(path, { timeframe: '1m', onGap: () => gaps++ })) {
    rows++;
    checksum += c.close;
  }
  const used = process.cpuUsage(cpu);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  // Used, so the loop's work cannot be optimised away.
  if (!(checksum > 0)) throw new Error('csv bench: read no prices');
  return { seconds, cpuSeconds: (used.user + used.system) / 1e6, rows, gaps };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

export const csvSuite: Suite = {
  name: 'csv',
  description: 'candle CSV rows/s: readCandleCsv vs the reader it replaced, a generated year of 1m candles',
  options: { 'csv-rows': { type: 'string' }, 'csv-rounds': { type: 'string' } },
  async run(ctx) {
    const rows = Number(ctx.options['csv-rows'] ?? DEFAULT_ROWS);
    const rounds = Number(ctx.options['csv-rounds'] ?? DEFAULT_ROUNDS);
    if (!Number.isInteger(rows) || rows < 1) throw new Error('--csv-rows must be a positive integer');
    if (!Number.isInteger(rounds) || rounds < 1) throw new Error('--csv-rounds must be a positive integer');
    const dir = mkdtempSync(join(tmpdir(), 'bench-csv-'));
    const path = join(dir, 'binance_BTC-USDT_1m.csv');
    try {
      const file = writeCandles(path, rows);
      ctx.log(`csv: ${rows} rows, ${(file.bytes / 2 ** 20).toFixed(1)} MiB, ${file.gaps} gaps`);
      // One untimed read each warms the JIT and the page cache for both.
      for (const r of READERS) await timeRead(r.read, path);
      const seconds = new Map<string, number[]>(READERS.map((r) => [r.name, []]));
      const cpuSeconds = new Map<string, number[]>(READERS.map((r) => [r.name, []]));
      for (let round = 0; round < rounds; round++) {
        // ABBA order, so drift falls on both sides of the ratio.
        const order = round % 2 === 0 ? READERS : [...READERS].reverse();
        for (const r of order) {
          const run = await timeRead(r.read, path);
          if (run.rows !== rows || run.gaps !== file.gaps)
            throw new Error(`csv bench: ${r.name} read ${run.rows} rows and ${run.gaps} gaps`);
          seconds.get(r.name)!.push(run.seconds);
          cpuSeconds.get(r.name)!.push(run.cpuSeconds);
          ctx.log(`csv: ${r.name} round ${round + 1}: ${(rows / run.seconds / 1e6).toFixed(2)} M rows/s`);
        }
      }
      const results = Object.fromEntries(
        READERS.map((r) => {
          const s = median(seconds.get(r.name)!);
          const cpuS = median(cpuSeconds.get(r.name)!);
          return [
            r.name,
            {
              medianSeconds: s,
              rowsPerSec: Math.round(rows / s),
              mibPerSec: file.bytes / 2 ** 20 / s,
              // CPU time of the whole process (the file is read on a libuv pool thread): less
              // moved than wall time by other work on the machine.
              rowsPerCpuSec: Math.round(rows / cpuS),
              rowsPerSecRounds: seconds.get(r.name)!.map((x) => Math.round(rows / x)),
            },
          ];
        }),
      );
      const speedup = results.readCandleCsv!.rowsPerSec / results.baseline!.rowsPerSec;
      const cpuSpeedup = results.readCandleCsv!.rowsPerCpuSec / results.baseline!.rowsPerCpuSec;
      return {
        report: {
          config: { rows, rounds, bytes: file.bytes, gaps: file.gaps },
          results,
          ratios: { speedup, cpuSpeedup },
        },
        table: [
          `csv: ${rows} rows of 1m candles (${(file.bytes / 2 ** 20).toFixed(1)} MiB), median of ${rounds} rounds`,
          ...formatTable(
            ['reader', 'M rows/s', 'MiB/s', 's per file', 'M rows/cpu-s'],
            READERS.map((r) => {
              const x = results[r.name]!;
              return [
                r.name,
                fmt(x.rowsPerSec / 1e6),
                fmt(x.mibPerSec, 1),
                fmt(x.medianSeconds, 3),
                fmt(x.rowsPerCpuSec / 1e6),
              ];
            }),
          ),
          `speed-up readCandleCsv ÷ baseline: ${fmt(speedup)}x wall, ${fmt(cpuSpeedup)}x CPU`,
        ],
      };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
