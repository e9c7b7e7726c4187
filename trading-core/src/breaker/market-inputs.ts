import type { AssetInputs } from './asset-inputs.js';
import type { BreakerConfig } from './config.js';
import { duration, pct } from './reasons.js';
import { RollingQuantile } from './rolling-quantile.js';
import { adaptiveThresholds, makeReading } from './thresholds.js';
import { MARKET, type InputReading } from './types.js';

/**
 * The market-wide inputs: breadth over the assets' newest bar, the house portfolio's drawdown,
 * the quote stablecoin's peg, and staleness of every asset at once.
 */
export class MarketInputs {
  readonly #cfg: BreakerConfig;
  readonly #breadth: RollingQuantile;
  /** The newest bar time seen, and the breadth of that bar so far (history gets it when the next bar starts). */
  #newestBar: number | null = null;
  #pendingBreadth: number | null = null;
  /** Assets counted on the newest bar, and on the bar before it (the share's denominator while a bar fills). */
  #onBar = 0;
  #onPrevBar = 0;
  #peak = 0;
  readonly #drawdowns: RollingQuantile;
  readonly #pegs: RollingQuantile;

  constructor(cfg: BreakerConfig) {
    this.#cfg = cfg;
    this.#breadth = new RollingQuantile(cfg.baselineBars);
    this.#drawdowns = new RollingQuantile(cfg.drawdown.window);
    this.#pegs = new RollingQuantile(cfg.peg.window);
  }

  /**
   * Breadth after a candle of bar time `barTime`: among the assets whose newest bar is the newest
   * bar seen and that have a z-score, the share moving ≥ breadth.z σ in the same direction (out
   * of at least as many assets as the previous bar had, while the bar fills). Null (the last
   * reading stands) while fewer than breadth.minAssets assets are on that bar.
   */
  breadth(barTime: number, assets: Iterable<AssetInputs>): InputReading | null {
    const cfg = this.#cfg.breadth;
    if (this.#newestBar === null || barTime > this.#newestBar) {
      if (this.#pendingBreadth !== null) this.#breadth.push(this.#pendingBreadth);
      this.#pendingBreadth = null;
      this.#newestBar = barTime;
      this.#onPrevBar = this.#onBar;
      this.#onBar = 0;
    }
    const onBar: AssetInputs[] = [];
    for (const a of assets) if (a.lastBar === this.#newestBar && a.z !== null) onBar.push(a);
    this.#onBar = onBar.length;
    if (onBar.length < cfg.minAssets) return null;
    const down = onBar.filter((a) => (a.z as number) <= -cfg.z);
    const up = onBar.filter((a) => (a.z as number) >= cfg.z);
    const movers = down.length >= up.length ? down : up;
    // While a bar fills, the assets of the bar before count too: 2 movers among the first 3 of 7 are 2 of 7.
    const n = Math.max(onBar.length, this.#onPrevBar);
    const share = movers.length / n;
    this.#pendingBreadth = share;
    const rules = { minHistory: this.#cfg.minBaselineBars, ...cfg };
    const t = adaptiveThresholds(rules, this.#breadth);
    let text: string;
    if (movers.length === 0) {
      text = `no asset moved ${cfg.z} σ on the latest bar (${n} assets)`;
    } else {
      const biggest = movers.reduce((m, a) => (Math.abs(a.z as number) > Math.abs(m.z as number) ? a : m));
      const dir = movers === down ? 'down' : 'up';
      text = `${biggest.returnReading?.text ?? biggest.symbol}; ${movers.length} of ${n} assets ${dir} together`;
    }
    return makeReading('breadth', MARKET, share, t, text);
  }

  /** The house portfolio's drawdown from its running peak. */
  drawdown(equity: number): InputReading {
    this.#peak = Math.max(this.#peak, equity);
    const dd = this.#peak > 0 ? 1 - equity / this.#peak : 0;
    const t = adaptiveThresholds(this.#cfg.drawdown, this.#drawdowns);
    this.#drawdowns.push(dd);
    return makeReading('drawdown', MARKET, dd, t, `house portfolio ${pct(dd)} below its peak`);
  }

  /** The quote stablecoin's distance from 1 in the second stablecoin. */
  peg(price: number): InputReading {
    const dev = Math.abs(price - 1);
    const t = adaptiveThresholds(this.#cfg.peg, this.#pegs);
    this.#pegs.push(dev);
    const text = `quote stablecoin at ${price.toFixed(4)} against the second stablecoin, ${pct(dev)} off its peg`;
    return makeReading('peg', MARKET, dev, t, text);
  }

  /**
   * Every asset stale at once: the value is the freshest asset's age over its own halt
   * threshold, so it reaches 1 (caution and halt) only when every asset is at halt by staleness.
   */
  stale(assets: readonly AssetInputs[]): InputReading | null {
    if (assets.length === 0) return null;
    let ratio = Infinity;
    let age = Infinity;
    for (const a of assets) {
      ratio = Math.min(ratio, a.stale.ratio);
      age = Math.min(age, a.stale.age);
    }
    const n = assets.length;
    const text =
      ratio >= 1
        ? `no candles from any of ${n} asset${n === 1 ? '' : 's'} for ${duration(age)}`
        : `the freshest of ${n} asset${n === 1 ? '' : 's'} sent a candle ${duration(age)} ago`;
    return makeReading('stale', MARKET, ratio, { caution: 1, halt: 1 }, text);
  }
}
