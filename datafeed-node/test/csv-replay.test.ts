import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { rejectionOf } from '@appliance/test-kit';
import { describeCsvFile, readCandleCsv, replayCandles } from '../src/index.js';

const DATA = new URL('../../../shared/data/ohlcv/', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'csv-'));

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
  const H = 'time,open,high,low,close,volume\n';
  const ok = '1000,1,2,0.5,1.5,10\n';
  const cases: [string, string, string][] = [
    [
      'header',
      'date,o,h,l,c,v\n' + ok,
      `E_BAD_HEADER: ${dir}/header.csv:1: header must be "time,open,high,low,close,volume", got "date,o,h,l,c,v"`,
    ],
    ['fields', H + ok + '2000,1,2,0.5\n', `E_BAD_ROW: ${dir}/fields.csv:3: expected 6 fields, got 4`],
    [
      'number',
      H + ok + '2000,1,abc,0.5,1,1\n',
      `E_BAD_ROW: ${dir}/number.csv:3: high is not a finite number`,
    ],
    ['empty', H + ok + '2000,,2,0.5,1,1\n', `E_BAD_ROW: ${dir}/empty.csv:3: open is not a finite number`],
    [
      'ohlc',
      H + ok + '2000,1,2,1.5,1,1\n',
      `E_BAD_ROW: ${dir}/ohlc.csv:3: low <= min(open, close) <= max(open, close) <= high does not hold`,
    ],
    ['sorted', H + ok + ok, `E_NOT_SORTED: ${dir}/sorted.csv:3: time 1000 does not follow 1000`],
    ['negative', H + '1000,1,2,0.5,1.5,-1\n', `E_BAD_ROW: ${dir}/negative.csv:2: volume must be >= 0`],
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
    const H = 'time,open,high,low,close,volume\n';
    const a = file('binance_AAA-USDT_1h.csv', H + '1000,1,1,1,1,1\n3000,1,1,1,1,1\n5000,1,1,1,1,1\n');
    const b = file('binance_BBB-USDT_1h.csv', H + '2000,1,1,1,1,1\n4000,1,1,1,1,1\n');
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
      all.map((x) => `${x.symbol}@${x.candle.time}`),
      ['AAA/USDT@1000', 'BBB/USDT@2000', 'AAA/USDT@3000', 'BBB/USDT@4000', 'AAA/USDT@5000'],
    );
    const some = await drain(
      replayCandles(
        [
          { symbol: 'AAA/USDT', path: a },
          { symbol: 'BBB/USDT', path: b },
        ],
        { speed: 'max', from: 2000, limit: 2 },
      ),
    );
    t.same(
      some.map((x) => x.candle.time),
      [2000, 3000],
    );
  },
);

t.test('pacing follows market time divided by the speed', async (t) => {
  const H = 'time,open,high,low,close,volume\n';
  const a = file('binance_CCC-USDT_1h.csv', H + '0,1,1,1,1,1\n3600000,1,1,1,1,1\n10800000,1,1,1,1,1\n');
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
