import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { rejectionOf } from '@appliance/test-kit';
import {
  describeCsvFile,
  gapMessage,
  readCandleCsv,
  replayCandles,
  resolveReplayFiles,
  type CandleGap,
} from '../src/index.js';

const DATA = new URL('../../../shared/data/ohlcv/', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'csv-'));
const HOUR = 3_600_000;
/** 2023-11-14T22:00:00Z: candle times are milliseconds. */
const T0 = 1_699_999_200_000;
const H = 'time,open,high,low,close,volume\n';

function file(name: string, body: string): string {
  const p = join(dir, name);
  writeFileSync(p, body);
  return p;
}

async function drain<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

t.test('the real BTC file reads completely, in order, as sound candles', async (t) => {
  const candles = await drain(readCandleCsv(join(DATA, 'binance_BTC-USDT_1h.csv')));
  t.equal(candles.length, 23_987);
  t.same(candles[0], {
    time: 1617566400000,
    open: 57953.86,
    high: 58051.25,
    low: 57826.16,
    close: 58025.11,
    volume: 1240.209016,
  });
  t.ok(candles.every((c, i) => i === 0 || c.time > candles[i - 1]!.time));
});

t.test('file names tell the symbol and timeframe', async (t) => {
  t.same(describeCsvFile('/x/binance_DOGE-USDT_1h.csv'), { symbol: 'DOGE/USDT', timeframe: '1h' });
  t.equal(describeCsvFile('/x/prices.csv'), undefined);
});

t.test('a bad row stops the replay with the file and line', async (t) => {
  const ok = `${T0},1,2,0.5,1.5,10\n`;
  const T1 = T0 + HOUR;
  const cases: [string, string, string][] = [
    [
      'header',
      'date,o,h,l,c,v\n' + ok,
      `E_BAD_HEADER: ${dir}/header.csv:1: header must be "time,open,high,low,close,volume", got "date,o,h,l,c,v"`,
    ],
    ['fields', H + ok + `${T1},1,2,0.5\n`, `E_BAD_ROW: ${dir}/fields.csv:3: expected 6 fields, got 4`],
    [
      'number',
      H + ok + `${T1},1,abc,0.5,1,1\n`,
      `E_BAD_ROW: ${dir}/number.csv:3: high is not a finite number`,
    ],
    ['empty', H + ok + `${T1},,2,0.5,1,1\n`, `E_BAD_ROW: ${dir}/empty.csv:3: open is not a finite number`],
    [
      'ohlc',
      H + ok + `${T1},1,2,1.5,1,1\n`,
      `E_BAD_ROW: ${dir}/ohlc.csv:3: low <= min(open, close) <= max(open, close) <= high does not hold`,
    ],
    ['sorted', H + ok + ok, `E_NOT_SORTED: ${dir}/sorted.csv:3: time ${T0} does not follow ${T0}`],
    ['negative', H + `${T0},1,2,0.5,1.5,-1\n`, `E_BAD_ROW: ${dir}/negative.csv:2: volume must be >= 0`],
  ];
  for (const [name, body, expected] of cases) {
    const path = file(`${name}.csv`, body);
    t.equal(await rejectionOf(drain(readCandleCsv(path))), expected, name);
  }
  t.match(
    await rejectionOf(drain(readCandleCsv(join(dir, 'missing.csv')))),
    /^E_FILE: .*missing\.csv: ENOENT/,
  );
});

t.test(
  'several files replay as one stream ordered by candle time, from a start time, up to a limit',
  async (t) => {
    const at = (h: number) => `${T0 + h * HOUR},1,1,1,1,1\n`;
    const a = file('binance_AAA-USDT_1h.csv', H + at(1) + at(3) + at(5));
    const b = file('binance_BBB-USDT_1h.csv', H + at(2) + at(4));
    const all = await drain(
      replayCandles(
        [
          { symbol: 'AAA/USDT', path: a },
          { symbol: 'BBB/USDT', path: b },
        ],
        { speed: 'max' },
      ),
    );
    t.same(
      all.map((x) => `${x.symbol}@${(x.candle.time - T0) / HOUR}`),
      ['AAA/USDT@1', 'BBB/USDT@2', 'AAA/USDT@3', 'BBB/USDT@4', 'AAA/USDT@5'],
    );
    const some = await drain(
      replayCandles(
        [
          { symbol: 'AAA/USDT', path: a },
          { symbol: 'BBB/USDT', path: b },
        ],
        { speed: 'max', from: T0 + 2 * HOUR, limit: 2 },
      ),
    );
    t.same(
      some.map((x) => (x.candle.time - T0) / HOUR),
      [2, 3],
    );
  },
);

