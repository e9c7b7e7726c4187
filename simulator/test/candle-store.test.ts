import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import pino from 'pino';
import { rejectionOf } from '@appliance/test-kit';
import type { Candle } from '@appliance/trading-core';
import { encodeRecord } from '../src/node/candle-record.js';
import { seriesPath } from '../src/node/candle-series.js';
import { CandleStore } from '../src/node/candle-store.js';

const HOUR = 3_600_000;
const T0 = Date.UTC(2024, 0, 1);

function bar(i: number, close = 100 + i): Candle {
  return { time: T0 + i * HOUR, open: close - 1, high: close + 2, low: close - 3, close, volume: 10 + i / 7 };
}

/** A logger whose lines the test reads back. */
function capture() {
  const lines: { level: number; msg: string; [k: string]: unknown }[] = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  return { logger, lines, messages: () => lines.map((l) => l.msg) };
}

const tmp = () => mkdtempSync(join(tmpdir(), 'candle-store-'));
const file = (dir: string) => join(dir, seriesPath('BTC/USDT', '1h'));

t.test('candles read back in order, exactly as appended, within a range', async (t) => {
  const dir = tmp();
  const store = await CandleStore.open({ dir, logger: capture().logger });
  const bars = Array.from({ length: 24 }, (_, i) => bar(i, 100 + i * 0.1 + 1e-9));
  for (const c of bars) t.same(await store.append('BTC/USDT', '1h', c), { result: 'stored' });
  await store.append('ETH/USDT', '1h', bar(0, 5));
  t.same(await store.read('BTC/USDT', '1h'), bars);
  t.same(await store.read('BTC/USDT', '1h', { start: bars[3]!.time, end: bars[5]!.time }), bars.slice(3, 6));
  t.same(await store.read('ETH/USDT', '1h'), [bar(0, 5)]);
  t.same(await store.read('SOL/USDT', '1h'), [], 'a series never written is empty');
  t.equal(
    statSync(file(dir)).isFile(),
    true,
    'one file per symbol and timeframe, under candles/BTC-USDT/1h.log',
  );
  t.equal(readFileSync(file(dir), 'utf8'), bars.map(encodeRecord).join(''));
  await store.close();
});

t.test('a restart keeps every candle and the gaps', async (t) => {
  const dir = tmp();
  const first = await CandleStore.open({ dir, logger: capture().logger });
  for (const i of [0, 1, 2, 6, 7]) await first.append('BTC/USDT', '1h', bar(i));
  await first.close();
  const again = await CandleStore.open({ dir, logger: capture().logger });
  t.same(
    await again.read('BTC/USDT', '1h'),
    [0, 1, 2, 6, 7].map((i) => bar(i)),
  );
  t.same(again.gaps('BTC/USDT', '1h'), [
    { symbol: 'BTC/USDT', timeframe: '1h', from: bar(3).time, to: bar(5).time, missing: 3 },
  ]);
  t.same(again.repairs, [], 'nothing to repair after a clean close');
  t.same(await again.append('BTC/USDT', '1h', bar(8)), { result: 'stored' }, 'and appending goes on');
  t.same(await again.append('BTC/USDT', '1h', bar(7)), { result: 'duplicate' }, 'knowing what it held');
  await again.close();
});

t.test('a torn last record is cut off and reported, never kept', async (t) => {
  const dir = tmp();
  const store = await CandleStore.open({ dir, logger: capture().logger });
  for (const i of [0, 1, 2]) await store.append('BTC/USDT', '1h', bar(i));
  await store.close();
  const whole = readFileSync(file(dir)).length;
  const partial = encodeRecord(bar(3)).slice(0, 20);
  appendFileSync(file(dir), partial);

  const log = capture();
  const reopened = await CandleStore.open({ dir, logger: log.logger });
  t.same(
    await reopened.read('BTC/USDT', '1h'),
    [0, 1, 2].map((i) => bar(i)),
  );
  t.same(reopened.repairs, [
    { symbol: 'BTC/USDT', timeframe: '1h', path: file(dir), keptBytes: whole, cutBytes: 20, cut: partial },
  ]);
  t.ok(log.messages().includes('candle store: torn last record cut off (a crash mid-write)'));
  t.equal(statSync(file(dir)).size, whole, 'the file itself is cut back');
  t.same(
    await reopened.append('BTC/USDT', '1h', bar(3)),
    { result: 'stored' },
    'the torn bar can come again',
  );
  await reopened.close();
  const third = await CandleStore.open({ dir, logger: capture().logger });
  t.same(
    await third.read('BTC/USDT', '1h'),
    [0, 1, 2, 3].map((i) => bar(i)),
  );
  await third.close();
});

