// Issue 11: the datafeed runs any strategy by name, several streams at once, each on its own
// virtual portfolio; a strategy with `inputs` reads other symbols' candles, never one that opened
// at or after the candle it decides on, whatever order they arrive in.
import { join } from 'node:path';
import t from 'tap';
import pino from 'pino';
import {
  EmbeddedBus,
  KeyRing,
  TOPICS,
  exportPublicKey,
  generateSigner,
  verifyCandle,
  verifySignal,
  type Signal,
} from '@appliance/protocol';
import {
  DEFAULT_FILL_COSTS,
  createStrategy,
  seededRandom,
  type Candle,
  type Strategy,
  type StrategyAction,
} from '@appliance/trading-core';
import { waitFor } from '@appliance/test-kit';
import { Datafeed, readCandleCsv, runFeed, type FeedResult } from '../src/index.js';
import { DEFAULT_STRATEGY } from '../src/stream-config.js';
import type { FeedStream } from '../src/streams.js';

const DATA = new URL('../../../shared/data/ohlcv/', import.meta.url).pathname;
const FILES = [join(DATA, 'binance_BTC-USDT_1h.csv'), join(DATA, 'binance_ETH-USDT_1h.csv')];
const logger = pino({ level: 'silent' });
const signer = generateSigner();
const keys = KeyRing.of(exportPublicKey(signer.publicKey));
const common = {
  signer,
  logger,
  origin: 'feed-test',
  seed: 10_000,
  ttlMs: 60_000,
  costs: DEFAULT_FILL_COSTS,
  now: () => 1_750_000_000_000,
};

/** A strategy unlike any registered one, with its own version: buys every 20th candle, sells 10 later. */
const alternator = (): Strategy => {
  let n = 0;
  return {
    name: 'alternate',
    version: 'alternate/7',
    onCandle: () => (++n % 20 === 0 ? 'buy' : n % 20 === 10 ? 'sell' : null),
  };
};

async function replay(streams: FeedStream[], limit: number) {
  const bus = new EmbeddedBus();
  const signals: { key: string; signal: Signal }[] = [];
  const candles: unknown[] = [];
  await bus.subscribe({
    topic: TOPICS.signals,
    from: 'earliest',
    onMessage: (m) => void signals.push({ key: m.key, signal: JSON.parse(m.value.toString()) as Signal }),
  });
  await bus.subscribe({
    topic: TOPICS.candles,
    from: 'earliest',
    onMessage: (m) => void candles.push(JSON.parse(m.value.toString())),
  });
  const result: FeedResult = await runFeed({
    ...common,
    bus,
    streams,
    source: { kind: 'replay', files: FILES, speed: 'max', limit },
  });
  await waitFor(
    () => candles.length >= result.candles && signals.length >= result.signals,
    "the replay's records on the bus",
  );
  return { result, signals, candles };
}

/** What a signal says, without the fields that name its stream. */
const decision = (s: Signal) => [s.symbol, s.side, s.price, s.candleTime].join(' ');

