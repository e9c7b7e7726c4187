import type { BreakerConfig } from './config.js';
import { duration, percentile, pct, times } from './reasons.js';
import { RollingMoments } from './rolling-moments.js';
import { RollingQuantile } from './rolling-quantile.js';
import { adaptiveThresholds, makeReading } from './thresholds.js';
import type { CandleReading, InputReading } from './types.js';

/** |z| is capped here so that a flat baseline cannot make an infinite reading. */
const MAX_Z = 1e6;

/**
 * One asset's per-bar inputs (return, volatility) and its staleness, from the candles fed in.
 * Memory is fixed: rings of `returnBars + 1` closes, `baselineBars` returns and volatilities,
 * `volBars` one-bar returns and `stale.window` arrival gaps.
 */
export class AssetInputs {
  readonly symbol: string;
  readonly #cfg: BreakerConfig;
  timeframeMs = 0;
  /** Open time of the newest bar taken. */
  lastBar: number | null = null;
  /** When the newest bar was received. */
  lastReceived = 0;
  /** The newest bar's return z-score, null while the baseline is short. */
  z: number | null = null;
  /** The newest bar's return reading, null while the baseline is short. */
  returnReading: InputReading | null = null;
  readonly #closes: number[] = [];
  readonly #returns: RollingMoments;
  readonly #oneBar: RollingMoments;
  readonly #vols: RollingQuantile;
  readonly #gaps: RollingQuantile;
  /** Staleness as last evaluated: age, and age over the halt threshold. */
  stale = { age: 0, ratio: 0 };

  constructor(symbol: string, cfg: BreakerConfig) {
    this.symbol = symbol;
    this.#cfg = cfg;
    this.#returns = new RollingMoments(cfg.baselineBars);
    this.#oneBar = new RollingMoments(cfg.volBars);
    this.#vols = new RollingQuantile(cfg.baselineBars);
    this.#gaps = new RollingQuantile(cfg.stale.window);
  }

  /** Takes one closed bar (already checked to be newer than the last); returns its readings. */
  onCandle(c: CandleReading, now: number): InputReading[] {
    const cfg = this.#cfg;
    if (this.lastBar !== null) this.#gaps.push(Math.max(0, now - this.lastReceived));
    this.lastBar = c.time;
    this.lastReceived = now;
    this.timeframeMs = c.timeframeMs;
    const prev = this.#closes.at(-1);
    this.#closes.push(c.close);
    if (this.#closes.length > cfg.returnBars + 1) this.#closes.shift();
    const out: InputReading[] = [this.#staleReading(0)];
    this.stale = { age: 0, ratio: 0 };

    this.z = null;
    this.returnReading = null;
    if (this.#closes.length === cfg.returnBars + 1) {
      const r = Math.log(c.close / (this.#closes[0] as number));
      if (this.#returns.size >= cfg.minBaselineBars) {
        const std = this.#returns.std();
        const dev = r - this.#returns.mean();
        const z = std > 0 ? dev / std : dev === 0 ? 0 : Math.sign(dev) * MAX_Z;
        this.z = Math.max(-MAX_Z, Math.min(MAX_Z, z));
        this.returnReading = this.#returnReading(r, this.z);
        out.push(this.returnReading);
      }
      this.#returns.push(r);
    }

    if (prev !== undefined) {
      this.#oneBar.push(Math.log(c.close / prev));
      if (this.#oneBar.size === cfg.volBars) out.push(this.#volatility(this.#oneBar.std()));
    }
    return out;
  }

  #returnReading(r: number, z: number): InputReading {
    const move = r < 0 ? `fell ${pct(1 - Math.exp(r))}` : `rose ${pct(Math.exp(r) - 1)}`;
    const span = duration(this.#cfg.returnBars * this.timeframeMs);
    const text = `${this.symbol} ${move} in ${span}, ${Math.abs(z).toFixed(1)} σ`;
    return makeReading('return', this.symbol, z, this.#cfg.returnZ, text);
  }

  #volatility(vol: number): InputReading {
    const rules = { minHistory: this.#cfg.minBaselineBars, ...this.#cfg.volatility };
    const t = adaptiveThresholds(rules, this.#vols);
    this.#vols.push(vol);
    const span = duration(this.#cfg.volBars * this.timeframeMs);
    const text =
      t.usual !== null && t.usual > 0
        ? `${this.symbol} realised volatility over ${span} is ${times(vol / t.usual)} its usual ${percentile(rules.caution.quantile)} percentile`
        : `${this.symbol} realised volatility over ${span} is ${pct(vol, 2)} per bar (caution from ${pct(t.caution, 2)})`;
    return makeReading('volatility', this.symbol, vol, t, text);
  }

  /** The staleness reading at `now` (tick), remembered for the market's view. */
  refreshStale(now: number): InputReading {
    const age = Math.max(0, now - this.lastReceived);
    const r = this.#staleReading(age);
    this.stale = { age, ratio: age / r.halt };
    return r;
  }

  #staleReading(age: number): InputReading {
    const t = adaptiveThresholds(this.#cfg.stale, this.#gaps, this.timeframeMs);
    const usual = t.usual ?? this.timeframeMs;
    const text = `${this.symbol}: no candle for ${duration(age)} (usually one every ${duration(usual)})`;
    return makeReading('stale', this.symbol, age, t, text);
  }
}