t.test(
  'a whole last line that fails its checksum (zeros or old blocks after power loss) is cut too',
  async (t) => {
    const dir = tmp();
    const store = await CandleStore.open({ dir, logger: capture().logger });
    await store.append('BTC/USDT', '1h', bar(0));
    await store.close();
    appendFileSync(file(dir), encodeRecord(bar(1)).replace('101', '109'));
    const reopened = await CandleStore.open({ dir, logger: capture().logger });
    t.same(await reopened.read('BTC/USDT', '1h'), [bar(0)]);
    t.equal(reopened.repairs.length, 1);
    await reopened.close();
  },
);

t.test('damage before the last record fails the open rather than dropping history', async (t) => {
  const dir = tmp();
  const store = await CandleStore.open({ dir, logger: capture().logger });
  for (const i of [0, 1, 2]) await store.append('BTC/USDT', '1h', bar(i));
  await store.close();
  const lines = readFileSync(file(dir), 'utf8').split('\n');
  lines[1] = lines[1]!.replace('*', '*0');
  writeFileSync(file(dir), lines.join('\n'));
  t.equal(
    await rejectionOf(CandleStore.open({ dir, logger: capture().logger })),
    `E_CORRUPT: ${file(dir)}:2: record unreadable; the records after it are kept on disk`,
  );
});

t.test(
  'a redelivered candle is ignored; a different one for a stored bar is reported, the first kept',
  async (t) => {
    const dir = tmp();
    const log = capture();
    const store = await CandleStore.open({ dir, logger: log.logger });
    for (const i of [0, 1, 2]) await store.append('BTC/USDT', '1h', bar(i));
    t.same(await store.append('BTC/USDT', '1h', bar(1)), { result: 'duplicate' });
    t.same(await store.append('BTC/USDT', '1h', bar(2)), { result: 'duplicate' });
    t.same(await store.append('BTC/USDT', '1h', { ...bar(1), close: 101.5 }), {
      result: 'conflict',
      stored: bar(1),
    });
    t.same(await store.append('BTC/USDT', '1h', { ...bar(2), volume: 0 }), {
      result: 'conflict',
      stored: bar(2),
    });
    t.same(
      await store.read('BTC/USDT', '1h'),
      [0, 1, 2].map((i) => bar(i)),
      'the first of each bar is kept',
    );
    t.match(store.stats(), [{ symbol: 'BTC/USDT', count: 3, duplicates: 2, conflicts: 2 }]);
    t.equal(log.messages().filter((m) => m === 'candle store: conflicting candle, first kept').length, 2);
    t.equal(readFileSync(file(dir), 'utf8').split('\n').length - 1, 3, 'nothing more was written');
    await store.close();
  },
);

t.test('a gap is stored past and recorded; a late or off-grid candle is reported, not stored', async (t) => {
  const dir = tmp();
  const log = capture();
  const store = await CandleStore.open({ dir, logger: log.logger });
  await store.append('BTC/USDT', '1h', bar(0));
  const gap = { symbol: 'BTC/USDT', timeframe: '1h', from: bar(1).time, to: bar(4).time, missing: 4 };
  t.same(await store.append('BTC/USDT', '1h', bar(5)), { result: 'stored', gap });
  t.same(await store.append('BTC/USDT', '1h', bar(6)), { result: 'stored' });
  t.same(await store.append('BTC/USDT', '1h', bar(8)), {
    result: 'stored',
    gap: { ...gap, from: bar(7).time, to: bar(7).time, missing: 1 },
  });
  t.same(
    await store.append('BTC/USDT', '1h', bar(3)),
    { result: 'late' },
    'an append-only file cannot fill a gap',
  );
  t.same(await store.append('BTC/USDT', '1h', { ...bar(9), time: bar(9).time + 60_000 }), {
    result: 'off-grid',
    last: bar(8).time,
  });
  t.same(store.gaps(), [gap, { ...gap, from: bar(7).time, to: bar(7).time, missing: 1 }]);
  t.ok(log.messages().includes('candle store: 4 1h candles missing'));
  t.same(
    await store.read('BTC/USDT', '1h'),
    [0, 5, 6, 8].map((i) => bar(i)),
  );
  await store.close();
});