t.test('two streams over one replay: each its own portfolio, signals keyed by its stream', async (t) => {
  const emaStream = { stream: 'ema-cross.1h', strategy: () => createStrategy(DEFAULT_STRATEGY) };
  const altStream = { stream: 'alternate.1h', strategy: alternator };
  const both = await replay([emaStream, altStream], 3000);
  t.equal(both.result.error, undefined);
  t.equal(both.result.candles, 3000);
  t.equal(both.candles.length, 3000, 'each candle published once, not once per stream');
  const ids = new Set(both.candles.map((c) => verifyCandle(c, keys).id));
  t.equal(ids.size, 3000, 'no candle twice');

  const ema = both.signals.filter((s) => s.key === 'ema-cross.1h').map((s) => s.signal);
  const alt = both.signals.filter((s) => s.key === 'alternate.1h').map((s) => s.signal);
  t.equal(ema.length + alt.length, both.signals.length, 'every signal keyed by one of the streams');
  t.ok(ema.length > 4 && alt.length > 4, `both streams trade (${ema.length}, ${alt.length})`);
  t.same(new Set(ema.map((s) => s.stream)), new Set(['ema-cross.1h']), 'the key is the signal’s stream');
  t.same(new Set(alt.map((s) => s.stream)), new Set(['alternate.1h']));
  t.same(new Set(ema.map((s) => s.algoVersion)), new Set([createStrategy(DEFAULT_STRATEGY).version]));
  t.same(new Set(alt.map((s) => s.algoVersion)), new Set(['alternate/7']));
  for (const { signal } of both.signals) t.same(verifySignal(signal, keys, { now: signal.ts }), signal);

  // Each stream alone decides exactly as it does beside the other: the portfolios are separate.
  const emaAlone = await replay([emaStream], 3000);
  const altAlone = await replay([altStream], 3000);
  t.same(
    ema.map(decision),
    emaAlone.signals.map((s) => decision(s.signal)),
  );
  t.same(
    ema.map((s) => s.id),
    emaAlone.signals.map((s) => s.signal.id),
  );
  t.same(
    alt.map(decision),
    altAlone.signals.map((s) => decision(s.signal)),
  );

  t.same(
    both.result.streams?.map((s) => [s.stream, s.signals, s.ledgerBalanced]),
    [
      ['ema-cross.1h', ema.length, true],
      ['alternate.1h', alt.length, true],
    ],
    'the result counts each stream',
  );
  t.equal(both.result.equity, emaAlone.result.equity + altAlone.result.equity, 'equity summed');
  t.equal(emaAlone.result.streams, undefined, 'one stream: the result is as it always was');
});

t.test('stream names are unique, and a stream trades only symbols fed', async (t) => {
  const s = (stream: string, symbols?: string[]) => ({ stream, strategy: alternator, symbols });
  for (const [streams, error] of [
    [[s('a.1h'), s('a.1h')], 'E_STREAMS: stream a.1h is named twice'],
    [
      [s('a.1h', ['SOL/USDT'])],
      'E_STREAMS: stream a.1h trades SOL/USDT, which is not fed to the datafeed (fed: BTC/USDT, ETH/USDT)',
    ],
    [[], 'E_STREAMS: no streams to run'],
  ] as const) {
    const r = await replay([...streams], 10);
    t.equal(r.result.error, error);
    t.equal(r.result.candles, 0, 'refused before any candle');
  }
});

/** What a leader-following strategy was handed before each traded candle. */
interface Seen {
  at: number;
  inputs: number[];
}

/**
 * Trades ETH/USDT on BTC/USDT's last move: buys after the leader closed up, sells after it
 * closed down. It records which leader candles it had before each decision.
 */
function follower(log: Seen[]): () => Strategy {
  return () => {
    let last: number | undefined;
    let previous: number | undefined;
    let handed: number[] = [];
    return {
      name: 'follow-test',
      version: 'follow-test/1',
      inputs: ['BTC/USDT'],
      onInput: (symbol: string, c: Candle) => {
        if (symbol !== 'BTC/USDT') throw new Error(`unexpected input ${symbol}`);
        handed.push(c.time);
        previous = last;
        last = c.close;
      },
      onCandle: (c: Candle): StrategyAction | null => {
        log.push({ at: c.time, inputs: handed });
        handed = [];
        if (last === undefined || previous === undefined) return null;
        return last > previous ? 'buy' : last < previous ? 'sell' : null;
      },
    };
  };
}

async function firstCandles(path: string, n: number): Promise<Candle[]> {
  const out: Candle[] = [];
  for await (const c of readCandleCsv(path)) {
    out.push(c);
    if (out.length === n) break;
  }
  return out;
}

const btc = await firstCandles(FILES[0]!, 600);
const eth = await firstCandles(FILES[1]!, 600);

