// Measures the bytes the JavaScript heap gains per step of every incremental indicator and every
// registered strategy, in a child process of its own (run by `probeAllocations`, which
// no-allocation.test.ts calls).
//
// How: the child runs with --expose-gc, a new space of 128 MB (no scavenge can hide an allocation
// during a measured run) and synchronous optimisation (so when code gets optimised does not
// depend on how busy the machine is). Each case gets its own loop, compiled from its own source
// with `new Function`, so every call site in it sees one class only, as a strategy's own calls
// do (a loop shared by all cases would go megamorphic and box what it should not). After a
// warm-up, each round collects garbage and reads the new space's used bytes around a run of N
// steps and around a run of 2N; the smallest of each over several rounds is kept, and their
// difference is what N steps allocate: the reading's own cost (a few kB for the statistics
// objects) is the same in both and cancels. The V8 GC profiler counts collections during the
// measured runs: there must be none. The interpreter boxes every intermediate double, so only
// the steady state (optimised code) is measured, which is what "per step" means for a loop that
// runs millions of times.
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import v8 from 'node:v8';
import * as indicators from '../../src/indicators/index.js';
import { createStrategy, strategyNames } from '../../src/strategies/registry.js';
import { loadCandles } from './ohlcv.js';

/** Steps in the short measured run (the long one has twice as many). */
const STEPS = 50_000;
const WARM_UP_RUNS = 4;
const ROUNDS = 5;
const HOUR = 3_600_000;

export interface ProbeResult {
  /** e.g. `Donchian(20) update + getters`, `strategy turtle`, `stub: an object per step`. */
  name: string;
  kind: 'indicator' | 'strategy' | 'stub';
  /** For indicators, the exported class measured; for strategies, the registered name. */
  subject: string;
  /** Bytes N more steps allocate (the difference of the 2N and N runs, each the least of the rounds). */
  bytes: number;
  steps: number;
  /** Garbage collections during the kept measured runs (any would make `bytes` meaningless). */
  collections: number;
  /** Strategies: buys and sells over every run, so a case that never trades shows up. */
  buys: number;
  sells: number;
}

/** What each step's code sees: the candle (rewritten in place each step) and the columns. */
interface Data {
  len: number;
  t0: number;
  open: Float64Array;
  high: Float64Array;
  low: Float64Array;
  close: Float64Array;
  volume: Float64Array;
  leaderClose: Float64Array;
  candle: { time: number; open: number; high: number; low: number; close: number; volume: number };
  /** The same candle moved on: close at the middle of the bar, half the volume. */
  moved: { time: number; open: number; high: number; low: number; close: number; volume: number };
  leader: { time: number; open: number; high: number; low: number; close: number; volume: number };
  /** [buys, sells] */
  counts: Int32Array;
}

type Loop = (x: unknown, d: Data, from: number, n: number) => number;

interface Case {
  name: string;
  kind: ProbeResult['kind'];
  subject: string;
  make: () => unknown;
  /** One step, in JavaScript: `x` the subject, `c` the candle, `c2` it moved on, `v` its close, `s` a sink. */
  step: string;
}

/** A loop of its own for one case: its source names the case, so no two share compiled code or feedback. */
function compile(c: Case): Loop {
  const src = `
    // allocation probe: ${c.name.replace(/[^\w ()+.,:-]/g, ' ')}
    return function probe(x, d, from, n) {
      const c = d.candle;
      const c2 = d.moved;
      const lc = d.leader;
      let s = 0;
      for (let i = from; i < from + n; i++) {
        const k = i % d.len;
        c.time = c2.time = d.t0 + i * ${HOUR};
        c.open = c2.open = d.open[k];
        c.high = c2.high = d.high[k];
        c.low = c2.low = d.low[k];
        c.close = d.close[k];
        c2.close = (c.high + c.low) / 2;
        c.volume = d.volume[k];
        c2.volume = c.volume / 2;
        lc.time = c.time - ${HOUR};
        lc.open = lc.high = lc.low = lc.close = d.leaderClose[k];
        const v = c.close;
        ${c.step}
      }
      return s;
    };`;
  return new Function(src)() as Loop;
}

const num = (r: string) => `s += ${r} === undefined ? 0 : ${r};`;

