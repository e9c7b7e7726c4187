import t from 'tap';
import type { Exchange } from 'ccxt';
import pino from 'pino';
import { DEFAULT_MARKETS, createPaperExchange } from '@appliance/paper-exchange';
import { DEFAULT_FILL_COSTS, type Candle } from '@appliance/trading-core';
import { createBinance } from '@appliance/runtime/ccxt';
import { pollCandles, type PollStats } from '../src/index.js';

const MIN = 60_000;
const T0 = 1_700_000_000_000 - (1_700_000_000_000 % MIN);
const bar = (i: number, close = 100 + i): Candle => ({
  time: T0 + i * MIN,
  open: close,
  high: close + 1,
  low: close - 1,
  close,
  volume: 10 + i,
});

t.test(
  'live polling through real ccxt yields each closed candle once, in order, never the forming one',
  async (t) => {
    const paper = createPaperExchange({
      markets: DEFAULT_MARKETS,
      costs: DEFAULT_FILL_COSTS,
      logger: pino({ level: 'silent' }),
    });
    const url = await paper.listen({ port: 0 });
    t.teardown(() => paper.close());
    for (let i = 0; i < 5; i++) paper.onCandle('BTC/USDT', bar(i));

    let now = T0 + 4 * MIN + 30_000; // bar 4 is still forming
    const steps: (() => void)[] = [
      () => {
        paper.onCandle('BTC/USDT', bar(5));
        paper.onCandle('BTC/USDT', bar(6));
        now = T0 + 6 * MIN + 1; // bars 4 and 5 have closed, 6 is forming
      },
      () => {
        now = T0 + 7 * MIN; // bar 6 has closed
      },
    ];
    const abort = new AbortController();
    const got: number[] = [];
    for await (const c of pollCandles({
      exchange: createBinance({ baseUrl: url }),
      symbol: 'BTC/USDT',
      timeframe: '1m',
      pollMs: 1,
      since: T0 + MIN,
      now: () => now,
      signal: abort.signal,
      sleep: async () => {
        const step = steps.shift();
        if (step) step();
        else abort.abort();
      },
    })) {
      got.push((c.time - T0) / MIN);
      if (got.length === 1) t.same(c, bar(1), 'candles arrive as they were recorded');
    }
    t.same(got, [1, 2, 3, 4, 5, 6]);
  },
);

t.test('without a start time, polling begins at the latest closed candle', async (t) => {
  const paper = createPaperExchange({
    markets: DEFAULT_MARKETS,
    costs: DEFAULT_FILL_COSTS,
    logger: pino({ level: 'silent' }),
  });
  const url = await paper.listen({ port: 0 });
  t.teardown(() => paper.close());
  for (let i = 0; i < 5; i++) paper.onCandle('BTC/USDT', bar(i));
  const abort = new AbortController();
  const got: number[] = [];
  for await (const c of pollCandles({
    exchange: createBinance({ baseUrl: url }),
    symbol: 'BTC/USDT',
    timeframe: '1m',
    pollMs: 1,
    now: () => T0 + 5 * MIN,
    signal: abort.signal,
    sleep: async () => abort.abort(),
  })) {
    got.push((c.time - T0) / MIN);
  }
  t.same(got, [4]);
});

t.test('a source that keeps failing ends with E_SOURCE after the allowed failures', async (t) => {
  const exchange = createBinance({ baseUrl: 'http://127.0.0.1:9' }); // nothing listens on the discard port
  const errors: unknown[] = [];
  const run = async () => {
    for await (const _ of pollCandles({
      exchange,
      symbol: 'BTC/USDT',
      timeframe: '1m',
      pollMs: 1,
      maxFailures: 3,
      onError: (e) => errors.push(e),
      sleep: async () => undefined,
    })) {
      /* nothing arrives */
    }
  };
  await t.rejects(run(), { code: 'E_SOURCE', message: /^fetchOHLCV BTC\/USDT failed 3 times: / });
  t.equal(errors.length, 3);
});

t.test(
  'a failed poll is retried after a backoff, and a success goes back to the poll interval',
  async (t) => {
    let calls = 0;
    // Fails three times, then answers with one closed candle and one still forming.
    const exchange = {
      parseTimeframe: () => 60,
      fetchOHLCV: async () => {
        if (++calls <= 3) throw new Error(`down ${calls}`);
        return [bar(0), bar(1)].map((c) => [c.time, c.open, c.high, c.low, c.close, c.volume]);
      },
    } as unknown as Exchange;
    const abort = new AbortController();
    const sleeps: number[] = [];
    const got: Candle[] = [];
    for await (const c of pollCandles({
      exchange,
      symbol: 'BTC/USDT',
      timeframe: '1m',
      pollMs: 7,
      now: () => T0 + 2 * MIN - 1,
      retry: { initialMs: 100, maxMs: 1_000, jitter: 'equal' },
      random: () => 0,
      signal: abort.signal,
      sleep: async (ms) => {
        sleeps.push(ms);
        if (sleeps.length === 4) abort.abort();
      },
    }))
      got.push(c);
    t.same(
      sleeps,
      [50, 100, 200, 7],
      'equal jitter with random 0: half of 100, 200, 400; then the poll interval',
    );
    t.same(got, [bar(0)]);
  },
);

t.test('refused closed candles are logged at warn with the reason and counted, once each', async (t) => {
  const bad = { ...bar(1), high: bar(1).low - 1 };
  const rows = [bar(0), bad, bar(2), { ...bar(3), time: Number.NaN }, bar(4)].map((c) => [
    c.time,
    c.open,
    c.high,
    c.low,
    c.close,
    c.volume,
  ]);
  // A stand-in for ccxt: the exchange keeps answering with the same rows, bar 4 still forming.
  const exchange = {
    parseTimeframe: () => 60,
    fetchOHLCV: async () => rows,
  } as unknown as Exchange;
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'warn' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  const stats: PollStats = { refused: 0, gaps: 0 };
  const abort = new AbortController();
  let polls = 0;
  const got: number[] = [];
  for await (const c of pollCandles({
    exchange,
    symbol: 'BTC/USDT',
    timeframe: '1m',
    pollMs: 1,
    since: T0,
    now: () => T0 + 4 * MIN + 30_000,
    signal: abort.signal,
    logger,
    stats,
    sleep: async () => void (++polls === 3 && abort.abort()),
  }))
    got.push((c.time - T0) / MIN);
  t.same(got, [0, 2], 'sound closed candles only, once each');
  t.same(stats, { refused: 2, gaps: 1 });
  t.same(
    lines.map((l) => [l.level, l.msg]),
    [
      [
        40,
        `refused BTC/USDT 1m candle at ${T0 + MIN}: low <= min(open, close) <= max(open, close) <= high does not hold`,
      ],
      [40, 'gap: 1 BTC/USDT 1m candle missing between 2023-11-14T22:13:00.000Z and 2023-11-14T22:15:00.000Z'],
      [40, 'refused BTC/USDT 1m candle at NaN: time is not a finite number'],
    ],
    'each refusal logged once though every poll fetches it again',
  );
  t.match(lines[0], { symbol: 'BTC/USDT', time: T0 + MIN, reason: /does not hold/, refused: 1 });
  t.match(lines[2], { reason: 'time is not a finite number', refused: 2 });
});
