import t from 'tap';
import type { Candle } from '../src/candle.js';
import { createStrategy, strategyNames, strategyParams, strategySpec } from '../src/strategies/registry.js';
import type { Strategy, StrategyAction } from '../src/strategies/strategy.js';
import { StrategyError } from '../src/strategies/strategy-error.js';
import { TurtleStrategy } from '../src/strategies/turtle.js';
import { loadCandles } from './helpers/ohlcv.js';
import { throwsExactly } from './helpers/throws.js';

const ASSETS = ['BTC', 'ETH', 'BNB', 'SOL', 'XRP', 'ADA', 'DOGE'];
const NEW = [
  'rsi-divergence-vwap',
  'bollinger-reversion',
  'turtle',
  'consolidation-pop',
  'nadaraya-watson-reversion',
  'correlation',
  'buy-and-hold',
];
const data = new Map(ASSETS.map((a) => [a, loadCandles(a)]));
/** The correlation strategy follows BTC, except on BTC itself, which follows ETH. */
const leaderOf = (asset: string): string => (asset === 'BTC' ? 'ETH' : 'BTC');
const paramsFor = (name: string, asset: string) =>
  name === 'correlation' ? { leader: `${leaderOf(asset)}/USDT` } : {};

/**
 * Runs a strategy over an asset's candles, the leader's candles delivered just in time: before
 * each traded candle, every input candle that opened before it and was not delivered yet.
 */
function run(strategy: Strategy, asset: string, length = Infinity): (StrategyAction | null)[] {
  const candles = data.get(asset)!.slice(0, length);
  const leader = leaderOf(asset);
  const inputs = strategy.inputs?.length ? data.get(leader)! : [];
  let next = 0;
  return candles.map((c) => {
    for (; next < inputs.length && inputs[next]!.time < c.time; next++)
      strategy.onInput!(`${leader}/USDT`, inputs[next]!);
    return strategy.onCandle(c);
  });
}

const count = (actions: (StrategyAction | null)[], a: StrategyAction): number =>
  actions.filter((x) => x === a).length;

/** Whether the actions are buy, sell, buy, sell, ... (nulls aside), starting with a buy. */
function alternates(actions: (StrategyAction | null)[]): boolean {
  let expected: StrategyAction = 'buy';
  for (const a of actions) {
    if (a === null) continue;
    if (a !== expected) return false;
    expected = a === 'buy' ? 'sell' : 'buy';
  }
  return true;
}

t.test('the seven new strategies are registered', async (t) => {
  for (const name of NEW) t.ok(strategyNames().includes(name), name);
});

t.test('over all 7 real files each strategy trades, buys and sells alternating', async (t) => {
  for (const name of NEW) {
    for (const asset of ASSETS) {
      const actions = run(createStrategy(name, paramsFor(name, asset)), asset);
      const buys = count(actions, 'buy');
      const sells = count(actions, 'sell');
      if (name === 'buy-and-hold') {
        t.strictSame([actions[0], buys, sells], ['buy', 1, 0], `${name} ${asset}: one buy, first candle`);
        continue;
      }
      t.ok(buys >= 10 && sells >= 10, `${name} ${asset}: ${buys} buys, ${sells} sells`);
      t.ok(alternates(actions), `${name} ${asset}: buy, sell, buy, ...`);
      t.ok(sells === buys || sells === buys - 1, `${name} ${asset}: at most the last buy is still open`);
    }
  }
});

t.test('a fresh instance over the same candles decides the same', async (t) => {
  for (const name of NEW) {
    const asset = 'SOL';
    const a = run(createStrategy(name, paramsFor(name, asset)), asset);
    const b = run(createStrategy(name, paramsFor(name, asset)), asset);
    t.strictSame(b, a, name);
  }
});

t.test('cutting the future off does not change past actions', async (t) => {
  for (const name of NEW) {
    const asset = 'ADA';
    const full = run(createStrategy(name, paramsFor(name, asset)), asset);
    for (const cut of [1, 500, 7_321, 15_000]) {
      const past = run(createStrategy(name, paramsFor(name, asset)), asset, cut);
      t.strictSame(past, full.slice(0, cut), `${name}: first ${cut} candles`);
    }
  }
});

t.test(
  'correlation: the leader delivered just in time or as early as allowed decides the same',
  async (t) => {
    for (const asset of ['ETH', 'XRP']) {
      const lagger = data.get(asset)!;
      const leader = data.get('BTC')!;
      const justInTime = run(createStrategy('correlation'), asset);
      // As early as the contract allows: every leader candle goes in as soon as the traded candle
      // before it is decided, all at once, before the traded candle that follows it.
      const early = createStrategy('correlation');
      let next = 0;
      const deliverBefore = (time: number) => {
        for (; next < leader.length && leader[next]!.time < time; next++)
          early.onInput!('BTC/USDT', leader[next]!);
      };
      const actions: (StrategyAction | null)[] = [];
      deliverBefore(lagger[0]!.time);
      lagger.forEach((c, i) => {
        actions.push(early.onCandle(c));
        deliverBefore(lagger[i + 1]?.time ?? Infinity);
      });
      t.strictSame(actions, justInTime, `${asset}`);
      t.ok(count(actions, 'buy') > 10);
    }
  },
);

