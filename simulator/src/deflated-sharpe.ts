import type { RunMetrics } from './metrics.js';

/**
 * The deflated Sharpe ratio of
 *
 *   D. H. Bailey and M. López de Prado, "The Deflated Sharpe Ratio: Correcting for Selection
 *   Bias, Backtest Overfitting and Non-Normality", Journal of Portfolio Management 40(5),
 *   2014, pp. 94-107. https://doi.org/10.3905/jpm.2014.40.5.094
 *
 * Trying many strategies and keeping the best one inflates its Sharpe ratio: among N trials
 * with no skill at all, the best still shows a Sharpe of about E[max SR] (equation 2 of the
 * paper). The DSR is the probabilistic Sharpe ratio (PSR, equation 1) of the chosen trial
 * against that benchmark: the probability that its true Sharpe is above what luck alone gives,
 * allowing for the skewness and fat tails of its returns and for the length of the sample.
 *
 * Every Sharpe ratio here is per period (per candle), not annualised, as in the paper; its
 * variance likewise. Kurtosis is not excess: a normal distribution has 3.
 */

/** γ, the Euler–Mascheroni constant, to double precision. */
export const EULER_MASCHERONI = 0.5772156649015329;

const SQRT_2PI = Math.sqrt(2 * Math.PI);
/** ln(sqrt(2π)). */
const LN_SQRT_2PI = 0.9189385332046728;

/**
 * The standard normal density. x² is split as xs² + (x - xs)(x + xs) with xs = x rounded to
 * 1/16, whose square is exact, so the far tails do not lose digits to the rounding of x² (as in
 * Cody's erfc).
 */
export function normalPdf(x: number): number {
  const xs = Math.round(x * 16) / 16;
  return Math.exp(-0.5 * xs * xs - LN_SQRT_2PI) * Math.exp(-0.5 * (x - xs) * (x + xs));
}

/**
 * Φ, the standard normal CDF. For |x| < 2 Marsaglia's series (J. Stat. Software 11(4), 2004),
 * Φ(x) = 1/2 + φ(x)(x + x³/3 + x⁵/(3·5) + ...), all terms of one sign; beyond, the tail from the
 * Laplace continued fraction of the Mills ratio, evaluated by the modified Lentz method, so the
 * far tails keep their relative precision. Agrees with Python's math.erfc to a relative 2e-14
 * for x in [-9, 8]; further out Φ itself is ill-conditioned (a relative change of 2^-53 in x
 * moves it by x² × 2^-53, 2e-13 at -38), and so is any reference it is checked against.
 */
export function normalCdf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (Math.abs(x) < 2) {
    const q = x * x;
    let sum = x;
    let term = x;
    let previous = 0;
    for (let i = 1; sum !== previous; i += 2) {
      previous = sum;
      term *= q / (i + 2);
      sum += term;
    }
    return 0.5 + sum * normalPdf(x);
  }
  const tail = upperTail(Math.abs(x));
  return x > 0 ? 1 - tail : tail;
}

/** 1 - Φ(x) for x >= 2: φ(x) / (x + 1/(x + 2/(x + 3/(x + ...)))). */
function upperTail(x: number): number {
  if (x === Infinity) return 0;
  const tiny = 1e-300;
  // Lentz: f = b0 + a1/(b1 + a2/(b2 + ...)), here b = x throughout and a_k = k.
  let f = x;
  let c = x;
  let d = 0;
  for (let k = 1; k < 500; k++) {
    d = x + k * d;
    d = d === 0 ? tiny : d;
    c = x + k / c;
    c = c === 0 ? tiny : c;
    d = 1 / d;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return normalPdf(x) / f;
}

// Acklam's rational approximation of Φ⁻¹ (P. J. Acklam, "An algorithm for computing the
// inverse normal cumulative distribution function", 2003): relative error below 1.15e-9,
// brought to about double precision by one Halley step against normalCdf.
const A = [
  -3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1,
  2.506628277459239,
] as const;
const B = [
  -5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1,
] as const;
const C = [
  -7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968,
  2.938163982698783,
] as const;
const D = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416] as const;
const P_LOW = 0.02425;

/**
 * Φ⁻¹(p), the standard normal quantile: -Infinity at 0, Infinity at 1, NaN outside [0, 1].
 * Checked against Python's statistics.NormalDist.inv_cdf (Wichura's AS 241) to a relative error
 * below 1e-14 (see the test).
 */
