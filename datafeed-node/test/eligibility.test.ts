import t from 'tap';
import pino from 'pino';
import {
  EmbeddedBus,
  KeyRing,
  TOPICS,
  createControl,
  exportPublicKey,
  generateSigner,
  type Control,
  type Signal,
} from '@appliance/protocol';
import { DEFAULT_FILL_COSTS, type Candle, type Strategy, type StrategyAction } from '@appliance/trading-core';
import { waitFor } from '@appliance/test-kit';
import { followControlTopic } from '../src/control-topic.js';
import { Datafeed, Eligibility } from '../src/index.js';

const HOUR = 3_600_000;
const T0 = Date.UTC(2024, 0, 1);
const STREAM = 'alt.1h';
const control = generateSigner();
const stranger = generateSigner();
const keys = KeyRing.of(exportPublicKey(control.publicKey));
const feedSigner = generateSigner();

/** Buys on every 4th candle and sells two later, whatever the prices: the test decides when. */
function scripted(): Strategy {
  let i = 0;
  return {
    name: 'scripted',
    version: 'scripted/1',
    onCandle(): StrategyAction | null {
      const n = i++;
      return n % 4 === 0 ? 'buy' : n % 4 === 2 ? 'sell' : null;
    },
  };
}

const candle = (i: number): Candle => ({
  time: T0 + i * HOUR,
  open: 100,
  high: 101,
  low: 99,
  close: 100,
  volume: 1,
});

function capture() {
  const lines: { msg: string; [k: string]: unknown }[] = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  return { logger, lines, count: (msg: string) => lines.filter((l) => l.msg.startsWith(msg)).length };
}

function eligibility(version: number, symbols: string[], signer = control): Control {
  return createControl(
    {
      kind: 'eligibility',
      body: { stream: STREAM, symbols },
      version,
      ts: Date.now(),
      ttlMs: 60_000,
      origin: 'control-1',
    },
    signer,
  );
}

async function setup() {
  const bus = new EmbeddedBus();
  const log = capture();
  const gate = new Eligibility({ keys, streams: [STREAM], logger: log.logger });
  await followControlTopic(bus, [gate]);
  const signals: Signal[] = [];
  await bus.subscribe({
    topic: TOPICS.signals,
    from: 'earliest',
    onMessage: (m) => void signals.push(JSON.parse(m.value.toString()) as Signal),
  });
  const feed = new Datafeed({
    bus,
    signer: feedSigner,
    logger: log.logger,
    origin: 'feed-test',
    streams: [{ stream: STREAM, strategy: scripted }],
    symbols: ['BTC/USDT'],
    timeframe: '1h',
    quote: 'USDT',
    seed: 10_000,
    costs: DEFAULT_FILL_COSTS,
    ttlMs: 60_000,
    eligibility: gate,
  });
  const send = async (...values: (Control | string | object)[]) => {
    const before = log.lines.length;
    await bus.publish(
      TOPICS.control,
      values.map((v) => ({
        key: `eligibility:${STREAM}`,
        value: typeof v === 'string' ? v : JSON.stringify(v),
      })),
    );
    return before;
  };
  return { bus, log, gate, feed, signals, send };
}

t.test(
  'a symbol that becomes ineligible is no longer bought by the house portfolio, but still sold',
  async (t) => {
    const { log, gate, feed, signals, send } = await setup();
    await send(eligibility(1, ['BTC/USDT']));
    await waitFor(() => gate.current(STREAM)?.version === 1, 'eligibility v1 applied');
    // buy at 0 (filled at 1), sell at 2 (filled at 3), buy at 4 (filled at 5): all while eligible.
    for (let i = 0; i < 6; i++) await feed.onCandle('BTC/USDT', candle(i));
    t.match(feed.stats(), { fills: 3, signals: 3, skippedBuys: 0 });

    await send(eligibility(2, ['ETH/USDT']));
    await waitFor(() => gate.current(STREAM)?.version === 2, 'eligibility v2 applied');
    t.equal(log.count('eligibility of alt.1h changed'), 2);
    // sell at 6 (filled at 7): the house leaves BTC; buys at 8 and 12 are skipped, so the sell at
    // 10 has nothing to sell and no fill follows.
    for (let i = 6; i < 14; i++) await feed.onCandle('BTC/USDT', candle(i));
    const stats = feed.stats();
    t.match(
      stats,
      { fills: 4, skippedBuys: 2, ledgerBalanced: true },
      'the sell filled, the two buys did not',
    );
    t.equal(stats.equity < 10_000, true, 'the house is flat in cash after costs');
    t.equal(
      log.count('house portfolio does not buy BTC/USDT on alt.1h: not eligible'),
      1,
      'the skip is logged once per change, not per candle',
    );
    // Signals are published as before: devices decide for themselves.
    await waitFor(() => signals.length >= 7, 'signals arrived');
    t.same(
      signals.map((s) => s.side),
      ['buy', 'sell', 'buy', 'sell', 'buy', 'sell', 'buy'],
    );
    t.equal(signals.filter((s) => s.side === 'buy').length, 4, 'the skipped buys still went out as signals');

    // Eligible again: a new revision, so a later skip would be logged again, and buying resumes.
    await send(eligibility(3, ['BTC/USDT', 'ETH/USDT']));
    await waitFor(() => gate.current(STREAM)?.version === 3, 'eligibility v3 applied');
    for (let i = 14; i < 18; i++) await feed.onCandle('BTC/USDT', candle(i));
    t.match(feed.stats(), { fills: 5, skippedBuys: 2 }, 'the buy at 16 filled at 17');
  },
);

