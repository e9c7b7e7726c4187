/**
 * Issue #11's indicator figures: values (bars) per second of trading-core's indicators, batch
 * (`*Series` over Float64Array) and streaming (`update` per bar), beside technicalindicators
 * (batch `calculate`, streaming `nextValue`) and tulind (batch, native C), on the real candles.
 * Each indicator's two sides run in two processes of their own (`indicator-proc.ts`: ours, and
 * the peers'), started for that indicator alone; this module alternates samples between them.
 */
import { join } from 'node:path';
import { INDICATORS, type IndicatorName, NOTES } from './indicator-data.js';
import type { IndicatorApi, Sample, Side, Way } from './indicator-proc.js';
import { REPO_ROOT, spawnWorker, type Worker } from './ipc.js';
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
const WARM_UP_TIMES = 3;
/** A sample of Bollinger bands on technicalindicators' side takes over a second; loading 4 M bars a few. */
const CALL_TIMEOUT_MS = 300_000;

/**
 * `--indicators-only "ATR VWAP"`: the indicators whose names start with any of the words given
 * (case-insensitive); every indicator without it. A word that names none is refused with the list.
 */
function selectIndicators(only: string | boolean | undefined): IndicatorName[] {
  if (only === undefined) return [...INDICATORS];
  const words = String(only).toLowerCase().split(/\s+/).filter(Boolean);
  const unknown = words.filter((w) => !INDICATORS.some((name) => name.toLowerCase().startsWith(w)));
  if (words.length === 0 || unknown.length > 0)
    throw new Error(
      `--indicators-only: no indicator starts with ${unknown.length > 0 ? unknown.join(', ') : '(nothing given)'}; ` +
        `the indicators are ${INDICATORS.join(', ')}`,
    );
  return INDICATORS.filter((name) => words.some((w) => name.toLowerCase().startsWith(w)));
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

type Rates = Partial<Record<Way, number>>;

interface ContestResult {
  valuesPerCpuSecond: Rates;
  valuesPerSecond: Rates;
  /** Ours ÷ peer, both on the peers' prefix: the figures the issue's targets are about. */
  ratios: Partial<
    Record<'batchVsTi' | 'streamVsTi' | 'pushVsTi' | 'batchVsTulind' | 'streamVsTulind', number>
  >;
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
  put('pushVsTi', r.oursPushPeerSize, r.tiStream);
  put('batchVsTulind', r.oursBatchPeerSize, r.tulind);
  put('streamVsTulind', r.oursStreamPeerSize, r.tulind);
  return out;
}

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
    const indicators = selectIndicators(ctx.options['indicators-only']);
    const cpu = ctx.pinning.used ? ctx.pinning.serverCpu : undefined;
    let checksum = 0;
    let loaded: { files: string[]; bars: number } | undefined;
    const results: Partial<Record<IndicatorName, ContestResult>> = {};
    for (const indicator of indicators) {
      // Both sides' processes live for this indicator only; one runs at a time (the other waits
      // for its next call), so with pinning both share the server's core.
      const workers: Partial<Record<Side, Worker<IndicatorApi>>> = {};
      try {
        const ways: [Way, Worker<IndicatorApi>][] = [];
        for (const side of ['ours', 'peers'] as const) {
          const w = (workers[side] = await spawnWorker<IndicatorApi>(
            `indicators:${side}:${indicator}`,
            'bench/indicator-proc.ts',
            cpu,
          ));
          const ready = await w.call(
            'prepare',
            { side, indicator, dir, values, peerValues, warmValues: WARM_UP_VALUES },
            CALL_TIMEOUT_MS,
          );
          if (loaded === undefined && side === 'ours') {
            loaded = { files: ready.files, bars: ready.bars };
            ctx.log(
              `indicators: ${ready.bars} bars from ${ready.files.length} files in ${dir}, repeated to ${values}; peers on the first ${peerValues}`,
            );
          }
          for (const way of ready.ways) ways.push([way, w]);
        }
        for (const w of Object.values(workers))
          checksum += await w.call('warm', { times: WARM_UP_TIMES }, CALL_TIMEOUT_MS);
        const samples = new Map<Way, Sample[]>(ways.map(([way]) => [way, []]));
        for (let round = 0; round < rounds; round++) {
          // ABBA order, so drift falls on both sides of a ratio.
          const order = round % 2 === 0 ? ways : [...ways].reverse();
          for (const [way, w] of order) {
            const s = await w.call('sample', { way, minSeconds: MIN_SAMPLE_SECONDS }, CALL_TIMEOUT_MS);
            checksum += s.checksum;
            samples.get(way)!.push(s);
          }
        }
        const rates = (clock: 'cpu' | 'wall'): Rates =>
          Object.fromEntries(
            [...samples].map(([way, xs]) => {
              const n = way === 'oursBatch' || way === 'oursStream' ? values : peerValues;
              return [way, Math.round(n / median(xs.map((x) => x[clock])))];
            }),
          );
        const perCpu = rates('cpu');
        const perWall = rates('wall');
        results[indicator] = {
          valuesPerCpuSecond: perCpu,
          valuesPerSecond: perWall,
          ratios: ratiosOf(perCpu),
          ratiosWall: ratiosOf(perWall),
          floorVsTi:
            perCpu.floorStream !== undefined && perCpu.tiStream !== undefined
              ? perCpu.floorStream / perCpu.tiStream
              : null,
          note: NOTES[indicator] ?? null,
        };
        ctx.log(
          `indicators: ${indicator}: ours ${fmt((perCpu.oursBatch ?? 0) / 1e6, 1)} M/cpu-s batch, ` +
            `${fmt((perCpu.oursStream ?? 0) / 1e6, 1)} M/cpu-s streaming`,
        );
      } finally {
        for (const w of Object.values(workers)) await w.stop();
      }
    }
    const m = (v: number | undefined) => (v === undefined ? '-' : fmt(v / 1e6, 1));
    const x = (v: number | undefined) => (v === undefined ? '-' : `${fmt(v, 1)}x`);
    return {
      report: {
        config: {
          dataDir: dir,
          files: loaded?.files ?? [],
          bars: loaded?.bars ?? 0,
          values,
          peerValues,
          rounds,
          minSampleSeconds: MIN_SAMPLE_SECONDS,
        },
        checksum,
        results,
      },
      table: [
        `indicators: M values per CPU-second (median of ${rounds}); ours on ${values} values; the peers, ours for the ratios and ours through push (push, ready, value: as the strategies stream) on the first ${peerValues}`,
        ...formatTable(
          [
            'indicator',
            'batch',
            'stream',
            'push',
            'ti batch',
            'ti stream',
            'tulind',
            'b÷ti',
            's÷ti',
            'p÷ti',
            'b÷tulind',
            's÷tulind',
          ],
          indicators.map((name) => {
            const r = results[name]!;
            const v = r.valuesPerCpuSecond;
            return [
              name,
              m(v.oursBatch),
              m(v.oursStream),
              m(v.oursPushPeerSize),
              m(v.tiBatch),
              m(v.tiStream),
              m(v.tulind),
              x(r.ratios.batchVsTi),
              x(r.ratios.streamVsTi),
              x(r.ratios.pushVsTi),
              x(r.ratios.batchVsTulind),
              x(r.ratios.streamVsTulind),
            ];
          }),
        ),
        ...indicators.filter((name) => NOTES[name]).map((name) => `${name}: ${NOTES[name]}`),
        ...indicators
          .filter((name) => results[name]!.floorVsTi !== null)
          .map((name) => {
            const r = results[name]!;
            return (
              `${name}: a bare streaming object (its operations alone: no checks, no state for replace, a number every bar) runs ` +
              `${m(r.valuesPerCpuSecond.floorStream)} M/cpu-s, ${x(r.floorVsTi!)} technicalindicators' nextValue: ` +
              `the most any streaming update could reach here`
            );
          }),
      ],
    };
  },
};
