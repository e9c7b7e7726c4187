/**
 * Issue #11's order book figures: operations per second and per-operation latency of
 * trading-core's OrderBook on a seeded mix of limit GTC, IOC, market, cancel and replace with
 * about 1,000 orders resting, beside the naive sorted-array book (bench/naive-book.ts) on the
 * very same operations, in the same run.
 */
import {
  OrderBook,
  seededRandom,
  type BookOrder,
  type BookReplace,
  type BookResult,
} from '@appliance/trading-core';
import { NaiveBook } from './naive-book.js';
import { round, summarize } from './stats.js';
import type { Suite } from './suite.js';
import { fmt, formatTable } from './table.js';

const DEFAULT_OPS = 200_000;
const DEFAULT_ROUNDS = 7;
const DEFAULT_RESTING = 1_000;
/** 50,000 USDT and a tick of 0.01, in atoms. */
const MID = 5_000_000_000_000;
const TICK = 1_000_000;

type Op =
  | { kind: 'place'; order: BookOrder }
  | { kind: 'cancel'; id: number }
  | { kind: 'replace'; id: number; change: BookReplace };

interface Book {
  place(o: BookOrder): BookResult;
  cancel(id: number): BookResult;
  replace(id: number, change: BookReplace): BookResult;
  readonly size: number;
}

const BOOKS: { name: string; make: () => Book }[] = [
  { name: 'OrderBook', make: () => new OrderBook() },
  { name: 'naive', make: () => new NaiveBook() },
];

/** The mix, in per cent of operations; cancel and replace pick a random resting order. */
const MIX = { limit: 45, ioc: 15, cancel: 25, replace: 13, market: 2 };

/**
 * A seeded sequence, generated against a book of its own so every cancel and replace names an
 * order that rests at that point (both books then receive identical calls). The first `resting`
 * operations are passive limits that fill the book; the rest is the measured mix, steered back
 * towards `resting` orders when it drifts by more than 5 %.
 */
function generate(count: number, resting: number, seed: number) {
  const random = seededRandom(seed);
  const book = new OrderBook();
  const live: number[] = [];
  const at = new Map<number, number>();
  const forget = (id: number) => {
    const i = at.get(id);
    if (i === undefined) return;
    const last = live.pop()!;
    if (last !== id) {
      live[i] = last;
      at.set(last, i);
    }
    at.delete(id);
  };
  const track = (id: number, r: BookResult) => {
    for (const x of r.trades) if (book.order(x.makerId) === undefined) forget(x.makerId);
    if (r.resting > 0n && !at.has(id)) {
      at.set(id, live.length);
      live.push(id);
    } else if (r.resting === 0n) forget(id);
  };
  const side = () => (random() < 0.5 ? 'buy' : 'sell');
  const quantity = () => BigInt(100_000 * (1 + Math.floor(random() * 100))); // 0.001 .. 0.1
  const passive = (s: 'buy' | 'sell') => {
    const ticks = 1 + Math.floor(random() * random() * 60);
    return BigInt(s === 'buy' ? MID - ticks * TICK : MID + ticks * TICK);
  };
  const through = (s: 'buy' | 'sell') => {
    const ticks = Math.floor(random() * 6);
    return BigInt(s === 'buy' ? MID + ticks * TICK : MID - ticks * TICK);
  };
  const ops: Op[] = [];
  const counts = { limit: 0, ioc: 0, market: 0, cancel: 0, replace: 0 };
  let id = 1;
  let restingMin = Infinity;
  let restingMax = 0;
  let restingSum = 0;
  for (let n = 0; n < resting + count; n++) {
    let roll = random() * 100;
    if (n < resting) roll = 0;
    else if (live.length < resting * 0.95 && roll >= MIX.limit + MIX.ioc)
      roll = 0; // cancel -> limit
    else if (live.length > resting * 1.05 && roll < MIX.limit) roll = MIX.limit + MIX.ioc; // limit -> cancel
    let op: Op;
    if (roll < MIX.limit) {
      const s = side();
      // Most limits rest near the top of the book; one in ten crosses and takes.
      const price = n >= resting && random() < 0.1 ? through(s) : passive(s);
      op = { kind: 'place', order: { id: id++, side: s, type: 'limit', price, quantity: quantity() } };
      if (n >= resting) counts.limit++;
    } else if (roll < MIX.limit + MIX.ioc) {
      const s = side();
      op = {
        kind: 'place',
        order: {
          id: id++,
          side: s,
          type: 'limit',
          timeInForce: 'IOC',
          price: through(s),
          quantity: quantity(),
        },
      };
      counts.ioc++;
    } else if (roll < MIX.limit + MIX.ioc + MIX.cancel) {
      op = { kind: 'cancel', id: live[Math.floor(random() * live.length)]! };
      counts.cancel++;
    } else if (roll < MIX.limit + MIX.ioc + MIX.cancel + MIX.replace) {
      const target = book.order(live[Math.floor(random() * live.length)]!)!;
      // Half shrink in place (keeping priority), half move to a new price.
      const change: BookReplace =
        random() < 0.5 && target.quantity > 1n
          ? { quantity: target.filled + target.quantity / 2n }
          : { price: passive(target.side) };
      op = { kind: 'replace', id: target.id, change };
      counts.replace++;
    } else {
      op = { kind: 'place', order: { id: id++, side: side(), type: 'market', quantity: quantity() } };
      counts.market++;
    }
    ops.push(op);
    const r = run(book, op);
    track(op.kind === 'place' ? op.order.id : op.id, r);
    if (n >= resting) {
      restingMin = Math.min(restingMin, book.size);
      restingMax = Math.max(restingMax, book.size);
      restingSum += book.size;
    }
  }
  const restingSeen = { min: restingMin, mean: Math.round(restingSum / count), max: restingMax };
  return { ops, counts, restingSeen };
}

