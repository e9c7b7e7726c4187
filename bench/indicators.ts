/**
 * Issue #11's indicator figures: values (bars) per second of trading-core's indicators, batch
 * (`*Series` over Float64Array) and streaming (`update` per bar), beside technicalindicators
 * (batch `calculate`, streaming `nextValue`) and tulind (batch, native C), on the real candles.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONTESTS, type Columns, type Contest, type Plain, type Run } from './indicator-contests.js';
import { REPO_ROOT } from './ipc.js';
import type { Suite } from './suite.js';
import { fmt, formatTable } from './table.js';

const DEFAULT_DATA_DIR = join(REPO_ROOT, '..', 'shared', 'data', 'ohlcv');
const DEFAULT_VALUES = 4_000_000;
/** technicalindicators' Bollinger bands run at ~0.2 M values/s: the peers get a prefix this long. */
const DEFAULT_PEER_VALUES = 500_000;
const DEFAULT_ROUNDS = 5;
/** Each timing sample repeats a run until this much time has passed. */
const MIN_SAMPLE_SECONDS = 0.25;
const WARM_UP_VALUES = 50_000;
const HOUR = 3_600_000;

/** Every `*.csv` in `dir` with the exchange header, concatenated, then repeated up to `values` bars. */
function loadColumns(dir: string, values: number): { columns: Columns; files: string[]; bars: number } {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.csv'))
    .sort();
  const rows: number[][] = [];
  const used: string[] = [];
  for (const f of files) {
    const [header, ...lines] = readFileSync(join(dir, f), 'utf8').trim().split('\n');
    if (header !== 'time,open,high,low,close,volume') continue;
    used.push(f);
    for (const line of lines) rows.push(line.split(',').map(Number));
  }
  if (rows.length === 0) throw new Error(`indicators bench: no candle CSVs in ${dir}`);
  const n = values;
  const c: Columns = {
    n,
    time: new Float64Array(n),
    high: new Float64Array(n),
    low: new Float64Array(n),
    close: new Float64Array(n),
    volume: new Float64Array(n),
  };
  // Times are renumbered hour by hour, so the concatenated files stay one ordered series (the
  // session VWAP refuses time going backwards) with sessions of 24 bars.
  for (let i = 0; i < n; i++) {
    const r = rows[i % rows.length]!;
    c.time[i] = i * HOUR;
    c.high[i] = r[2]!;
    c.low[i] = r[3]!;
    c.close[i] = r[4]!;
    c.volume[i] = r[5]!;
  }
  return { columns: c, files: used, bars: rows.length };
}

/**
 * `--indicators-only "ATR VWAP"`: the contests whose names start with any of the words given
 * (case-insensitive); every contest without it. A word that names none is refused with the list.
 */
function selectContests(only: string | boolean | undefined): Contest[] {
  if (only === undefined) return CONTESTS;
  const words = String(only).toLowerCase().split(/\s+/).filter(Boolean);
  const unknown = words.filter((w) => !CONTESTS.some((c) => c.name.toLowerCase().startsWith(w)));
  if (words.length === 0 || unknown.length > 0)
    throw new Error(
      `--indicators-only: no indicator starts with ${unknown.length > 0 ? unknown.join(', ') : '(nothing given)'}; ` +
        `the indicators are ${CONTESTS.map((c) => c.name).join(', ')}`,
    );
  return CONTESTS.filter((c) => words.some((w) => c.name.toLowerCase().startsWith(w)));
}

function prefix(c: Columns, n: number): Columns {
  return {
    n,
    time: c.time.subarray(0, n),
    high: c.high.subarray(0, n),
    low: c.low.subarray(0, n),
    close: c.close.subarray(0, n),
    volume: c.volume.subarray(0, n),
  };
}

const plain = (c: Columns): Plain => ({
  n: c.n,
  time: Array.from(c.time),
  high: Array.from(c.high),
  low: Array.from(c.low),
  close: Array.from(c.close),
  volume: Array.from(c.volume),
});

/** Every run's checksum lands here, so no engine could treat the work as unused. */
let sink = 0;

/** One timing sample: wall and CPU seconds per run, the run repeated until `minSeconds` of wall time. */
interface Sample {
  wall: number;
  cpu: number;
}

