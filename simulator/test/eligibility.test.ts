import t from 'tap';
import {
  DEFAULT_ELIGIBILITY_RULE,
  EligibilityRule,
  EligibilityState,
  decideEligibility,
  type EligibilityInput,
  type EligibilityState as State,
  type WindowResult,
} from '../src/eligibility.js';

const win = (ret: number, hold: number, drawdown = 0.1, candles = 1000, expected = 1000): WindowResult => ({
  candles,
  expected,
  metrics: { totalReturn: ret, maxDrawdown: drawdown, buyAndHold: { totalReturn: hold } },
});

/** Passes the default rule: 3 of 4 windows beaten, drawdowns under 25%, DSR 0.97, walk-forward held. */
const passing = (): EligibilityInput => ({
  stream: 'ema-cross.1h',
  symbol: 'BTC/USDT',
  windows: {
    '1m': win(0.021, -0.004, 0.05),
    '3m': win(0.05, 0.01, 0.08),
    '6m': win(-0.01, 0.03, 0.123),
    '1y': win(0.2, 0.1, 0.11),
  },
  deflatedSharpe: 0.97,
  walkForward: { passed: true, reason: 'p14 held out of sample' },
});

/** Fails the default rule mildly: only 2 of 4 windows beaten, nothing beyond the margins. */
const mildFail = (): EligibilityInput => ({
  ...passing(),
  windows: { ...passing().windows, '3m': win(0.005, 0.01, 0.08) },
});

const eligible: State = { eligible: true, passes: 5, fails: 0 };

t.test('the default rule, passing, with every figure in the reason', async (t) => {
  const d = decideEligibility(passing(), DEFAULT_ELIGIBILITY_RULE, eligible);
  t.equal(d.eligible, true);
  t.equal(d.passed, true);
  t.equal(
    d.reason,
    'eligible: beat buy-and-hold on 3 of 4 windows, need 3 (1m +2.1% vs -0.4%, 3m +5.0% vs +1.0%, ' +
      '6m -1.0% vs +3.0% (not positive), 1y +20.0% vs +10.0%); max drawdown 12.3% (6m) < 25% on every window; ' +
      'deflated Sharpe 0.970 ≥ 0.95; walk-forward: p14 held out of sample',
  );
  t.strictSame(d.state, { eligible: true, passes: 6, fails: 0 });
  t.equal(d.stream, 'ema-cross.1h');
  t.equal(d.symbol, 'BTC/USDT');
});

t.test('the defaults of the rule', async (t) => {
  t.strictSame(DEFAULT_ELIGIBILITY_RULE, {
    minWindowsBeaten: 3,
    maxDrawdown: 0.25,
    drawdownOn: 'every',
    minDeflatedSharpe: 0.95,
    requireWalkForward: true,
    minCandleShare: 0.8,
    passesToGain: 2,
    failsToLose: 2,
    margin: { windows: 1, drawdown: 0.05, deflatedSharpe: 0.1 },
  });
  t.throws(() => EligibilityRule.parse({ maxDrawdown: 2 }), 'a drawdown limit over 100% is refused');
  t.throws(() => EligibilityRule.parse({ minWindowsBeaten: 3, typo: 1 }), 'unknown options are refused');
});

