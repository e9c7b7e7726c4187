import {
  LEVEL_RANK,
  type Breaker,
  type BreakerEvent,
  type BreakerLevel,
  type Candle,
  type InputReading,
  type ScopeState,
} from '@appliance/trading-core';

/**
 * The breaker replayed over candle files, bar by bar across symbols: at each bar time every
 * symbol's candle of that bar is fed with `now` = the bar's close (open + timeframe), then the
 * peg's candles up to that bar, then `tick(now)`, so breadth sees the assets of a bar together.
 * Pure apart from the breaker it is given: no clock, no I/O.
 */

/** One symbol's candles, oldest first, strictly increasing (as the CSV reader hands them out). */
export interface ReplaySeries {
  symbol: string;
  timeframeMs: number;
  candles: readonly Candle[];
}

/** A change of one scope's effective level, as levels.json lists it. */
export interface LevelChange {
  /** When it changed: the `now` of the bar that changed it (the bar's close), ms. */
  time: number;
  iso: string;
  scope: string;
  /** The new level, its multiplier and why. */
  level: BreakerLevel;
  multiplier: number;
  reason: string;
  from: BreakerLevel;
  /** The readings behind it: for a trip, those asking for the new level or more; for an ease, all of the scope's. */
  inputs: InputReading[];
}

/**
 * What a device would have applied to buys of one symbol after each of its candles (the stricter
 * of the market's and the asset's level), and the heat behind it, index by index with `candles`.
 */
export interface SymbolTrack {
  symbol: string;
  /** LEVEL_RANK of the effective level: 0 normal, 1 caution, 2 halt. */
  level: Uint8Array;
  multiplier: Float64Array;
  /**
   * The strongest reading of the asset's and the market's inputs, as |value| ÷ its caution
   * threshold (1: at the caution threshold; for `return`, |z| ÷ returnZ.caution).
   */
  heat: Float64Array;
}

export interface ReplayRun {
  changes: LevelChange[];
  tracks: SymbolTrack[];
  /** Bar times replayed (the union of every file's candle times). */
  bars: number;
  first: number | null;
  last: number | null;
}

/**
 * Replays `series` (and the peg's candles, each fed as `.peg(1 / close)`) through `breaker`.
 * `onProgress(done, total)` is called after each bar time.
 */
export function replayBreaker(
  breaker: Breaker,
  series: readonly ReplaySeries[],
  peg: readonly Candle[] | null,
  onProgress?: (done: number, total: number) => void,
): ReplayRun {
  const times = barTimes(series);
  const next = series.map(() => 0);
  const tracks = series.map((s): SymbolTrack => ({
    symbol: s.symbol,
    level: new Uint8Array(s.candles.length),
    multiplier: new Float64Array(s.candles.length),
    heat: new Float64Array(s.candles.length),
  }));
  const changes: LevelChange[] = [];
  const take = (events: BreakerEvent[]) => {
    for (const e of events)
      if (e.type === 'BreakerTripped' || e.type === 'BreakerEased') changes.push(change(e));
  };
  let pegNext = 0;
  const timeframeMs = series[0]?.timeframeMs ?? 0;
  for (let b = 0; b < times.length; b++) {
    const time = times[b]!;
    const now = time + timeframeMs;
    const fed: number[] = [];
    series.forEach((s, i) => {
      const c = s.candles[next[i]!];
      if (c === undefined || c.time !== time) return;
      take(breaker.candle({ symbol: s.symbol, time, close: c.close, timeframeMs: s.timeframeMs }, now));
      fed.push(i);
    });
    while (peg !== null && pegNext < peg.length && peg[pegNext]!.time <= time)
      take(breaker.peg(1 / peg[pegNext++]!.close, now));
    take(breaker.tick(now));
    const snapshot = breaker.snapshot();
    const marketHeat = heatOf(snapshot.market);
    for (const i of fed) {
      const symbol = series[i]!.symbol;
      const at = next[i]!++;
      const effective = breaker.effective(symbol);
      const track = tracks[i]!;
      track.level[at] = LEVEL_RANK[effective.level];
      track.multiplier[at] = effective.multiplier;
      const asset = snapshot.assets[symbol];
      track.heat[at] = Math.max(marketHeat, asset ? heatOf(asset) : 0);
    }
    onProgress?.(b + 1, times.length);
  }
  return { changes, tracks, bars: times.length, first: times[0] ?? null, last: times.at(-1) ?? null };
}

/** Every candle time of every series, ascending, once each. */
function barTimes(series: readonly ReplaySeries[]): number[] {
  const all = new Set<number>();
  for (const s of series) for (const c of s.candles) all.add(c.time);
  return [...all].sort((a, b) => a - b);
}

/** The strongest reading of a scope relative to its caution threshold. */
function heatOf(state: ScopeState): number {
  let heat = 0;
  for (const r of state.readings) if (r.caution > 0) heat = Math.max(heat, Math.abs(r.value) / r.caution);
  return heat;
}

function change(e: Extract<BreakerEvent, { type: 'BreakerTripped' | 'BreakerEased' }>): LevelChange {
  return {
    time: e.at,
    iso: new Date(e.at).toISOString(),
    scope: e.scope,
    level: e.to,
    multiplier: e.multiplier,
    reason: e.reason,
    from: e.from,
    inputs: e.inputs,
  };
}
