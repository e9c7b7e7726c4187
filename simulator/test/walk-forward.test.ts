import t from 'tap';
import {
  signedPercent,
  walkForward,
  walkForwardRanges,
  type ParameterSetResult,
} from '../src/walk-forward.js';
import { windowRange } from '../src/windows.js';
import { throwsExactly } from './helpers/assert.js';

const set = (id: string, inSharpe: number, outSharpe: number, outReturn: number): ParameterSetResult => ({
  id,
  params: { period: Number(id.slice(1)) },
  inSample: { sharpe: inSharpe, totalReturn: inSharpe / 10 },
  outOfSample: { sharpe: outSharpe, totalReturn: outReturn },
});

t.test('picks the best in-sample Sharpe and judges it out of sample alone', async (t) => {
  // p20 would have done best out of sample, but it was not the in-sample best: it is never read.
  const v = walkForward([set('p10', 0.8, 0.5, 0.02), set('p14', 1.4, 0.8, 0.021), set('p20', 1.1, 3, 0.3)]);
  t.equal(v.chosen, 'p14');
  t.strictSame(v.params, { period: 14 });
  t.equal(v.passed, true);
  t.equal(v.inSampleSharpe, 1.4);
  t.equal(v.outOfSampleSharpe, 0.8);
  t.equal(v.outOfSampleReturn, 0.021);
  t.equal(v.candidates, 3);
  t.equal(
    v.reason,
    'p14 chosen in sample (Sharpe 1.40, best of 3) held out of sample: Sharpe 0.80, return +2.1%',
  );
});

t.test('fails when the in-sample best loses money out of sample', async (t) => {
  const v = walkForward([set('p10', 2, -0.3, -0.012), set('p14', 1, 2, 0.2)]);
  t.equal(v.chosen, 'p10');
  t.equal(v.passed, false);
  t.equal(
    v.reason,
    'p10 chosen in sample (Sharpe 2.00, best of 2) did not hold out of sample: Sharpe -0.30, return -1.2%',
  );
});

t.test('a positive return with a negative Sharpe does not pass', async (t) => {
  t.equal(walkForward([set('p1', 1, -0.1, 0.01)]).passed, false);
  t.equal(walkForward([set('p1', 1, 0.1, 0)]).passed, false, 'a flat return is not positive');
});

t.test('ties go to the first set given; NaN never wins', async (t) => {
  t.equal(walkForward([set('p1', NaN, 1, 1), set('p2', 1, 1, 1), set('p3', 1, -1, -1)]).chosen, 'p2');
  throwsExactly(t, () => walkForward([]), { message: 'walkForward: no parameter sets to choose from' });
  throwsExactly(t, () => walkForward([set('p1', NaN, 1, 1)]), {
    message: 'walkForward: every in-sample Sharpe is NaN',
  });
});

t.test('the split: in sample up to where the out-of-sample window starts', async (t) => {
  const end = Date.UTC(2024, 5, 30);
  const { inSample, outOfSample } = walkForwardRanges(end, '6m', '1m');
  t.strictSame(outOfSample, windowRange(end, '1m'));
  t.strictSame(inSample, { start: windowRange(end, '6m').start, end: outOfSample.start });
  throwsExactly(t, () => walkForwardRanges(end, '1m', '1m'), {
    message: 'walkForwardRanges: 1m leaves nothing in sample before the last 1m',
  });
});

t.test('percentages carry their sign', async (t) => {
  t.strictSame([0.021, -0.004, 0, -0.00001].map(signedPercent), ['+2.1%', '-0.4%', '+0.0%', '-0.0%']);
});