export function inverseNormalCdf(p: number): number {
  if (!(p >= 0 && p <= 1)) return NaN;
  if (p === 0) return -Infinity;
  if (p === 1) return Infinity;
  // 1 - p is exact for p in [0.5, 1], and the lower tail is where normalCdf keeps its precision.
  if (p > 0.5) return -inverseNormalCdf(1 - p);
  let x: number;
  if (p < P_LOW) {
    const q = Math.sqrt(-2 * Math.log(p));
    x =
      (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5]) /
      ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1);
  } else {
    const q = p - 0.5;
    const r = q * q;
    x =
      ((((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q) /
      (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1);
  }
  // One Halley step on Φ(x) - p = 0.
  const e = normalCdf(x) - p;
  const u = e * SQRT_2PI * Math.exp(0.5 * x * x);
  return x - u / (1 + 0.5 * x * u);
}

/**
 * E[max SR_n], the Sharpe ratio the best of `trials` independent unskilled trials is expected to
 * show (the paper's equation 2, from the false strategy theorem):
 *
 *     sqrt(V[SR_n]) × ((1 - γ) Φ⁻¹(1 - 1/N) + γ Φ⁻¹(1 - 1/(N e)))
 *
 * 0 for a single trial or no spread between trials: nothing was selected.
 */
export function expectedMaxSharpe(trials: number, variance: number): number {
  if (!(Number.isInteger(trials) && trials >= 1))
    throw new RangeError(`expectedMaxSharpe: trials must be an integer >= 1, got ${trials}`);
  if (!(variance >= 0 && Number.isFinite(variance)))
    throw new RangeError(`expectedMaxSharpe: variance must be finite and >= 0, got ${variance}`);
  if (trials === 1 || variance === 0) return 0;
  return (
    Math.sqrt(variance) *
    ((1 - EULER_MASCHERONI) * inverseNormalCdf(1 - 1 / trials) +
      EULER_MASCHERONI * inverseNormalCdf(1 - 1 / (trials * Math.E)))
  );
}

export interface SharpeSample {
  /** The observed Sharpe ratio, per period. */
  sharpe: number;
  /** T, the number of returns it was measured on. */
  observations: number;
  /** γ3, skewness of the returns. */
  skewness: number;
  /** γ4, kurtosis of the returns (not excess; 3 for a normal distribution). */
  kurtosis: number;
}

/**
 * PSR(SR*), the probability that the true Sharpe ratio exceeds `benchmark` (the paper's
 * equation 1):
 *
 *     Φ( (SR - SR*) sqrt(T - 1) / sqrt(1 - γ3 SR + (γ4 - 1)/4 SR²) )
 */
export function probabilisticSharpe(sample: SharpeSample, benchmark: number): number {
  const { sharpe, observations, skewness, kurtosis } = sample;
  if (!(observations >= 2)) throw new RangeError(`probabilisticSharpe: need T >= 2, got ${observations}`);
  const spread = 1 - skewness * sharpe + ((kurtosis - 1) / 4) * sharpe * sharpe;
  if (!(spread > 0))
    throw new RangeError(`probabilisticSharpe: 1 - γ3 SR + (γ4 - 1)/4 SR² must be > 0, got ${spread}`);
  return normalCdf(((sharpe - benchmark) * Math.sqrt(observations - 1)) / Math.sqrt(spread));
}

export interface DeflatedSharpeInput extends SharpeSample {
  /** N, how many trials (strategies and parameter sets) the chosen one was the best of. */
  trials: number;
  /** V[SR_n], the variance of the trials' per-period Sharpe ratios. */
  trialVariance: number;
}

export interface DeflatedSharpe {
  /** The DSR: PSR against the expected maximum Sharpe of the trials, in [0, 1]. */
  probability: number;
  /** SR*, E[max SR_n] per period. */
  expectedMaxSharpe: number;
}

/** DSR = PSR(E[max SR_n]) (the paper's equation 2 in equation 1). */
export function deflatedSharpe(input: DeflatedSharpeInput): DeflatedSharpe {
  const benchmark = expectedMaxSharpe(input.trials, input.trialVariance);
  return { probability: probabilisticSharpe(input, benchmark), expectedMaxSharpe: benchmark };
}

/**
 * The DSR of `chosen` among `trials` (every run tried on the same symbol and window, the chosen
 * one included), from their metrics: per-period Sharpe ratios are mean / stdev of the per-candle
 * returns, N is trials.length and V[SR_n] their sample variance (n - 1).
 */
export function deflatedSharpeOfRuns(
  chosen: Pick<RunMetrics, 'returns'>,
  trials: readonly Pick<RunMetrics, 'returns'>[],
): DeflatedSharpe {
  if (trials.length === 0) throw new RangeError('deflatedSharpeOfRuns: no trials');
  const sharpes = trials.map((t) => periodSharpe(t.returns));
  const mean = sharpes.reduce((a, b) => a + b, 0) / sharpes.length;
  const variance =
    sharpes.length < 2 ? 0 : sharpes.reduce((a, s) => a + (s - mean) ** 2, 0) / (sharpes.length - 1);
  const r = chosen.returns;
  return deflatedSharpe({
    sharpe: periodSharpe(r),
    observations: r.count,
    skewness: r.skewness,
    kurtosis: r.kurtosis,
    trials: trials.length,
    trialVariance: variance,
  });
}

/** mean / stdev, 0 when the returns do not vary (a run that never traded). */
function periodSharpe(r: RunMetrics['returns']): number {
  return r.stdev > 0 ? r.mean / r.stdev : 0;
}
