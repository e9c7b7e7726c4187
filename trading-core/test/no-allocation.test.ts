// Bytes allocated per step by every incremental indicator (update, update + replace, and the
// getters a caller reads) and every registered strategy's onCandle, measured in a child process
// on optimised code (helpers/allocation-probe.ts says how). No timing is involved.
//
// The probe can fail: two deliberate allocators (an object per step; a small array every 256
// steps) must be caught. Cases at zero must stay at zero. The rest still allocate V8 heap
// numbers (a double merged with `undefined`, or passed through a call the engine does not
// inline, is boxed in 16 bytes), none of them an object of ours: each has a ceiling a few bytes
// above what it allocates today, so any new per-step allocation (16 bytes or more) fails, and a
// case that reaches zero must move to ZERO.
import t from 'tap';
import { createStrategy, strategyNames } from '../src/strategies/registry.js';
import { incrementalIndicators, probeAllocations } from './helpers/allocation-probe.js';

/** Fewer bytes than this over the probe's N steps is no allocation per step (the array stub allocates ~12 kB). */
const NONE = 1024;

/** Measured with Node 20 (V8 11.3), bytes per step, still heap numbers to remove: the ceiling is this + 8. */
const BOXING: Record<string, number> = {
  'Sma update + replace + value': 32,
  // 0 when measured alone or before Sma's cases (`probeAllocations('^VolumeAverage')`). After
  // them, the methods the two classes share have seen both, and the engine boxes the mean that
  // `update` and `value` work out when read (the Sma stores no mean on a push, which spares a
  // division on every candle of a strategy that reads it only at a cross; the strategies that
  // use it below still allocate nothing).
  'VolumeAverage update + value': 32,
  'VolumeAverage update + replace + value': 32,
  'Ema update + replace + value': 32,
  'WilderAverage update + replace + value': 32,
  'Rsi update + value': 32,
  'Rsi update + replace + value': 32,
  'Atr update + value': 32,
  'Atr update + replace + value': 32,
  'Adx update + adx, plusDi, minusDi, dx': 48,
  'Adx update + replace + adx, plusDi, minusDi, dx': 96,
  'Donchian update + upper, lower, middle': 57,
  'Donchian update + replace + upper, lower, middle': 57,
  'Bollinger update + middle, upper, lower, stdDev': 80,
  'Bollinger update + replace + middle, upper, lower, stdDev': 80,
  'Macd update + macd, signal, histogram': 176,
  'Macd update + replace + macd, signal, histogram': 240,
  'SessionVwap update + value': 16,
  'SessionVwap update + replace + value': 16,
  'RollingVwap update + value': 32,
  'RollingVwap update + replace + value': 48,
  'NadarayaWatson update + estimate, upper, lower': 64,
  'NadarayaWatson update + replace + estimate, upper, lower': 64,
  // Each at 0 when measured alone (`probeAllocations('turtle|consol')`); after the indicator
  // cases have run in the same process, the engine compiles their per-candle path differently
  // (Donchian's getters no longer inlined into onCandle).
  'strategy turtle': 83,
  'strategy consolidation-pop': 73,
};

const results = probeAllocations();
const perStep = (r: { bytes: number; steps: number }) => (r.bytes / r.steps).toFixed(2);

t.test('the probe catches an allocation per step, and one every 256 steps', async (t) => {
  const stubs = results.filter((r) => r.kind === 'stub');
  t.equal(stubs.length, 2);
  for (const r of stubs) {
    t.equal(r.collections, 0, `${r.name}: no collection hid anything`);
    t.ok(r.bytes >= NONE, `${r.name}: ${r.bytes} bytes over ${r.steps} steps (${perStep(r)}/step) is caught`);
  }
});

t.test('every incremental indicator and every registered strategy is measured', async (t) => {
  const indicators = new Set(results.filter((r) => r.kind === 'indicator').map((r) => r.subject));
  t.strictSame([...indicators].sort(), [...incrementalIndicators(), 'trueRange'].sort());
  const strategies = results.filter((r) => r.kind === 'strategy');
  t.strictSame(
    strategies.map((r) => r.subject),
    strategyNames(),
  );
  for (const r of strategies) {
    t.ok(r.buys > 0, `${r.subject} bought ${r.buys} times: its trading path ran`);
    // Strategies with inputs got them through onInput on every step.
    if ((createStrategy(r.subject).inputs ?? []).length > 0) t.ok(r.sells > 0, `${r.subject} sold too`);
  }
  for (const name of Object.keys(BOXING))
    t.ok(
      results.some((r) => r.name === name),
      `${name} is a case`,
    );
});

t.test(
  'no indicator step and no strategy candle allocates more than it did (most allocate nothing)',
  async (t) => {
    for (const r of results.filter((r) => r.kind !== 'stub')) {
      t.equal(r.collections, 0, `${r.name}: no collection during a measured run`);
      const boxing = BOXING[r.name];
      if (boxing === undefined) t.ok(r.bytes < NONE, `${r.name}: ${r.bytes} bytes over ${r.steps} steps`);
      else {
        t.ok(
          r.bytes <= (boxing + 8) * r.steps,
          `${r.name}: ${perStep(r)} bytes/step, at most ${boxing + 8} (heap numbers, no objects)`,
        );
        t.ok(r.bytes >= NONE, `${r.name} allocates nothing now: move it out of BOXING`);
      }
    }
  },
);
