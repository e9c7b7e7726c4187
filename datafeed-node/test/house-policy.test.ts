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
import {
  DEFAULT_FAMILY_POLICY,
  DEFAULT_FILL_COSTS,
  type Candle,
  type Schedule,
  type Strategy,
  type StrategyAction,
} from '@appliance/trading-core';
import { waitFor } from '@appliance/test-kit';
import { followControlTopic } from '../src/control-topic.js';
import { Datafeed, HousePolicy } from '../src/index.js';

const HOUR = 3_600_000;
const T0 = Date.UTC(2024, 0, 1);
const STREAM = 'alt.1h';
const SEED = 1_000;
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

/**
 * A policy for the house: orders up to 10 000, `maxSpendPerDay` a day. Each of the house's buys
 * is nearly all of its 1 000 seed, so a cap of 1 500 lets one buy a day through.
 */
const housePolicy = (maxSpendPerDay: number, schedule?: Schedule) => ({
  ...DEFAULT_FAMILY_POLICY,
  maxOrderQuote: 10_000,
  maxSpendPerDay,
  ...(schedule && { schedule }),
});

const buyingOff: Schedule = Object.fromEntries(
  ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].map((d) => [
    d,
    [{ start: '00:00', end: '24:00', maxSpend: null, buying: false }],
  ]),
) as Schedule;

function policy(
  version: number,
  body: { profile?: string; policy: object; version?: number },
  signer = control,
): Control {
  return createControl(
    {
      kind: 'policy',
      body: { profile: 'house', ...body, policy: body.policy as Record<string, unknown> },
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
  const house = new HousePolicy({ keys, logger: log.logger });
  await followControlTopic(bus, [house]);
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
    seed: SEED,
    costs: DEFAULT_FILL_COSTS,
    ttlMs: 60_000,
    housePolicy: house,
  });
  const send = async (...values: (Control | string | object)[]) => {
    const before = log.lines.length;
    await bus.publish(
      TOPICS.control,
      values.map((v) => ({ key: 'policy:house', value: typeof v === 'string' ? v : JSON.stringify(v) })),
    );
    return before;
  };
  const run = async (from: number, to: number) => {
    for (let i = from; i < to; i++) await feed.onCandle('BTC/USDT', candle(i));
  };
  return { log, house, feed, signals, send, run };
}

t.test(
  'a signed house policy with a small daily cap makes the house skip buys beyond it; signals still go out',
  async (t) => {
    const { log, house, feed, signals, send, run } = await setup();
    await send(policy(1, { policy: housePolicy(1_500), version: 1 }));
    await waitFor(() => house.current()?.policyVersion === 1, 'house policy v1 applied');
    t.equal(log.count('house policy v1 in force'), 1);

    // Day 1: the buy at 0 fills at 1 and the sell at 2 at 3; the buys at 4 and 8 would pass the cap.
    await run(0, 10);
    t.match(feed.stats(), { fills: 2, signals: 5, skippedByPolicy: 2, ledgerBalanced: true });
    t.equal(feed.stats().skippedBuys, undefined, 'no eligibility gate, no eligibility count');
    const skips = log.lines.filter((l) => l.msg.startsWith('house portfolio does not buy BTC/USDT'));
    t.equal(skips.length, 1, 'logged once per reason per day');
    t.match(skips[0], {
      msg: 'house portfolio does not buy BTC/USDT on alt.1h: the house policy refuses it (R_DAILY_LIMIT; logged once per reason per day)',
      code: 'R_DAILY_LIMIT',
      policyVersion: 1,
    });

    // The rest of day 1: the buys at 12, 16 and 20 are skipped too (day 1 ends with candle 22's close).
    await run(10, 23);
    t.match(feed.stats(), { fills: 2, skippedByPolicy: 5 });
    // Day 2: candle 23 closes at midnight, so its (sell) and 24's buy count on a new day.
    await run(23, 26);
    t.match(feed.stats(), { fills: 3, skippedByPolicy: 5 }, "the next day's first buy filled at 25");

    await waitFor(() => signals.length >= 13, 'signals arrived');
    t.equal(
      signals.filter((s) => s.side === 'buy').length,
      7,
      'every buy went out as a signal, skipped by the house or not',
    );
  },
);

t.test('a forged or unsigned policy, or one for another profile, changes nothing', async (t) => {
  const { log, house, feed, send, run } = await setup();
  const genuine = policy(2, { policy: housePolicy(0), version: 2 });
  const { sig: _sig, ...unsigned } = genuine;
  const before = await send(
    unsigned,
    policy(3, { policy: housePolicy(0), version: 3 }, stranger),
    { ...genuine, body: { ...genuine.body, policy: housePolicy(1) } },
    policy(4, { profile: 'family', policy: housePolicy(0), version: 4 }),
    'not json',
  );
  await waitFor(
    () => log.lines.slice(before).filter((l) => l.msg === 'house policy rejected').length >= 3,
    'the three house policies rejected',
  );
  t.same(
    log.lines
      .slice(before)
      .filter((l) => l.msg === 'house policy rejected')
      .map((l) => l.code),
    ['E_MALFORMED', 'E_UNKNOWN_KEY', 'E_BAD_SIGNATURE'],
  );
  t.equal(house.current(), undefined, 'no house policy is held');
  t.equal(house.accept(policy(5, { profile: 'family', policy: housePolicy(0) })), 'other');

  // The house trades as it did before policies: every buy goes through.
  await run(0, 10);
  t.match(feed.stats(), { fills: 5, signals: 5, skippedByPolicy: 0 });
  t.equal(log.count('no signed house policy received yet'), 1, 'said once');
});

t.test('the newest version wins, whatever order they arrive in', async (t) => {
  const { log, house, feed, send, run } = await setup();
  await send(policy(7, { policy: housePolicy(0), version: 2 }));
  await waitFor(() => house.current()?.policyVersion === 2, 'v2 applied');
  const before = await send(policy(6, { policy: housePolicy(100_000), version: 1 }));
  await waitFor(
    () => log.lines.slice(before).some((l) => l.msg === 'house policy ignored: older than the one held'),
    'v1 ignored',
  );
  t.match(house.current(), { version: 7, policyVersion: 2 });
  await run(0, 2);
  t.match(feed.stats(), { fills: 0, skippedByPolicy: 1 }, 'v2 (no spending) is in force');

  // A rollback is a newer message: it wins over what it rolls back.
  t.equal(house.accept(policy(8, { policy: housePolicy(100_000), version: 3 })), 'applied');
  t.equal(house.accept(policy(7, { policy: housePolicy(0), version: 2 })), 'older');
  await run(2, 6);
  t.match(feed.stats(), { fills: 1, skippedByPolicy: 1 }, 'the buy at 4 filled at 5 under v3');
});

t.test('sells pass whatever the policy says', async (t) => {
  const { house, feed, run } = await setup();
  t.equal(house.accept(policy(1, { policy: housePolicy(100_000), version: 1 })), 'applied');
  await run(0, 2);
  t.match(feed.stats(), { fills: 1, skippedByPolicy: 0 }, 'bought at 1');
  // Buying off all week: the sell at 2 still fills at 3, the buy at 4 is refused.
  t.equal(house.accept(policy(2, { policy: housePolicy(100_000, buyingOff), version: 2 })), 'applied');
  await run(2, 6);
  const stats = feed.stats();
  t.match(stats, { fills: 2, skippedByPolicy: 1, ledgerBalanced: true });
  t.ok(stats.equity < SEED, 'the house is back in cash, less costs');
});