t.test('pacing follows market time divided by the speed', async (t) => {
  const a = file(
    'binance_CCC-USDT_1h.csv',
    H + `${T0},1,1,1,1,1\n${T0 + HOUR},1,1,1,1,1\n${T0 + 3 * HOUR},1,1,1,1,1\n`,
  );
  let clock = 0;
  const sleeps: number[] = [];
  const out = await drain(
    replayCandles([{ symbol: 'CCC/USDT', path: a }], {
      speed: 3600,
      now: () => clock,
      sleep: async (ms) => void (sleeps.push(ms), (clock += ms)),
    }),
  );
  t.equal(out.length, 3);
  t.same(sleeps, [1000, 2000], 'an hour of market time per second, gaps kept');
});

t.test('hexadecimal, binary and octal numbers are refused, naming the field and the text', async (t) => {
  const ok = `${T0},1,2,0.5,1.5,10\n`;
  const T1 = T0 + HOUR;
  const cases: [string, string, string][] = [
    [
      'hex',
      H + ok + `${T1},0x1A,30,20,26,1\n`,
      `E_BAD_ROW: ${dir}/hex.csv:3: open "0x1A" is not a decimal number`,
    ],
    [
      'hex-time',
      H + '0x18BCFE56800,1,2,0.5,1.5,10\n',
      `E_BAD_ROW: ${dir}/hex-time.csv:2: time "0x18BCFE56800" is not a decimal number`,
    ],
    [
      'binary',
      H + ok + `${T1},1,2,0.5,1.5,0b101\n`,
      `E_BAD_ROW: ${dir}/binary.csv:3: volume "0b101" is not a decimal number`,
    ],
    [
      'octal',
      H + ok + `${T1},1,0o7,0.5,1.5,1\n`,
      `E_BAD_ROW: ${dir}/octal.csv:3: high "0o7" is not a decimal number`,
    ],
    [
      'infinity',
      H + ok + `${T1},1,Infinity,0.5,1.5,1\n`,
      `E_BAD_ROW: ${dir}/infinity.csv:3: high is not a finite number`,
    ],
  ];
  for (const [name, body, expected] of cases) {
    t.equal(await rejectionOf(drain(readCandleCsv(file(`${name}.csv`, body)))), expected, name);
  }
  const fine = await drain(readCandleCsv(file('decimals.csv', H + `${T0},1e2,1.5E2,.5,100.,+7\n`)));
  t.same(
    fine,
    [{ time: T0, open: 100, high: 150, low: 0.5, close: 100, volume: 7 }],
    'plain decimals still read',
  );
});

t.test('times in seconds are refused with a clear message', async (t) => {
  const path = file('seconds.csv', H + '1617566400,1,2,0.5,1.5,10\n');
  t.equal(
    await rejectionOf(drain(readCandleCsv(path))),
    `E_BAD_ROW: ${path}:2: time 1617566400 is in seconds, not milliseconds (times must be ms since 1970; below 100000000000 is taken as seconds)`,
  );
});

t.test(
  'gaps in the timeframe are reported with the file, both times and the count; the read goes on',
  async (t) => {
    const at = (h: number) => `${T0 + h * HOUR},1,2,0.5,1.5,10\n`;
    const path = file('gappy.csv', H + at(0) + at(1) + at(4) + at(5) + at(7));
    const gaps: CandleGap[] = [];
    const candles = await drain(readCandleCsv(path, { timeframe: '1h', onGap: (g) => gaps.push(g) }));
    t.equal(candles.length, 5, 'every candle is still read');
    t.same(gaps, [
      { path, line: 4, after: T0 + HOUR, before: T0 + 4 * HOUR, missing: 2, timeframe: '1h' },
      { path, line: 6, after: T0 + 5 * HOUR, before: T0 + 7 * HOUR, missing: 1, timeframe: '1h' },
    ]);
    t.equal(
      gapMessage(gaps[0]!),
      `${path}:4: gap: 2 1h candles missing between 2023-11-14T23:00:00.000Z and 2023-11-15T02:00:00.000Z; replay goes on`,
    );
    t.equal(
      gapMessage(gaps[1]!),
      `${path}:6: gap: 1 1h candle missing between 2023-11-15T03:00:00.000Z and 2023-11-15T05:00:00.000Z; replay goes on`,
    );
    const offGrid = file('offgrid.csv', H + at(0) + `${T0 + HOUR / 2},1,2,0.5,1.5,10\n`);
    t.equal(
      await rejectionOf(drain(readCandleCsv(offGrid, { timeframe: '1h' }))),
      `E_BAD_ROW: ${offGrid}:3: time ${T0 + HOUR / 2} is 1800000 ms after the previous candle, not a whole number of 1h candles (wrong --timeframe?)`,
    );
  },
);

