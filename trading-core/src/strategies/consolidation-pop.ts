import { z } from 'zod';
import type { Candle } from '../candle.js';
import { Atr } from '../indicators/atr.js';
import { Donchian } from '../indicators/donchian.js';
import { VolumeAverage } from '../indicators/volume-average.js';
import type { StrategySpec } from './spec.js';
import { bounded, candles, checkParams } from './spec.js';
import type { Strategy, StrategyAction } from './strategy.js';

export const CONSOLIDATION_POP_NAME = 'consolidation-pop';

const PARAMS = z.strictObject({
  rangePeriod: candles(20, 'previous candles that make the range (and the volume average)', 2, 10_000),
  atrPeriod: candles(14, 'ATR period (Wilder), candles', 1, 10_000),
  maxRangeAtr: bounded(3, 'widest range, high − low, that counts as tight, in ATRs', 0.1, 100),
  volumeFactor: bounded(
    1.5,
    "breakout volume needed, as a multiple of the range's mean volume (0: no gate)",
    0,
    100,
  ),
  trailAtr: bounded(3, 'trailing stop distance below the highest close since entry, in ATRs', 0.1, 100),
});

export type ConsolidationPopParams = z.infer<typeof PARAMS>;

export const CONSOLIDATION_POP_SPEC: StrategySpec = {
  name: CONSOLIDATION_POP_NAME,
  description:
    'buys a close above a tight range (high − low of the previous candles within a few ATRs) on high volume; sells back inside the range or on an ATR trailing stop',
  params: PARAMS,
  create: (p) => new ConsolidationPopStrategy(p),
};

/**
 * Breakout from a tight range.
 *
 * The range is the highest high and lowest low of the previous `rangePeriod` candles (not this
 * one); it is tight when `high − low <= maxRangeAtr × ATR`, the ATR also of the candles before
 * this one, so the breakout candle's own size does not make the range look tighter. Buy (flat):
 * the range is tight, close > range high, and volume >= `volumeFactor` × the mean volume of the
 * range's candles. Sell (long): close < the range high it broke (back inside: a failed
 * breakout), or close < highest close since entry − `trailAtr` × ATR (this candle included).
 * Flat and long are what its own signals imply, so buys and sells alternate.
 */
export class ConsolidationPopStrategy implements Strategy {
  readonly name = CONSOLIDATION_POP_NAME;
  readonly version = `${CONSOLIDATION_POP_NAME}/1`;
  readonly params: Readonly<ConsolidationPopParams>;
  readonly #range: Donchian;
  readonly #atr: Atr;
  readonly #volume: VolumeAverage;
  #long = false;
  #rangeHigh = 0;
  #peak = 0;

  constructor(params: Partial<ConsolidationPopParams> = {}) {
    this.params = checkParams(CONSOLIDATION_POP_SPEC, params) as ConsolidationPopParams;
    this.#range = new Donchian(this.params.rangePeriod);
    this.#atr = new Atr(this.params.atrPeriod);
    this.#volume = new VolumeAverage(this.params.rangePeriod);
  }

  onCandle(candle: Candle): StrategyAction | null {
    // The range, its ATR and its volume are those of the candles before this one. Per candle
    // only `push`/`update`, `ready` and the scalar getters after their `ready`: no object and no
    // heap number (test/no-allocation.test.ts). The low is defined exactly when the high is.
    const range = this.#range;
    const atr = this.#atr;
    const volume = this.#volume;
    const rangeReady = range.ready;
    const atrReady = atr.ready;
    const volumeReady = volume.ready;
    let rangeHigh = 0;
    let rangeLow = 0;
    if (rangeReady) {
      rangeHigh = range.upper!;
      rangeLow = range.lower!;
    }
    const atrBefore = atrReady ? atr.value! : 0;
    const volumeBefore = volumeReady ? volume.value! : 0;
    range.push(candle);
    atr.push(candle);
    volume.push(candle.volume);
    const close = candle.close;
    const p = this.params;
    if (this.#long !== true) {
      if (!(rangeReady && atrReady && volumeReady)) return null;
      if (rangeHigh - rangeLow > p.maxRangeAtr * atrBefore) return null;
      if (!(close > rangeHigh) || candle.volume < p.volumeFactor * volumeBefore) return null;
      this.#long = true;
      this.#rangeHigh = rangeHigh;
      this.#peak = close;
      return 'buy';
    }
    if (close > this.#peak) this.#peak = close;
    // The ATR is ready: it was before the entry candle.
    const atrNow = atr.ready ? atr.value! : 0;
    if (close < this.#rangeHigh || close < this.#peak - p.trailAtr * atrNow) {
      this.#long = false;
      return 'sell';
    }
    return null;
  }
}
