import t from 'tap';
import { strategyNames, strategyParams, type StrategyParams } from '@appliance/trading-core';
import { DEFAULT_VARIANT, gridAround, paramGrid } from '../src/param-grid.js';

t.test('ema-cross-volume: the defaults, then each period halved and doubled', async (t) => {
  const grid = paramGrid('ema-cross-volume');
  t.strictSame(
    grid.map((g) => [g.variant, g.params]),
    [
      ['default', { fastPeriod: 12, slowPeriod: 26, volumePeriod: 20 }],
      ['fastPeriod*0.5', { fastPeriod: 6, slowPeriod: 26, volumePeriod: 20 }],
      ['fastPeriod*2', { fastPeriod: 24, slowPeriod: 26, volumePeriod: 20 }],
      ['slowPeriod*0.5', { fastPeriod: 12, slowPeriod: 13, volumePeriod: 20 }],
      ['slowPeriod*2', { fastPeriod: 12, slowPeriod: 52, volumePeriod: 20 }],
      ['volumePeriod*0.5', { fastPeriod: 12, slowPeriod: 26, volumePeriod: 10 }],
      ['volumePeriod*2', { fastPeriod: 12, slowPeriod: 26, volumePeriod: 40 }],
    ],
  );
});

t.test('every set of every strategy is one its spec accepts, and no set is tried twice', async (t) => {
  for (const name of strategyNames()) {
    const grid = paramGrid(name);
    t.equal(grid[0]!.variant, DEFAULT_VARIANT, `${name}: defaults first`);
    t.strictSame(grid[0]!.params, strategyParams(name), `${name}: the defaults are the registry's`);
    for (const g of grid)
      t.strictSame(strategyParams(name, g.params), g.params, `${name} ${g.variant} accepted`);
    const distinct = new Set(grid.map((g) => JSON.stringify(g.params)));
    t.equal(distinct.size, grid.length, `${name}: ${grid.length} distinct sets`);
  }
  t.equal(paramGrid('buy-and-hold').length, 1, 'a strategy without periods is one trial');
});

t.test('a variant the spec refuses is dropped, not clamped; one equal to the defaults once', async (t) => {
  const defaults: StrategyParams = { fast: 10, slow: 12, minBars: 1, multiplier: 2 };
  // Refuses fast >= slow, as ema-cross-volume's cross-field rule does.
  const accept = (p: Record<string, unknown>) =>
    (p['fast'] as number) < (p['slow'] as number) ? (p as StrategyParams) : null;
  t.strictSame(
    gridAround(defaults, accept).map((g) => g.variant),
    // fast*2 = 20 >= 12 and slow*0.5 = 6 <= 10 are refused; minBars*0.5 rounds back to 1, the
    // defaults; `fast` and `slow` do not end in period, bars or window, `multiplier` is no period.
    ['default', 'minBars*2'],
  );
  const periods = { fastPeriod: 10, slowPeriod: 12 };
  t.strictSame(
    gridAround(periods, (p) =>
      (p['fastPeriod'] as number) < (p['slowPeriod'] as number) ? (p as StrategyParams) : null,
    ).map((g) => g.variant),
    ['default', 'fastPeriod*0.5', 'slowPeriod*2'],
  );
});