t.test('each check fails with its own reason', async (t) => {
  const rule = DEFAULT_ELIGIBILITY_RULE;
  const check = (input: EligibilityInput, name: string) => {
    const d = decideEligibility(input, rule, null);
    return d.checks.find((c) => c.name === name)!;
  };

  const behind = { ...passing(), windows: { ...passing().windows, '1y': win(0.05, 0.1) } };
  const windows = check(behind, 'windows');
  t.equal(windows.passed, false);
  t.match(windows.text, /^beat only buy-and-hold on 2 of 4 windows, need 3 \(/);
  t.match(windows.text, /1y \+5\.0% vs \+10\.0% \(behind buy-and-hold\)/);

  const deep = { ...passing(), windows: { ...passing().windows, '3m': win(0.05, 0.01, 0.27) } };
  t.strictSame(check(deep, 'drawdown'), {
    name: 'drawdown',
    passed: false,
    clear: false,
    text: 'max drawdown 27.0% (3m) ≥ 25% on every window',
  });

  t.strictSame(check({ ...passing(), deflatedSharpe: 0.9 }, 'deflated-sharpe'), {
    name: 'deflated-sharpe',
    passed: false,
    clear: false,
    text: 'deflated Sharpe 0.900 < 0.95',
  });
  t.equal(
    check({ ...passing(), deflatedSharpe: null }, 'deflated-sharpe').text,
    'deflated Sharpe not computed',
  );

  const wf = check(
    { ...passing(), walkForward: { passed: false, reason: 'p10 did not hold out of sample' } },
    'walk-forward',
  );
  t.strictSame(wf, {
    name: 'walk-forward',
    passed: false,
    clear: false,
    text: 'walk-forward: p10 did not hold out of sample',
  });
  t.equal(check({ ...passing(), walkForward: null }, 'walk-forward').text, 'walk-forward not run');
});

t.test('checks can be switched off and thresholds moved', async (t) => {
  const rule = EligibilityRule.parse({
    minDeflatedSharpe: null,
    requireWalkForward: false,
    maxDrawdown: 0.1,
    drawdownOn: '1y',
  });
  const input = { ...passing(), deflatedSharpe: null, walkForward: null };
  const d = decideEligibility(input, rule, eligible);
  t.equal(d.passed, false, '1y drawdown 11% is over 10%');
  t.match(
    d.reason,
    /max drawdown 11\.0% \(1y\) ≥ 10% on the 1y window; deflated Sharpe not required; walk-forward not required$/,
  );
  const relaxed = EligibilityRule.parse({
    minDeflatedSharpe: null,
    requireWalkForward: false,
    drawdownOn: '1y',
  });
  t.equal(decideEligibility(input, relaxed, eligible).passed, true);
});

t.test('a window short of candles is insufficient, a fail, and says so', async (t) => {
  // 80% of 8760 expected is 7008; 7000 is short.
  const input = { ...passing(), windows: { ...passing().windows, '1y': win(0.2, 0.1, 0.11, 7000, 8760) } };
  const d = decideEligibility(input, DEFAULT_ELIGIBILITY_RULE, null);
  const windows = d.checks.find((c) => c.name === 'windows')!;
  t.equal(windows.passed, false);
  t.match(
    windows.text,
    /beat only buy-and-hold on 2 of 4 windows, need 3 \(.*1y insufficient data \(7000 of 8760 candles, need 7008\)\)$/,
  );
  const enough = { ...passing(), windows: { ...passing().windows, '1y': win(0.2, 0.1, 0.11, 7008, 8760) } };
  t.equal(
    decideEligibility(enough, DEFAULT_ELIGIBILITY_RULE, null).checks[0]!.passed,
    true,
    '7008 is enough',
  );
  const none = {
    ...passing(),
    windows: { ...passing().windows, '1m': { candles: 0, expected: 720, metrics: null } },
  };
  t.match(
    decideEligibility(none, DEFAULT_ELIGIBILITY_RULE, null).reason,
    /1m insufficient data \(0 of 720 candles, need 576\)/,
  );
});

t.test('an ineligible asset needs two passing runs in a row', async (t) => {
  const first = decideEligibility(passing(), DEFAULT_ELIGIBILITY_RULE, null);
  t.equal(first.eligible, false);
  t.match(first.reason, /^not yet eligible \(passed 1 of 2 runs needed\): beat buy-and-hold/);
  const second = decideEligibility(passing(), DEFAULT_ELIGIBILITY_RULE, first.state);
  t.equal(second.eligible, true);
  t.match(second.reason, /^became eligible after 2 passing runs: /);
});

t.test('an eligible asset loses it after two failing runs in a row', async (t) => {
  const first = decideEligibility(mildFail(), DEFAULT_ELIGIBILITY_RULE, eligible);
  t.equal(first.eligible, true);
  t.equal(first.passed, false);
  t.match(
    first.reason,
    /^still eligible \(failed 1 of 2 runs before it is lost\): beat only buy-and-hold on 2 of 4/,
  );
  const second = decideEligibility(mildFail(), DEFAULT_ELIGIBILITY_RULE, first.state);
  t.equal(second.eligible, false);
  t.match(second.reason, /^lost eligibility after 2 failing runs: /);
  const third = decideEligibility(mildFail(), DEFAULT_ELIGIBILITY_RULE, second.state);
  t.match(third.reason, /^not eligible: /);
});

t.test('a fail beyond the margin takes eligibility away at once', async (t) => {
  const crash = { ...passing(), windows: { ...passing().windows, '1m': win(0.021, -0.004, 0.31) } };
  const d = decideEligibility(crash, DEFAULT_ELIGIBILITY_RULE, eligible);
  t.equal(d.eligible, false);
  t.match(d.reason, /^lost eligibility at once \(failed by more than the margin: drawdown\): /);
  const dsr = decideEligibility({ ...passing(), deflatedSharpe: 0.84 }, DEFAULT_ELIGIBILITY_RULE, eligible);
  t.equal(dsr.eligible, false, 'DSR 0.84 < 0.95 - 0.1');
  const oneWindow = {
    ...passing(),
    windows: { ...passing().windows, '3m': win(-0.1, 0.01), '1y': win(0.05, 0.1) },
  };
  t.match(
    decideEligibility(oneWindow, DEFAULT_ELIGIBILITY_RULE, eligible).reason,
    /^lost eligibility at once \(failed by more than the margin: windows\)/,
    '1 of 4 < 3 - 1',
  );
  const within = { ...passing(), windows: { ...passing().windows, '1m': win(0.021, -0.004, 0.3) } };
  t.equal(
    decideEligibility(within, DEFAULT_ELIGIBILITY_RULE, eligible).eligible,
    true,
    '30% is within the margin',
  );
});

t.test('alternating pass and fail does not flicker', async (t) => {
  for (const start of [null, eligible]) {
    let state: State | null = start;
    const seen = new Set<boolean>();
    for (let run = 0; run < 10; run++) {
      const d = decideEligibility(run % 2 === 0 ? passing() : mildFail(), DEFAULT_ELIGIBILITY_RULE, state);
      seen.add(d.eligible);
      state = d.state;
    }
    t.strictSame(
      [...seen],
      [start !== null],
      `stays ${start === null ? 'ineligible' : 'eligible'} for ten runs`,
    );
  }
});

t.test('the counts are configurable', async (t) => {
  const rule = EligibilityRule.parse({ passesToGain: 1, failsToLose: 3 });
  t.equal(decideEligibility(passing(), rule, null).eligible, true, 'one pass is enough');
  let state: State = eligible;
  const eligibleAfter = [1, 2, 3].map(() => {
    const d = decideEligibility(mildFail(), rule, state);
    state = d.state;
    return d.eligible;
  });
  t.strictSame(eligibleAfter, [true, true, false]);
});

t.test('the state is plain JSON that survives a round trip', async (t) => {
  const d = decideEligibility(passing(), DEFAULT_ELIGIBILITY_RULE, null);
  const restored = EligibilityState.parse(JSON.parse(JSON.stringify(d.state)));
  t.strictSame(restored, d.state);
  t.equal(decideEligibility(passing(), DEFAULT_ELIGIBILITY_RULE, restored).eligible, true);
});
