import t from 'tap';
import {
  EULER_MASCHERONI,
  deflatedSharpe,
  deflatedSharpeOfRuns,
  expectedMaxSharpe,
  inverseNormalCdf,
  normalCdf,
  probabilisticSharpe,
} from '../src/deflated-sharpe.js';
import { returnMoments } from '../src/metrics.js';
import { closeTo as close, throwsExactly } from './helpers/assert.js';

t.test("the paper's worked example gives DSR ≈ 0.9004", async (t) => {
  // Bailey & López de Prado (2014), numerical example: N = 100 trials, annualised SR 2.5 and
  // V[SR_n] 0.5 over 5 years of daily returns (T = 1250), skewness -3, kurtosis 10. De-annualised
  // as the paper does, with 250 days a year: SR = 2.5 / sqrt(250), V = 0.5 / 250.
  const sharpe = 2.5 / Math.sqrt(250);
  const trialVariance = 0.5 / 250;
  const dsr = deflatedSharpe({
    sharpe,
    observations: 1250,
    skewness: -3,
    kurtosis: 10,
    trials: 100,
    trialVariance,
  });
  // E[max SR] = sqrt(0.002) × ((1 - γ) Φ⁻¹(0.99) + γ Φ⁻¹(1 - 1/(100e))) ≈ 0.1132 (1.7894 annualised)
  t.equal(dsr.expectedMaxSharpe.toFixed(4), '0.1132');
  t.equal((dsr.expectedMaxSharpe * Math.sqrt(250)).toFixed(4), '1.7894');
  t.equal(dsr.probability.toFixed(4), '0.9004', 'the paper’s DSR');
  // The same from Python's statistics.NormalDist with the same formulas: 0.9003968344493904.
  close(t, dsr.probability, 0.9003968344493904, 1e-13, 'to double precision');
});

t.test('the normal CDF agrees with reference values', async (t) => {
  // Python: 0.5 * math.erfc(-x / math.sqrt(2))
  const cases: [number, number][] = [
    [0, 0.5],
    [0.5, 0.6914624612740131],
    [-1, 0.15865525393145707],
    [1.96, 0.9750021048517795],
    [-3, 0.0013498980316300957],
    [-5, 2.866515718791946e-7],
    [-10, 7.619853024160593e-24],
    [-37, 5.725571222525139e-300],
  ];
  // Beyond -9 the reference itself is off by x² × 2^-53 (its x / sqrt(2) is rounded).
  for (const [x, p] of cases) close(t, normalCdf(x), p, x < -9 ? 2e-13 : 2e-14, `Φ(${x})`);
  t.equal(normalCdf(Infinity), 1);
  t.equal(normalCdf(-Infinity), 0);
  t.ok(Number.isNaN(normalCdf(NaN)));
});

t.test('the inverse normal CDF agrees with reference values and inverts the CDF', async (t) => {
  // Python: statistics.NormalDist().inv_cdf(p) (Wichura's AS 241)
  const cases: [number, number][] = [
    [0.975, 1.9599639845400536],
    [0.99, 2.3263478740408408],
    [0.01, -2.3263478740408408],
    [0.1, -1.2815515655446008],
    [1e-10, -6.361340902404056],
    [1 - 1e-12, 7.0344869100478356],
    [1e-300, -37.0470962993612],
  ];
  for (const [p, x] of cases) close(t, inverseNormalCdf(p), x, 1e-14, `Φ⁻¹(${p})`);
  t.equal(inverseNormalCdf(0.5), 0);
  t.equal(inverseNormalCdf(0), -Infinity);
  t.equal(inverseNormalCdf(1), Infinity);
  t.ok(Number.isNaN(inverseNormalCdf(1.5)));
  for (let p = 0.001; p < 1; p += 0.0173) close(t, normalCdf(inverseNormalCdf(p)), p, 1e-14, `Φ(Φ⁻¹(${p}))`);
});

t.test('one trial, or trials that do not differ, select nothing: the benchmark is 0', async (t) => {
  t.equal(expectedMaxSharpe(1, 0.5), 0);
  t.equal(expectedMaxSharpe(50, 0), 0);
  t.ok(expectedMaxSharpe(1000, 1) > expectedMaxSharpe(10, 1), 'more trials, higher bar');
  t.equal(EULER_MASCHERONI, 0.5772156649015329);
});

t.test('PSR against 0 of a normal sample is Φ(SR sqrt(T - 1) / sqrt(1 + SR²/2))', async (t) => {
  // Kurtosis 3, skewness 0: 1 - 0 + (3 - 1)/4 SR² = 1 + SR²/2
  const sr = 0.1;
  const expected = normalCdf((0.1 * Math.sqrt(99)) / Math.sqrt(1 + 0.005));
  t.equal(probabilisticSharpe({ sharpe: sr, observations: 100, skewness: 0, kurtosis: 3 }, 0), expected);
  throwsExactly(t, () => probabilisticSharpe({ sharpe: sr, observations: 1, skewness: 0, kurtosis: 3 }, 0), {
    message: 'probabilisticSharpe: need T >= 2, got 1',
  });
});

t.test('from run metrics: per-period Sharpe ratios and their sample variance', async (t) => {
  const runs = [
    [0.01, -0.005, 0.02, 0.0, 0.004, -0.01, 0.012],
    [0.002, -0.001, -0.003, 0.001, 0.0, 0.002, -0.002],
    [-0.01, 0.02, -0.015, 0.005, 0.01, -0.02, 0.03],
  ].map((r) => ({ returns: returnMoments(r, 8766) }));
  const srs = runs.map((r) => r.returns.mean / r.returns.stdev);
  const mean = (srs[0]! + srs[1]! + srs[2]!) / 3;
  const variance = srs.reduce((a, s) => a + (s - mean) ** 2, 0) / 2;
  const chosen = runs[0]!;
  const expected = deflatedSharpe({
    sharpe: srs[0]!,
    observations: 7,
    skewness: chosen.returns.skewness,
    kurtosis: chosen.returns.kurtosis,
    trials: 3,
    trialVariance: variance,
  });
  t.strictSame(deflatedSharpeOfRuns(chosen, runs), expected);
});
