/**
 * One side of one indicator's contest in a process of its own: `ours` (trading-core) or `peers`
 * (technicalindicators and tulind), started by the indicators suite (`indicators.ts`), which
 * alternates its `sample` calls between the two sides' processes.
 *
 * Why a process per side and per indicator: each library's figures are then taken in a process
 * that has loaded that library alone and run nothing before this indicator. Loading
 * technicalindicators into the process slowed our streaming ATR, ADX and session VWAP by 5–10 %
 * (and our EMA's sped up by 7 %) without either calling the other: leftovers of the kind that made
 * the bench put every suite in a process of its own (`suite-worker.ts`).
 */
import type { Columns, IndicatorName, Plain, Run } from './indicator-data.js';
import { loadColumns, plain, prefix } from './indicator-data.js';
import { serve } from './ipc.js';

export type Side = 'ours' | 'peers';

/**
 * Every way an indicator is timed: ours on the full series and on the peers' prefix (our `push`
 * form and the floor on the prefix only), the peers on the prefix.
 */
export type Way =
  | 'oursBatch'
  | 'oursStream'
  | 'oursBatchPeerSize'
  | 'oursStreamPeerSize'
  | 'oursPushPeerSize'
  | 'floorStream'
  | 'tiBatch'
  | 'tiStream'
  | 'tulind';

export interface Prepare {
  side: Side;
  indicator: IndicatorName;
  dir: string;
  values: number;
  peerValues: number;
  warmValues: number;
}

/** One timing sample: wall and CPU seconds per run, and the runs' checksum. */
export interface Sample {
  wall: number;
  cpu: number;
  checksum: number;
}

export interface IndicatorApi {
  [cmd: string]: (arg: never) => unknown;
  /** Loads the candles and this side's module; returns the ways this side has for the indicator. */
  prepare(arg: Prepare): Promise<{ ways: Way[]; files: string[]; bars: number }>;
  /** Runs every way a few times on a short prefix, so the JIT has compiled it; returns a checksum. */
  warm(arg: { times: number }): number;
  /** Repeats one way until `minSeconds` of wall time have passed. */
  sample(arg: { way: Way; minSeconds: number }): Sample;
}

/** A way, the data it runs on, and the data of its warm-up. */
interface Timed {
  run: (data: never) => number;
  data: unknown;
  warm: unknown;
}

let timed = new Map<Way, Timed>();

function add<D>(way: Way, run: Run<D> | undefined, data: D, warm: D): void {
  if (run !== undefined) timed.set(way, { run: run as (data: never) => number, data, warm });
}

function repeat(t: Timed, minSeconds: number): Sample {
  const started = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  let runs = 0;
  let checksum = 0;
  let wall: number;
  // A 2 ms run is at the mercy of one preemption on a busy machine; many runs in a row are not.
  do {
    checksum += t.run(t.data as never);
    runs++;
    wall = Number(process.hrtime.bigint() - started) / 1e9;
  } while (wall < minSeconds);
  const used = process.cpuUsage(cpu);
  return { wall: wall / runs, cpu: (used.user + used.system) / 1e6 / runs, checksum };
}

serve({
  async prepare({ side, indicator, dir, values, peerValues, warmValues }: Prepare) {
    timed = new Map();
    if (side === 'ours') {
      const { columns, files, bars } = loadColumns(dir, values);
      const peerSize: Columns = prefix(columns, peerValues);
      const warm: Columns = prefix(columns, Math.min(values, warmValues));
      const c = (await import('./indicator-ours.js')).OURS[indicator];
      add('oursBatch', c.batch, columns, warm);
      add('oursStream', c.stream, columns, warm);
      add('oursBatchPeerSize', c.batch, peerSize, warm);
      add('oursStreamPeerSize', c.stream, peerSize, warm);
      add('oursPushPeerSize', c.push, peerSize, warm);
      add('floorStream', c.floor, peerSize, warm);
      return { ways: [...timed.keys()], files, bars };
    }
    const { columns, files, bars } = loadColumns(dir, peerValues);
    const data: Plain = plain(columns);
    const warm: Plain = plain(prefix(columns, Math.min(peerValues, warmValues)));
    const c = (await import('./indicator-peers.js')).PEERS[indicator];
    add('tiBatch', c.tiBatch, data, warm);
    add('tiStream', c.tiStream, data, warm);
    add('tulind', c.tulind, data, warm);
    return { ways: [...timed.keys()], files, bars };
  },
  warm({ times }: { times: number }) {
    // Each function once a round: ours times its batch and stream forms on two sizes, and warming
    // them twice would give our side more warm-up than the peers'.
    const once = new Map<Timed['run'], Timed>();
    for (const t of timed.values()) if (!once.has(t.run)) once.set(t.run, t);
    let checksum = 0;
    for (let k = 0; k < times; k++) for (const t of once.values()) checksum += t.run(t.warm as never);
    return checksum;
  },
  sample({ way, minSeconds }: { way: Way; minSeconds: number }) {
    const t = timed.get(way);
    if (t === undefined) throw new Error(`indicator worker: no way ${way} here`);
    return repeat(t, minSeconds);
  },
} satisfies IndicatorApi);