/** Runs the follower on ETH/USDT (BTC/USDT fed, read, not traded) over candles in `order`. */
async function follow(order: [string, Candle][]) {
  const bus = new EmbeddedBus();
  let published = 0;
  await bus.subscribe({ topic: TOPICS.candles, from: 'earliest', onMessage: () => void published++ });
  const log: Seen[] = [];
  const feed = new Datafeed({
    ...common,
    bus,
    symbols: ['BTC/USDT', 'ETH/USDT'],
    timeframe: '1h',
    quote: 'USDT',
    streams: [{ stream: 'follow.1h', strategy: follower(log), symbols: ['ETH/USDT'] }],
  });
  const signals: Signal[] = [];
  for (const [symbol, candle] of order) signals.push(...(await feed.onCandle(symbol, candle)));
  await waitFor(() => published >= order.length, 'the candles on the bus');
  return { signals, log, published, stats: feed.stats() };
}

t.test('input candles: leader before or after the lagger, the very same decisions', async (t) => {
  t.same(
    btc.map((c) => c.time),
    eth.map((c) => c.time),
    'the two files share their first hours',
  );
  const leaderFirst = await follow(
    btc.flatMap((c, i) => [['BTC/USDT', c] as [string, Candle], ['ETH/USDT', eth[i]!]]),
  );
  const leaderAfter = await follow(
    btc.flatMap((c, i) => [['ETH/USDT', eth[i]!] as [string, Candle], ['BTC/USDT', c]]),
  );
  t.ok(leaderFirst.signals.length > 10, `the follower trades (${leaderFirst.signals.length} signals)`);
  t.same(leaderAfter.signals, leaderFirst.signals, 'identical signals');
  t.same(leaderAfter.log, leaderFirst.log, 'identical inputs before every decision');
  // Before each ETH candle at t it had exactly the BTC candle before it (an hour before, or
  // before a gap in the data): not the one at t, which had already arrived when the leader came
  // first, and nothing missing.
  t.same(
    leaderFirst.log.map((s) => s.inputs),
    eth.map((_, i) => (i === 0 ? [] : [btc[i - 1]!.time])),
  );
  t.same(
    new Set(leaderFirst.signals.map((s) => s.symbol)),
    new Set(['ETH/USDT']),
    'BTC/USDT read, not traded',
  );
  t.same(new Set(leaderFirst.signals.map((s) => s.algoVersion)), new Set(['follow-test/1']));
  t.equal(leaderFirst.published, 1200, 'the leader’s candles are published like every candle');
  t.equal(leaderFirst.stats.candles, 1200);
});

t.test('input candles in any arrival order: none opened at or after the candle decided on', async (t) => {
  const rnd = seededRandom(11);
  for (let run = 0; run < 20; run++) {
    // Each symbol in time order, the two interleaved at random: the leader often hours late or early.
    const order: [string, Candle][] = [];
    let i = 0;
    let j = 0;
    while (i < 200 || j < 200)
      if (j >= 200 || (i < 200 && rnd() < 0.5)) order.push(['BTC/USDT', btc[i++]!]);
      else order.push(['ETH/USDT', eth[j++]!]);
    const { log } = await follow(order);
    const early = log.filter((s) => s.inputs.some((time) => time >= s.at));
    if (!t.same(early, [], `run ${run}: no input candle at or after the traded one`)) break;
    const handed = log.flatMap((s) => s.inputs);
    const ethPos = order.findLastIndex(([sym]) => sym === 'ETH/USDT');
    const btcBeforeLastEth = order
      .slice(0, ethPos)
      .filter(([sym, c]) => sym === 'BTC/USDT' && c.time < eth[199]!.time);
    t.same(
      handed,
      btcBeforeLastEth.map(([, c]) => c.time),
      `run ${run}: every leader candle that came before the last traded one, once, in order`,
    );
  }
});

t.test('a strategy whose input symbol is not fed is refused before any candle, naming it', async (t) => {
  const r = await runFeed({
    ...common,
    bus: new EmbeddedBus(),
    streams: [{ stream: 'follow.1h', strategy: follower([]) }],
    source: { kind: 'replay', files: [FILES[1]!], speed: 'max' },
  });
  t.equal(
    r.error,
    'E_STREAMS: stream follow.1h: follow-test on ETH/USDT reads BTC/USDT, which is not fed to the datafeed (fed: ETH/USDT); replay its file or add it to the live symbols',
  );
  t.equal(r.candles, 0);
});