function sample<D>(run: Run<D>, data: D, minSeconds: number): Sample {
  const started = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  let runs = 0;
  let wall: number;
  // A 2 ms run is at the mercy of one preemption on a busy machine; many runs in a row are not.
  do {
    sink += run(data);
    runs++;
    wall = Number(process.hrtime.bigint() - started) / 1e9;
  } while (wall < minSeconds);
  const used = process.cpuUsage(cpu);
  return { wall: wall / runs, cpu: (used.user + used.system) / 1e6 / runs };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

type Rates = Partial<Record<Way, number>>;

interface ContestResult {
  valuesPerCpuSecond: Rates;
  valuesPerSecond: Rates;
  /** Ours ÷ peer, both on the peers' prefix: the figures the issue's targets are about. */
  ratios: Partial<Record<'batchVsTi' | 'streamVsTi' | 'batchVsTulind' | 'streamVsTulind', number>>;
  ratiosWall: ContestResult['ratios'];
  /** The bare streaming object (Contest.floorStream) ÷ technicalindicators' `nextValue`. */
  floorVsTi: number | null;
  note: string | null;
}

function ratiosOf(r: Rates): ContestResult['ratios'] {
  const out: ContestResult['ratios'] = {};
  const put = (key: keyof ContestResult['ratios'], a: number | undefined, b: number | undefined) => {
    if (a !== undefined && b !== undefined) out[key] = a / b;
  };
  put('batchVsTi', r.oursBatchPeerSize, r.tiBatch);
  put('streamVsTi', r.oursStreamPeerSize, r.tiStream);
  put('batchVsTulind', r.oursBatchPeerSize, r.tulind);
  put('streamVsTulind', r.oursStreamPeerSize, r.tulind);
  return out;
}

type Way =
  | 'oursBatch'
  | 'oursStream'
  | 'oursBatchPeerSize'
  | 'oursStreamPeerSize'
  | 'tiBatch'
  | 'tiStream'
  | 'tulind'
  | 'floorStream';

export const indicatorsSuite: Suite = {
  name: 'indicators',
  description:
    'indicator values/s, batch and streaming, vs technicalindicators and tulind on the real candles',
  options: {
    'indicators-data': { type: 'string' },
    'indicators-values': { type: 'string' },
    'indicators-peer-values': { type: 'string' },
    'indicators-rounds': { type: 'string' },
    'indicators-only': { type: 'string' },
  },
  async run(ctx) {
    const dir = String(ctx.options['indicators-data'] ?? DEFAULT_DATA_DIR);
    const values = Number(ctx.options['indicators-values'] ?? DEFAULT_VALUES);
    const peerValues = Math.min(values, Number(ctx.options['indicators-peer-values'] ?? DEFAULT_PEER_VALUES));
    const rounds = Number(ctx.options['indicators-rounds'] ?? DEFAULT_ROUNDS);
    for (const [name, v] of [
      ['--indicators-values', values],
      ['--indicators-peer-values', peerValues],
      ['--indicators-rounds', rounds],
    ] as const)
      if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be a positive integer`);
    const contests = selectContests(ctx.options['indicators-only']);
    const { columns, files, bars } = loadColumns(dir, values);
    const peerColumns = prefix(columns, peerValues);
    const peerPlain = plain(peerColumns);
    const warmColumns = prefix(columns, Math.min(values, WARM_UP_VALUES));
    const warmPlain = plain(warmColumns);
    ctx.log(
      `indicators: ${bars} bars from ${files.length} files in ${dir}, repeated to ${values}; peers on the first ${peerValues}`,
    );
    const results: Record<string, ContestResult> = {};
    for (const contest of contests) {
      const ways: [Way, () => Sample][] = [
        ['oursBatch', () => sample(contest.oursBatch, columns, MIN_SAMPLE_SECONDS)],
        ['oursStream', () => sample(contest.oursStream, columns, MIN_SAMPLE_SECONDS)],
        ['oursBatchPeerSize', () => sample(contest.oursBatch, peerColumns, MIN_SAMPLE_SECONDS)],
        ['oursStreamPeerSize', () => sample(contest.oursStream, peerColumns, MIN_SAMPLE_SECONDS)],
      ];
      const { tiBatch, tiStream, tulind } = contest;
      if (tiBatch) ways.push(['tiBatch', () => sample(tiBatch, peerPlain, MIN_SAMPLE_SECONDS)]);
      if (tiStream) ways.push(['tiStream', () => sample(tiStream, peerPlain, MIN_SAMPLE_SECONDS)]);
      if (tulind) ways.push(['tulind', () => sample(tulind, peerPlain, MIN_SAMPLE_SECONDS)]);
      const { floorStream } = contest;
      if (floorStream) ways.push(['floorStream', () => sample(floorStream, peerColumns, MIN_SAMPLE_SECONDS)]);
      // Warm-up: every way runs on a short prefix a few times, so the JIT has compiled it.
      for (let k = 0; k < 3; k++) {
        sink += contest.oursBatch(warmColumns) + contest.oursStream(warmColumns);
        sink += (tiBatch?.(warmPlain) ?? 0) + (tiStream?.(warmPlain) ?? 0) + (tulind?.(warmPlain) ?? 0);
        sink += floorStream?.(warmColumns) ?? 0;
      }
      const samples = new Map<Way, Sample[]>(ways.map(([w]) => [w, []]));
      for (let round = 0; round < rounds; round++) {
        // ABBA order, so drift falls on both sides of a ratio.
        const order = round % 2 === 0 ? ways : [...ways].reverse();
        for (const [way, take] of order) samples.get(way)!.push(take());
      }
      const rates = (clock: keyof Sample): Rates =>
        Object.fromEntries(
          [...samples].map(([way, xs]) => {
            const n = way === 'oursBatch' || way === 'oursStream' ? values : peerValues;
            return [way, Math.round(n / median(xs.map((x) => x[clock])))];
          }),
        );
      const cpu = rates('cpu');
      const wall = rates('wall');
      results[contest.name] = {
        valuesPerCpuSecond: cpu,
        valuesPerSecond: wall,
        ratios: ratiosOf(cpu),
        ratiosWall: ratiosOf(wall),
        floorVsTi:
          cpu.floorStream !== undefined && cpu.tiStream !== undefined ? cpu.floorStream / cpu.tiStream : null,
        note: contest.note ?? null,
      };
      ctx.log(
        `indicators: ${contest.name}: ours ${fmt((cpu.oursBatch ?? 0) / 1e6, 1)} M/cpu-s batch, ` +
          `${fmt((cpu.oursStream ?? 0) / 1e6, 1)} M/cpu-s streaming`,
      );
    }
    const m = (v: number | undefined) => (v === undefined ? '-' : fmt(v / 1e6, 1));
    const x = (v: number | undefined) => (v === undefined ? '-' : `${fmt(v, 1)}x`);
    return {
      report: {
        config: {
          dataDir: dir,
          files,
          bars,
          values,
          peerValues,
          rounds,
          minSampleSeconds: MIN_SAMPLE_SECONDS,
        },
        checksum: sink,
        results,
      },
      table: [
        `indicators: M values per CPU-second (median of ${rounds}); ours on ${values} values; the peers, and ours for the ratios, on the first ${peerValues}`,
        ...formatTable(
          [
            'indicator',
            'batch',
            'stream',
            'ti batch',
            'ti stream',
            'tulind',
            'b÷ti',
            's÷ti',
            'b÷tulind',
            's÷tulind',
          ],
          contests.map((c) => {
            const r = results[c.name]!;
            const v = r.valuesPerCpuSecond;
            return [
              c.name,
              m(v.oursBatch),
              m(v.oursStream),
              m(v.tiBatch),
              m(v.tiStream),
              m(v.tulind),
              x(r.ratios.batchVsTi),
              x(r.ratios.streamVsTi),
              x(r.ratios.batchVsTulind),
              x(r.ratios.streamVsTulind),
            ];
          }),
        ),
        ...contests.filter((c) => c.note).map((c) => `${c.name}: ${c.note}`),
        ...contests
          .filter((c) => results[c.name]!.floorVsTi !== null)
          .map((c) => {
            const r = results[c.name]!;
            return (
              `${c.name}: a bare streaming object (its operations alone: no checks, no state for replace, a number every bar) runs ` +
              `${m(r.valuesPerCpuSecond.floorStream)} M/cpu-s, ${x(r.floorVsTi!)} technicalindicators' nextValue: ` +
              `the most any streaming update could reach here`
            );
          }),
      ],
    };
  },
};