t.test('before any eligibility arrives the house portfolio buys nothing (fail safe)', async (t) => {
  const { feed, log } = await setup();
  for (let i = 0; i < 4; i++) await feed.onCandle('BTC/USDT', candle(i));
  t.match(feed.stats(), { fills: 0, signals: 2, skippedBuys: 1 });
  t.equal(log.count('house portfolio does not buy BTC/USDT'), 1);
});

t.test('unsigned, wrongly signed or altered eligibility is ignored and logged', async (t) => {
  const { gate, feed, log, send } = await setup();
  await send(eligibility(1, []));
  await waitFor(() => gate.current(STREAM)?.version === 1, 'eligibility v1 applied');
  const genuine = eligibility(2, ['BTC/USDT']);
  const { sig: _sig, ...unsigned } = genuine;
  const before = await send(
    unsigned,
    eligibility(3, ['BTC/USDT'], stranger),
    { ...genuine, body: { stream: STREAM, symbols: ['BTC/USDT', 'ETH/USDT'] } },
    'not json',
  );
  await waitFor(
    () => log.lines.slice(before).filter((l) => l.msg === 'control message rejected').length >= 4,
    'all four rejected',
  );
  t.same(
    log.lines
      .slice(before)
      .filter((l) => l.msg === 'control message rejected')
      .map((l) => l.code),
    ['E_MALFORMED', 'E_UNKNOWN_KEY', 'E_BAD_SIGNATURE', 'E_MALFORMED'],
  );
  t.same(gate.current(STREAM), { version: 1, symbols: [] }, 'nothing changed');
  for (let i = 0; i < 2; i++) await feed.onCandle('BTC/USDT', candle(i));
  t.match(feed.stats(), { fills: 0, skippedBuys: 1 });
});

t.test('an older version never overrides a newer one', async (t) => {
  const { gate, log, send } = await setup();
  await send(eligibility(5, ['BTC/USDT']));
  await waitFor(() => gate.current(STREAM)?.version === 5, 'v5 applied');
  const before = await send(eligibility(3, []), eligibility(4, ['ETH/USDT']));
  await waitFor(
    () =>
      log.lines.slice(before).filter((l) => l.msg === 'eligibility ignored: older than the one held')
        .length >= 2,
    'both older ones ignored',
  );
  t.same(gate.current(STREAM), { version: 5, symbols: ['BTC/USDT'] });
  t.equal(gate.allows(STREAM, 'BTC/USDT'), true);
  t.equal(gate.accept(eligibility(5, ['BTC/USDT'])), 'applied', 'the same version re-issued is taken');
  t.equal(gate.accept(eligibility(6, [])), 'applied');
  t.equal(gate.accept(eligibility(5, ['BTC/USDT'])), 'older');
  t.equal(gate.allows(STREAM, 'BTC/USDT'), false);
});

t.test('eligibility of a stream this feed does not run is not kept', async (t) => {
  const gate = new Eligibility({ keys, streams: [STREAM], logger: pino({ level: 'silent' }) });
  const other = createControl(
    {
      kind: 'eligibility',
      body: { stream: 'other.1h', symbols: ['BTC/USDT'] },
      version: 1,
      ts: Date.now(),
      ttlMs: 60_000,
      origin: 'control-1',
    },
    control,
  );
  t.equal(gate.accept(other), 'other');
  t.equal(gate.current('other.1h'), undefined);
});