/** `update` (and `replace`, for a forming candle) of one indicator, then every getter a caller reads. */
function indicatorCases(
  subject: string,
  make: () => unknown,
  input: 'close' | 'bar',
  getters: readonly string[],
): Case[] {
  const read = getters.map((g) => `{ const g = x.${g}; ${num('g')} }`).join(' ');
  const [first, final] = input === 'close' ? ['v * 1.001', 'v'] : ['c2', 'c'];
  const name = (make() as object).constructor.name;
  return [
    {
      name: `${name} update + ${getters.join(', ')}`,
      kind: 'indicator',
      subject,
      make,
      step: `const r = x.update(${final}); ${num('r')} ${read}`,
    },
    {
      name: `${name} update + replace + ${getters.join(', ')}`,
      kind: 'indicator',
      subject,
      make,
      step: `x.update(${first}); const r = x.replace(${final}); ${num('r')} ${read}`,
    },
  ];
}

const I = indicators;
/** Every exported class with an `update`, each with the getters its users read. */
const INDICATOR_CASES: Case[] = [
  ...indicatorCases('Sma', () => new I.Sma(20), 'close', ['value']),
  ...indicatorCases('VolumeAverage', () => new I.VolumeAverage(20), 'close', ['value']),
  ...indicatorCases('Ema', () => new I.Ema(20), 'close', ['value']),
  ...indicatorCases('WilderAverage', () => new I.WilderAverage(14), 'close', ['value']),
  ...indicatorCases('Rsi', () => new I.Rsi(14), 'close', ['value']),
  ...indicatorCases('Atr', () => new I.Atr(14), 'bar', ['value']),
  ...indicatorCases('Adx', () => new I.Adx(14), 'bar', ['adx', 'plusDi', 'minusDi', 'dx']),
  ...indicatorCases('Donchian', () => new I.Donchian(20), 'bar', ['upper', 'lower', 'middle']),
  ...indicatorCases('Bollinger', () => new I.Bollinger(20, 2), 'close', [
    'middle',
    'upper',
    'lower',
    'stdDev',
  ]),
  ...indicatorCases('Macd', () => new I.Macd(), 'close', ['macd', 'signal', 'histogram']),
  ...indicatorCases('SessionVwap', () => new I.SessionVwap(), 'bar', ['value']),
  ...indicatorCases('RollingVwap', () => new I.RollingVwap(24), 'bar', ['value']),
  ...indicatorCases('NadarayaWatson', () => new I.NadarayaWatson(), 'close', ['estimate', 'upper', 'lower']),
  {
    // A function, not a class: the subject is the function itself.
    name: 'trueRange',
    kind: 'indicator',
    subject: 'trueRange',
    make: () => I.trueRange,
    step: 's += x(c, d.close[k === 0 ? d.len - 1 : k - 1]);',
  },
];

/** Every registered strategy with its defaults; a strategy with inputs gets the leader candle first. */
function strategyCases(): Case[] {
  return strategyNames().map((name) => {
    const inputs = createStrategy(name).inputs ?? [];
    const feed = inputs.map((symbol) => `x.onInput(${JSON.stringify(symbol)}, lc);`).join(' ');
    return {
      name: `strategy ${name}`,
      kind: 'strategy',
      subject: name,
      make: () => createStrategy(name),
      step: `${feed} const a = x.onCandle(c); if (a === 'buy') d.counts[0]++; else if (a === 'sell') d.counts[1]++;`,
    };
  });
}

/** Deliberate allocators, to show the probe sees what it is meant to find. */
class ObjectPerStep {
  last = { value: 0 };
  update(x: number): number {
    this.last = { value: x };
    return x;
  }
}