t.test('bad input is refused with a code and changes nothing', async (t) => {
  const dir = tmp();
  const store = await CandleStore.open({ dir, logger: capture().logger });
  t.equal(
    await rejectionOf(store.append('BTC/USDT', '1h', { ...bar(0), high: 1 })),
    'E_BAD_CANDLE: BTC/USDT 1h candle: low <= min(open, close) <= max(open, close) <= high does not hold',
  );
  t.equal(
    await rejectionOf(store.append('../../etc', '1h', bar(0))),
    'E_BAD_SERIES: symbol ../../etc is not BASE/QUOTE, e.g. BTC/USDT',
  );
  t.equal(
    await rejectionOf(store.append('BTC/USDT', '1w', bar(0))),
    'E_BAD_SERIES: timeframe 1w is not like 1m, 4h or 1d',
  );
  t.same(await store.read('BTC/USDT', '1h'), []);
  await store.close();
  t.equal(await rejectionOf(store.append('BTC/USDT', '1h', bar(0))), 'E_CLOSED: the candle store is closed');
});

t.test('concurrent appends to one series are stored in call order', async (t) => {
  const dir = tmp();
  const store = await CandleStore.open({ dir, logger: capture().logger });
  const results = await Promise.all(
    Array.from({ length: 50 }, (_, i) => store.append('BTC/USDT', '1h', bar(i))),
  );
  t.ok(results.every((r) => r.result === 'stored'));
  await store.close();
  const again = await CandleStore.open({ dir, logger: capture().logger });
  t.same(
    await again.read('BTC/USDT', '1h'),
    Array.from({ length: 50 }, (_, i) => bar(i)),
  );
  await again.close();
});

const APPENDER = fileURLToPath(new URL('./fixtures/candle-appender.ts', import.meta.url));

t.test(
  'a writer killed with SIGKILL at a random point leaves a store that opens with every candle it wrote',
  async (t) => {
    const dir = tmp();
    // Three rounds into the same store: the second starts where the first was killed.
    let expected: number[] = [];
    for (let round = 0; round < 3; round++) {
      const start = expected.length ? expected.at(-1)! + HOUR : T0;
      const child = spawn(process.execPath, ['--import', 'tsx', APPENDER, dir, String(start)], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const acked: number[] = [];
      let buffered = '';
      // Killed after a random number of acknowledged appends: the point in a write it lands on is chance.
      const killAfter = 20 + Math.floor(Math.random() * 200);
      const exited = new Promise<NodeJS.Signals | null>((resolve) =>
        child.on('exit', (_code, sig) => resolve(sig)),
      );
      child.stdout.on('data', (d: Buffer) => {
        buffered += d.toString();
        const lines = buffered.split('\n');
        buffered = lines.pop()!;
        for (const l of lines) if (l !== 'ready') acked.push(Number(l));
        if (acked.length >= killAfter) child.kill('SIGKILL');
      });
      t.equal(await exited, 'SIGKILL', `round ${round}: killed`);
      const store = await CandleStore.open({ dir, logger: capture().logger });
      const times = (await store.read('BTC/USDT', '1h')).map((c) => c.time);
      // Every acknowledged candle is there, in order; the child may have stored a few more
      // between its last line read here and the signal landing, but each one whole and in turn.
      t.same(
        times.slice(0, expected.length + acked.length),
        [...expected, ...acked],
        `round ${round}: every acked candle`,
      );
      t.same(
        times,
        times.map((_, i) => T0 + i * HOUR),
        `round ${round}: contiguous, nothing torn kept`,
      );
      t.same(store.gaps(), [], `round ${round}: no gaps`);
      expected = times;
      await store.close();
    }
  },
);