t.test('the real BTC file has five gaps, each reported', async (t) => {
  const gaps: CandleGap[] = [];
  const candles = await drain(
    readCandleCsv(join(DATA, 'binance_BTC-USDT_1h.csv'), { timeframe: '1h', onGap: (g) => gaps.push(g) }),
  );
  t.equal(candles.length, 23_987);
  t.equal(gaps.length, 5);
  t.match(gaps[0], { after: 1618880400000, before: 1618891200000, missing: 2 });
});

t.test('--symbol and --timeframe name files whose names do not tell', async (t) => {
  t.same(resolveReplayFiles(['/x/prices.csv'], { symbol: 'BTC/USDT', timeframe: '15m' }), [
    { path: '/x/prices.csv', symbol: 'BTC/USDT', timeframe: '15m' },
  ]);
  t.same(
    resolveReplayFiles(['/x/binance_BTC-USDT_1h.csv', '/x/binance_ETH-USDT_1h.csv'], { timeframe: '1h' }),
    [
      { path: '/x/binance_BTC-USDT_1h.csv', symbol: 'BTC/USDT', timeframe: '1h' },
      { path: '/x/binance_ETH-USDT_1h.csv', symbol: 'ETH/USDT', timeframe: '1h' },
    ],
  );
  const refused = (files: string[], o: { symbol?: string; timeframe?: string }) => {
    try {
      resolveReplayFiles(files, o);
      return 'accepted';
    } catch (err) {
      return `${(err as { code: string }).code}: ${(err as Error).message}`;
    }
  };
  t.equal(
    refused(['/x/a.csv', '/x/b.csv'], { symbol: 'BTC/USDT', timeframe: '1h' }),
    'E_FILE: --symbol BTC/USDT names the pair of one file, but 2 files were given: replay one file per --symbol, or name each file like binance_BTC-USDT_1h.csv',
  );
  t.equal(
    refused(['/x/prices.csv'], {}),
    'E_FILE: /x/prices.csv: cannot tell symbol from the name (expected e.g. binance_BTC-USDT_1h.csv); give --symbol',
  );
  t.equal(
    refused(['/x/prices.csv'], { symbol: 'BTC/USDT' }),
    'E_FILE: /x/prices.csv: cannot tell timeframe from the name (expected e.g. binance_BTC-USDT_1h.csv); give --timeframe',
  );
  t.equal(
    refused(['/x/binance_BTC-USDT_1h.csv'], { symbol: 'ETH/USDT' }),
    'E_FILE: /x/binance_BTC-USDT_1h.csv: the name says BTC/USDT, --symbol says ETH/USDT',
  );
  t.equal(
    refused(['/x/binance_BTC-USDT_1h.csv'], { timeframe: '4h' }),
    'E_FILE: /x/binance_BTC-USDT_1h.csv: the name says 1h, --timeframe says 4h',
  );
  t.equal(
    refused(['/x/binance_BTC-USDT_1h.csv', '/x/binance_ETH-USDT_4h.csv'], {}),
    'E_FILE: replay files mix timeframes: 1h, 4h',
  );
  t.equal(
    refused(['/x/binance_BTC-USDT_1h.csv', '/y/binance_BTC-USDT_1h.csv'], {}),
    'E_FILE: two replay files are both BTC/USDT',
  );
  t.equal(
    refused(['/x/p.csv'], { symbol: 'btc-usdt', timeframe: '1h' }),
    'E_FILE: --symbol btc-usdt: expected BASE/QUOTE, e.g. BTC/USDT',
  );
  t.equal(
    refused(['/x/p.csv'], { symbol: 'BTC/USDT', timeframe: '1w' }),
    'E_FILE: --timeframe 1w: expected e.g. 1m, 15m, 1h, 4h or 1d',
  );
});