class ArrayEvery256Steps {
  #n = 0;
  kept: number[] = [];
  update(x: number): number {
    if ((++this.#n & 255) === 0) this.kept = [x, x];
    return x;
  }
}

const STUB_CASES: Case[] = [
  {
    name: 'stub: an object per step (as a `value` getter building one)',
    kind: 'stub',
    subject: 'ObjectPerStep',
    make: () => new ObjectPerStep(),
    step: `const r = x.update(v); ${num('r')}`,
  },
  {
    name: 'stub: a small array every 256 steps',
    kind: 'stub',
    subject: 'ArrayEvery256Steps',
    make: () => new ArrayEvery256Steps(),
    step: `const r = x.update(v); ${num('r')}`,
  },
];

function newSpaceUsed(): number {
  for (const s of v8.getHeapSpaceStatistics()) if (s.space_name === 'new_space') return s.space_used_size;
  throw new Error('no new_space in v8.getHeapSpaceStatistics()');
}

function measure(c: Case, d: Data): ProbeResult {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('allocation probe: run with --expose-gc');
  const loop = compile(c);
  const x = c.make();
  let at = 0;
  let sink = 0;
  d.counts.fill(0);
  for (let r = 0; r < WARM_UP_RUNS; r++) {
    sink += loop(x, d, at, 2 * STEPS);
    at += 2 * STEPS;
  }
  const run = (n: number): { bytes: number; collections: number } => {
    gc();
    const profiler = new v8.GCProfiler();
    profiler.start();
    const before = newSpaceUsed();
    sink += loop(x, d, at, n);
    const after = newSpaceUsed();
    const collections = profiler.stop()?.statistics.length ?? 0;
    at += n;
    return { bytes: after - before, collections };
  };
  let short = { bytes: Infinity, collections: 0 };
  let long = { bytes: Infinity, collections: 0 };
  for (let r = 0; r < ROUNDS; r++) {
    const a = run(STEPS);
    if (a.bytes < short.bytes) short = a;
    const b = run(2 * STEPS);
    if (b.bytes < long.bytes) long = b;
  }
  if (!Number.isFinite(sink)) throw new Error(`${c.name}: a non-finite checksum`);
  return {
    name: c.name,
    kind: c.kind,
    subject: c.subject,
    bytes: long.bytes - short.bytes,
    steps: STEPS,
    collections: short.collections + long.collections,
    buys: d.counts[0]!,
    sells: d.counts[1]!,
  };
}

function data(): Data {
  const traded = loadCandles('ETH');
  const leader = loadCandles('BTC');
  const len = Math.min(traded.length, leader.length);
  const col = (k: 'open' | 'high' | 'low' | 'close' | 'volume') =>
    Float64Array.from(traded.slice(0, len), (c) => c[k]);
  const candle = () => ({ time: 0.5, open: 0.5, high: 0.5, low: 0.5, close: 0.5, volume: 0.5 });
  return {
    len,
    // Candle times keep rising across runs (the session VWAP refuses a step back).
    t0: traded[0]!.time,
    open: col('open'),
    high: col('high'),
    low: col('low'),
    close: col('close'),
    volume: col('volume'),
    leaderClose: Float64Array.from(leader.slice(0, len), (c) => c.close),
    candle: candle(),
    moved: candle(),
    leader: candle(),
    counts: new Int32Array(2),
  };
}

/** The classes of the indicators module that take a step (`update`). */
export function incrementalIndicators(): string[] {
  return Object.entries(indicators)
    .filter(
      ([, v]) =>
        typeof v === 'function' && typeof (v.prototype as { update?: unknown })?.update === 'function',
    )
    .map(([k]) => k)
    .sort();
}

function main(): void {
  const only = process.argv[2];
  const d = data();
  const cases = [...STUB_CASES, ...INDICATOR_CASES, ...strategyCases()].filter(
    (c) => only === undefined || new RegExp(only).test(c.name),
  );
  for (const c of cases) process.stdout.write(`${JSON.stringify(measure(c, d))}\n`);
}

/**
 * Runs the probe in a child process with the flags it needs; one result per case (`only`: a
 * regular expression the case names must match).
 */
export function probeAllocations(only?: string): ProbeResult[] {
  const self = fileURLToPath(import.meta.url);
  const flags = [
    '--expose-gc',
    '--min-semi-space-size=128',
    '--max-semi-space-size=128',
    '--no-concurrent-recompilation',
    '--import',
    'tsx',
  ];
  const child = spawnSync(process.execPath, [...flags, self, ...(only === undefined ? [] : [only])], {
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  });
  if (child.status !== 0) throw new Error(`allocation probe failed (${child.status}):\n${child.stderr}`);
  return child.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as ProbeResult);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
