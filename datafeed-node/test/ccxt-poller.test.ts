import t from 'tap';
import pino from 'pino';
import { DEFAULT_MARKETS, createPaperExchange } from '@appliance/control-server';
import { DEFAULT_FILL_COSTS, type Candle } from '@appliance/trading-core';
import { createBinance } from '@appliance/runtime';
import { pollCandles } from '../src/index.js';

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
