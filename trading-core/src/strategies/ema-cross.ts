import type { Candle } from '../candle.js';
import { Ema } from '../indicators/ema.js';
import { VolumeAverage } from '../indicators/volume-average.js';
import { z } from 'zod';
import { candles, checkParams, lessThan, type StrategySpec } from './spec.js';
import type { Strategy, StrategyAction } from './strategy.js';

export const EMA_CROSS_VOLUME_NAME = 'ema-cross-volume';
export const EMA_CROSS_VOLUME_VERSION = `${EMA_CROSS_VOLUME_NAME}/1`;

export interface EmaCrossVolumeOptions {
  /** Fast EMA period on close, in candles. Default 12. */
  fastPeriod: number;
  /** Slow EMA period on close, in candles; must be greater than fastPeriod. Default 26. */
  slowPeriod: number;
  /** How many previous candles the volume gate averages. Default 20. */
  volumePeriod: number;
}

export const DEFAULT_EMA_CROSS_VOLUME_OPTIONS: Readonly<EmaCrossVolumeOptions> = Object.freeze({
  fastPeriod: 12,
  slowPeriod: 26,
  volumePeriod: 20,
});

export const EMA_CROSS_VOLUME_SPEC: StrategySpec = {
  name: EMA_CROSS_VOLUME_NAME,
  description:
    'buys when the fast EMA of close crosses above the slow one on above-average volume; sells on the cross back',
  params: z.strictObject({
    fastPeriod: candles(DEFAULT_EMA_CROSS_VOLUME_OPTIONS.fastPeriod, 'fast EMA of close, candles'),
    slowPeriod: candles(DEFAULT_EMA_CROSS_VOLUME_OPTIONS.slowPeriod, 'slow EMA of close, candles'),
    volumePeriod: candles(
      DEFAULT_EMA_CROSS_VOLUME_OPTIONS.volumePeriod,
      'previous candles the volume gate averages',
    ),
  }),
  check: (p) => lessThan(p, 'fastPeriod', 'slowPeriod'),
  create: (p) => new EmaCrossVolumeStrategy(p),
};

/**
 * Buys when the fast EMA of close crosses above the slow one on a candle whose volume is above
 * the average of the previous `volumePeriod` candles; sells when it crosses back below.
 *
 * "Above" means fast > slow; equality counts as not above. A cross is a change of that one
 * boolean between consecutive candles, so buys and sells come from alternating edges and two
 * buys never happen without a sell edge between them (a volume-gated buy may be skipped, so two
 * sells can).
 */
export class EmaCrossVolumeStrategy implements Strategy {
  readonly name = EMA_CROSS_VOLUME_NAME;
  readonly version = EMA_CROSS_VOLUME_VERSION;
  readonly options: Readonly<EmaCrossVolumeOptions>;
  readonly params: Readonly<EmaCrossVolumeOptions>;
  readonly #fast: Ema;
  readonly #slow: Ema;
  readonly #volume: VolumeAverage;
  /** Whether fast > slow on the previous candle; undefined until both EMAs are warm. */
  #wasAbove: boolean | undefined = undefined;

  constructor(options: Partial<EmaCrossVolumeOptions> = {}) {
    // The registry's check, so `new` and `createStrategy` accept exactly the same parameters.
    const o = checkParams(EMA_CROSS_VOLUME_SPEC, options) as unknown as Readonly<EmaCrossVolumeOptions>;
    this.options = o;
    this.params = o;
    this.#fast = new Ema(o.fastPeriod);
    this.#slow = new Ema(o.slowPeriod);
    this.#volume = new VolumeAverage(o.volumePeriod);
  }

  onCandle(candle: Candle): StrategyAction | null {
    // `push`, `ready`, then `value`: no heap number per candle (test/no-allocation.test.ts).
    const fast = this.#fast;
    const slow = this.#slow;
    const volume = this.#volume;
    fast.push(candle.close);
    slow.push(candle.close);
    let action: StrategyAction | null = null;
    if (fast.ready && slow.ready) {
      const above = fast.value! > slow.value!;
      const wasAbove = this.#wasAbove;
      this.#wasAbove = above;
      if (wasAbove !== undefined && above !== wasAbove) {
        // Exits are never volume-gated: a position must always be able to leave, quiet market or not.
        if (!above) action = 'sell';
        // The gate compares with the candles before this one: this candle's volume joins the
        // average below, after the gate has read it.
        else if (volume.ready && candle.volume > volume.value!) action = 'buy';
      }
    }
    // Last, so that between crosses (nearly every candle) the average is not read at all.
    volume.push(candle.volume);
    return action;
  }
}
