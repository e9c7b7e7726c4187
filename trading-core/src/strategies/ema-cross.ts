import type { Candle } from '../candle.js';
import { Ema } from '../indicators/ema.js';
import { VolumeAverage } from '../indicators/volume-average.js';
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
    const o = { ...DEFAULT_EMA_CROSS_VOLUME_OPTIONS, ...options };
    for (const key of ['fastPeriod', 'slowPeriod', 'volumePeriod'] as const) {
      if (!Number.isSafeInteger(o[key]) || o[key] < 1) {
        throw new RangeError(`EmaCrossVolumeStrategy: ${key} must be a positive integer, got ${o[key]}`);
      }
    }
    if (o.fastPeriod >= o.slowPeriod) {
      throw new RangeError(
        `EmaCrossVolumeStrategy: fastPeriod (${o.fastPeriod}) must be less than slowPeriod (${o.slowPeriod})`,
      );
    }
    this.options = Object.freeze(o);
    this.params = this.options;
    this.#fast = new Ema(o.fastPeriod);
    this.#slow = new Ema(o.slowPeriod);
    this.#volume = new VolumeAverage(o.volumePeriod);
  }

  onCandle(candle: Candle): StrategyAction | null {
    // The gate compares with the candles before this one, so read the average before adding it.
    // `push`, `ready`, then `value`: no heap number per candle (test/no-allocation.test.ts).
    const volume = this.#volume;
    const fast = this.#fast;
    const slow = this.#slow;
    const volumeReady = volume.ready;
    const averageVolume = volumeReady ? volume.value! : 0;
    volume.push(candle.volume);
    fast.push(candle.close);
    slow.push(candle.close);
    if (!fast.ready || !slow.ready) return null;

    const above = fast.value! > slow.value!;
    const wasAbove = this.#wasAbove;
    this.#wasAbove = above;
    if (wasAbove === undefined || above === wasAbove) return null;
    if (above) return volumeReady && candle.volume > averageVolume ? 'buy' : null;
    // Exits are never volume-gated: a position must always be able to leave, quiet market or not.
    return 'sell';
  }
}
