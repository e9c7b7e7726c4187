import { z } from 'zod';
import type { Candle } from '../candle.js';
import type { StrategySpec } from './spec.js';
import { bounded, candles, checkParams, lessThan } from './spec.js';
import type { Strategy, StrategyAction } from './strategy.js';

export const CORRELATION_NAME = 'correlation';

const PARAMS = z.strictObject({
  leader: z
    .string()
    .regex(/^[A-Z0-9]+\/[A-Z0-9]+$/, 'a unified symbol such as BTC/USDT')
    .default('BTC/USDT')
    .describe('the symbol whose candles lead (delivered through onInput)'),
  period: candles(48, 'return pairs the rolling correlation reads', 3, 10_000),
  minCorrelation: bounded(
    0.2,
    'correlation of leader (one candle earlier) and lagger returns needed to buy',
    -1,
    1,
  ),
  exitCorrelation: bounded(-0.1, 'correlation below which a position is sold (the link broke)', -1, 1),
  moveBars: candles(3, 'candles over which the moves of leader and lagger are measured', 1, 1_000),
  leaderMove: bounded(0.01, "leader's rise over moveBars that triggers a buy, as a fraction", 0.0001, 1),
  followRatio: bounded(
    0.5,
    "the lagger has not followed while its rise is below this share of the leader's",
    0,
    1,
  ),
});

export type CorrelationParams = z.infer<typeof PARAMS>;

export const CORRELATION_SPEC: StrategySpec = {
  name: CORRELATION_NAME,
  description:
    'buys a lagging asset when a correlated leader has risen and the lagger has not followed yet; sells when it catches up, the leader falls back or the correlation breaks',
  params: PARAMS,
  check: (p) => lessThan(p, 'exitCorrelation', 'minCorrelation'),
  create: (p) => new CorrelationStrategy(p),
};

/**
 * A lagging asset following a correlated leader: the traded symbol is the lagger, the leader's
 * candles come through `onInput`.
 *
 * On each traded candle t the leader's price is L_t, the close of its latest candle delivered,
 * which by the delivery contract opened before t: with aligned hourly data, the candle one hour
 * earlier. So the state at t depends on which leader candles opened before t, never on the
 * order they were delivered in. Returns are taken on the lagger's clock: lagger
 * `r_t = close_t / close_{t−1} − 1`, leader `x_t = L_t / L_{t−1} − 1` (its return one candle
 * earlier). The correlation is Pearson's over the last `period` pairs (x, r), recomputed in two
 * passes, O(period) per candle; undefined (no buy, and a sell) while either side is flat.
 *
 * Buy (flat): correlation >= `minCorrelation`, the leader's move `L_t / L_{t−m} − 1 >=
 * leaderMove` and the lagger's `close_t / close_{t−m} − 1` below `followRatio` × the leader's
 * (m = `moveBars`). Sell (long): the lagger caught up (its move since candle t−m of the entry >=
 * the leader's since then), or the leader fell back (its move over m <= −`leaderMove`), or the
 * correlation dropped below `exitCorrelation`. Flat and long are what its own signals imply.
 */
export class CorrelationStrategy implements Strategy {
  readonly name = CORRELATION_NAME;
  readonly version = `${CORRELATION_NAME}/1`;
  readonly params: Readonly<CorrelationParams>;
  readonly inputs: readonly string[];
  /** Close of the latest leader candle delivered; NaN before the first. */
  #leader = Number.NaN;
  /** The last moveBars + 1 lagger closes and leader prices (slot t % length). */
  readonly #closes: Float64Array;
  readonly #leaders: Float64Array;
  /** The last `period` return pairs (slot pairs % period). */
  readonly #x: Float64Array;
  readonly #y: Float64Array;
  #t = 0;
  #pairs = 0;
  #long = false;
  #refClose = 0;
  #refLeader = 0;

  constructor(params: Partial<CorrelationParams> = {}) {
    this.params = checkParams(CORRELATION_SPEC, params) as CorrelationParams;
    this.inputs = Object.freeze([this.params.leader]);
    this.#closes = new Float64Array(this.params.moveBars + 1);
    this.#leaders = new Float64Array(this.params.moveBars + 1);
    this.#x = new Float64Array(this.params.period);
    this.#y = new Float64Array(this.params.period);
  }

  onInput(symbol: string, candle: Candle): void {
    if (symbol === this.params.leader) this.#leader = candle.close;
  }

  onCandle(candle: Candle): StrategyAction | null {
    const p = this.params;
    const t = this.#t++;
    const size = this.#closes.length;
    const close = candle.close;
    const leader = this.#leader;
    this.#closes[t % size] = close;
    this.#leaders[t % size] = leader;
    if (t === 0) return null;
    const leaderBefore = this.#leaders[(t - 1) % size]!;
    if (!Number.isNaN(leaderBefore)) {
      const slot = this.#pairs++ % p.period;
      this.#x[slot] = leader / leaderBefore - 1;
      this.#y[slot] = close / this.#closes[(t - 1) % size]! - 1;
    }
    const correlation = this.#pairs >= p.period ? this.#correlation() : Number.NaN;
    const from = t - p.moveBars;
    const leaderFrom = from >= 0 ? this.#leaders[from % size]! : Number.NaN;
    // NaN (too early, no leader yet) fails every comparison below, so it never buys.
    const leaderMove = leader / leaderFrom - 1;
    if (this.#long !== true) {
      if (!(correlation >= p.minCorrelation && leaderMove >= p.leaderMove)) return null;
      const closeFrom = this.#closes[from % size]!;
      if (!(close / closeFrom - 1 < p.followRatio * leaderMove)) return null;
      this.#long = true;
      this.#refClose = closeFrom;
      this.#refLeader = leaderFrom;
      return 'buy';
    }
    const caughtUp = close / this.#refClose - 1 >= leader / this.#refLeader - 1;
    if (caughtUp || leaderMove <= -p.leaderMove || !(correlation >= p.exitCorrelation)) {
      this.#long = false;
      return 'sell';
    }
    return null;
  }

  /** Pearson's correlation of the pairs held, two passes; NaN when either side does not vary. */
  #correlation(): number {
    const n = this.params.period;
    let sx = 0;
    let sy = 0;
    for (let i = 0; i < n; i++) {
      sx += this.#x[i]!;
      sy += this.#y[i]!;
    }
    const mx = sx / n;
    const my = sy / n;
    let cxy = 0;
    let cxx = 0;
    let cyy = 0;
    for (let i = 0; i < n; i++) {
      const dx = this.#x[i]! - mx;
      const dy = this.#y[i]! - my;
      cxy += dx * dy;
      cxx += dx * dx;
      cyy += dy * dy;
    }
    return cxx > 0 && cyy > 0 ? cxy / Math.sqrt(cxx * cyy) : Number.NaN;
  }
}