t.test('correlation: candles of a symbol other than the leader change nothing', async (t) => {
  const plain = run(createStrategy('correlation'), 'ETH');
  const s = createStrategy('correlation');
  const noise: Candle = { time: 0, open: 1, high: 1, low: 1, close: 1, volume: 1 };
  const leader = data.get('BTC')!;
  let next = 0;
  const actions = data.get('ETH')!.map((c) => {
    for (; next < leader.length && leader[next]!.time < c.time; next++) {
      s.onInput!('SOL/USDT', { ...noise, time: leader[next]!.time, close: 1 + (next % 7) });
      s.onInput!('BTC/USDT', leader[next]!);
    }
    return s.onCandle(c);
  });
  t.strictSame(actions, plain);
  t.strictSame(s.inputs, ['BTC/USDT']);
});

t.test('every strategy creates by name, reporting its defaults as params', async (t) => {
  for (const name of strategyNames()) {
    const spec = strategySpec(name);
    const defaults = spec.params.parse({});
    const s = createStrategy(name);
    t.equal(s.name, name);
    t.equal(s.version, `${name}/1`);
    t.strictSame({ ...s.params }, defaults, `${name}: params are the defaults`);
    t.strictSame(
      Object.keys(defaults).sort(),
      Object.keys(spec.params.shape).sort(),
      `${name}: every field defaults`,
    );
    for (const [key, field] of Object.entries(spec.params.shape)) {
      t.ok((field as { description?: string }).description, `${name}.${key} is described`);
    }
    t.ok(spec.description.length > 20, `${name} has a description`);
  }
  t.strictSame(
    { ...createStrategy('turtle', { entryPeriod: 55, exitPeriod: 20 }).params },
    {
      entryPeriod: 55,
      exitPeriod: 20,
      atrPeriod: 20,
      stopAtr: 2,
    },
  );
});

const paramsError = (message: string) => ({ name: 'StrategyError', code: 'E_STRATEGY_PARAMS', message });

t.test('bad parameters are an E_STRATEGY_PARAMS naming the field', async (t) => {
  throwsExactly(
    t,
    () => createStrategy('turtle', { entryPeriodd: 20 }),
    paramsError('turtle: (params): Unrecognized key: "entryPeriodd"'),
  );
  throwsExactly(
    t,
    () => createStrategy('bollinger-reversion', { period: '20' }),
    paramsError('bollinger-reversion: period: Invalid input: expected number, received string'),
  );
  throwsExactly(
    t,
    () => createStrategy('bollinger-reversion', { exit: 'lower' }),
    paramsError('bollinger-reversion: exit: Invalid option: expected one of "middle"|"upper"'),
  );
  throwsExactly(
    t,
    () => createStrategy('consolidation-pop', { rangePeriod: 1 }),
    paramsError('consolidation-pop: rangePeriod: Too small: expected number to be >=2'),
  );
  throwsExactly(
    t,
    () => createStrategy('nadaraya-watson-reversion', { multiplier: 21 }),
    paramsError('nadaraya-watson-reversion: multiplier: Too big: expected number to be <=20'),
  );
  throwsExactly(
    t,
    () => createStrategy('rsi-divergence-vwap', { rsiPeriod: 14.5 }),
    paramsError('rsi-divergence-vwap: rsiPeriod: Invalid input: expected int, received number'),
  );
  throwsExactly(
    t,
    () => createStrategy('correlation', { leader: 'btc' }),
    paramsError('correlation: leader: a unified symbol such as BTC/USDT'),
  );
  throwsExactly(
    t,
    () => createStrategy('buy-and-hold', { anything: 1 }),
    paramsError('buy-and-hold: (params): Unrecognized key: "anything"'),
  );
  // Every field of every strategy refuses a value of the wrong type, naming it.
  for (const name of strategyNames()) {
    for (const key of Object.keys(strategySpec(name).params.shape)) {
      let caught: unknown;
      try {
        strategyParams(name, { [key]: [] });
      } catch (err) {
        caught = err;
      }
      t.ok(
        caught instanceof StrategyError &&
          caught.code === 'E_STRATEGY_PARAMS' &&
          caught.message.startsWith(`${name}: ${key}: `),
        `${name}.${key}: ${(caught as Error | undefined)?.message}`,
      );
    }
  }
});

t.test('cross-field rules are checked and named', async (t) => {
  throwsExactly(
    t,
    () => createStrategy('turtle', { entryPeriod: 10, exitPeriod: 20 }),
    paramsError('turtle: exitPeriod must not exceed entryPeriod'),
  );
  throwsExactly(
    t,
    () => createStrategy('rsi-divergence-vwap', { pivotBars: 5, maxPivotGap: 5 }),
    paramsError('rsi-divergence-vwap: pivotBars must be less than maxPivotGap'),
  );
  throwsExactly(
    t,
    () => createStrategy('correlation', { minCorrelation: 0.3, exitCorrelation: 0.3 }),
    paramsError('correlation: exitCorrelation must be less than minCorrelation'),
  );
  // The constructors check exactly as the registry does.
  throwsExactly(
    t,
    () => new TurtleStrategy({ entryPeriod: 10, exitPeriod: 20 }),
    paramsError('turtle: exitPeriod must not exceed entryPeriod'),
  );
  t.equal(createStrategy('turtle', { entryPeriod: 10, exitPeriod: 10 }).params?.['exitPeriod'], 10);
});

t.test('an unknown name is an E_UNKNOWN_STRATEGY listing the known ones', async (t) => {
  throwsExactly(t, () => createStrategy('turtles'), {
    name: 'StrategyError',
    code: 'E_UNKNOWN_STRATEGY',
    message:
      'unknown strategy "turtles"; known: ema-cross-volume, rsi-divergence-vwap, bollinger-reversion, turtle, consolidation-pop, nadaraya-watson-reversion, correlation, buy-and-hold',
  });
});