function run(book: Book, op: Op): BookResult {
  if (op.kind === 'place') return book.place(op.order);
  if (op.kind === 'cancel') return book.cancel(op.id);
  return book.replace(op.id, op.change);
}

/** The measured operations back to back on a book filled by the untimed prefix. */
function timeBatch(make: () => Book, ops: Op[], prefix: number) {
  const book = make();
  for (let i = 0; i < prefix; i++) run(book, ops[i]!);
  let traded = 0;
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  for (let i = prefix; i < ops.length; i++) traded += run(book, ops[i]!).trades.length;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const used = process.cpuUsage(cpu);
  return { seconds, cpuSeconds: (used.user + used.system) / 1e6, traded, resting: book.size };
}

/** Each measured operation timed alone (the clock read adds tens of ns to each). */
function timeEach(make: () => Book, ops: Op[], prefix: number): Float64Array {
  const book = make();
  for (let i = 0; i < prefix; i++) run(book, ops[i]!);
  const ns = new Float64Array(ops.length - prefix);
  for (let i = prefix; i < ops.length; i++) {
    const t0 = process.hrtime.bigint();
    run(book, ops[i]!);
    ns[i - prefix] = Number(process.hrtime.bigint() - t0);
  }
  return ns;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

export const orderBookSuite: Suite = {
  name: 'order-book',
  description:
    'order book ops/s and p50/p99 latency on a limit/IOC/cancel/replace mix, ~1,000 resting, vs a naive sorted-array book',
  options: {
    'book-ops': { type: 'string' },
    'book-rounds': { type: 'string' },
    'book-resting': { type: 'string' },
  },
  async run(ctx) {
    const count = Number(ctx.options['book-ops'] ?? DEFAULT_OPS);
    const rounds = Number(ctx.options['book-rounds'] ?? DEFAULT_ROUNDS);
    const resting = Number(ctx.options['book-resting'] ?? DEFAULT_RESTING);
    for (const [name, v] of [
      ['book-ops', count],
      ['book-rounds', rounds],
      ['book-resting', resting],
    ] as const)
      if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a positive integer`);
    const { ops, counts, restingSeen } = generate(count, resting, 11);
    ctx.log(
      `order-book: ${count} ops after ${resting} resting; ${JSON.stringify(counts)}; resting ${JSON.stringify(restingSeen)}`,
    );

    // Untimed runs warm the JIT, and check both books agree on the whole sequence.
    const check = BOOKS.map((b) => timeBatch(b.make, ops, resting));
    if (check[0]!.traded !== check[1]!.traded || check[0]!.resting !== check[1]!.resting)
      throw new Error(`order-book bench: the books disagree: ${JSON.stringify(check)}`);

    const seconds = new Map<string, number[]>(BOOKS.map((b) => [b.name, []]));
    const cpuSeconds = new Map<string, number[]>(BOOKS.map((b) => [b.name, []]));
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? BOOKS : [...BOOKS].reverse(); // ABBA: drift falls on both sides
      for (const b of order) {
        const { seconds: s, cpuSeconds: cpuS } = timeBatch(b.make, ops, resting);
        seconds.get(b.name)!.push(s);
        cpuSeconds.get(b.name)!.push(cpuS);
        ctx.log(`order-book: ${b.name} round ${r + 1}: ${(count / s / 1e6).toFixed(3)} M ops/s`);
      }
    }
    const results = Object.fromEntries(
      BOOKS.map((b) => {
        const latency = summarize(timeEach(b.make, ops, resting));
        const s = median(seconds.get(b.name)!);
        return [
          b.name,
          {
            opsPerSec: Math.round(count / s),
            // Per second of this process's CPU time (GC threads included): less moved than
            // wall time when other work shares the machine.
            opsPerCpuSec: Math.round(count / median(cpuSeconds.get(b.name)!)),
            opsPerSecRounds: seconds.get(b.name)!.map((x) => Math.round(count / x)),
            latencyUs: {
              p50: round(latency.p50 / 1e3),
              p90: round(latency.p90 / 1e3),
              p99: round(latency.p99 / 1e3),
              max: round(latency.max / 1e3),
              mean: round(latency.mean / 1e3),
            },
          },
        ];
      }),
    );
    const fast = results.OrderBook!;
    const naive = results.naive!;
    const speedup = fast.opsPerSec / naive.opsPerSec;
    const cpuSpeedup = fast.opsPerCpuSec / naive.opsPerCpuSec;
    return {
      report: {
        config: { ops: count, rounds, resting, mix: counts, restingSeen, trades: check[0]!.traded },
        results,
        ratios: { speedup: round(speedup, 2), cpuSpeedup: round(cpuSpeedup, 2) },
      },
      table: [
        `order-book: ${count} ops (${Object.entries(counts)
          .map(([k, v]) => `${k} ${((v / count) * 100).toFixed(0)}%`)
          .join(
            ', ',
          )}), ${restingSeen.min}-${restingSeen.max} resting (mean ${restingSeen.mean}), median of ${rounds} rounds`,
        ...formatTable(
          ['book', 'M ops/s', 'M ops/cpu-s', 'p50 µs', 'p90 µs', 'p99 µs', 'max µs'],
          BOOKS.map((b) => {
            const x = results[b.name]!;
            return [
              b.name,
              fmt(x.opsPerSec / 1e6, 3),
              fmt(x.opsPerCpuSec / 1e6, 3),
              fmt(x.latencyUs.p50, 3),
              fmt(x.latencyUs.p90, 3),
              fmt(x.latencyUs.p99, 3),
              fmt(x.latencyUs.max, 1),
            ];
          }),
        ),
        `speed-up OrderBook ÷ naive: ${fmt(speedup)}x wall, ${fmt(cpuSpeedup)}x CPU (targets: >= 1 M ops/s, p99 < 20 µs, >= 10x)`,
      ],
    };
  },
};
