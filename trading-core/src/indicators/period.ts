/** Every indicator's window is a whole number of samples; anything else is a caller's bug. */
export function assertPeriod(indicator: string, period: number): void {
  if (!Number.isSafeInteger(period) || period < 1) {
    throw new RangeError(`${indicator}: period must be a positive integer, got ${period}`);
  }
}

/** A NaN or Infinity would poison every later value of a running indicator, so refuse it at the door. */
export function assertSample(indicator: string, x: number): void {
  if (!Number.isFinite(x)) throw new RangeError(`${indicator}: value must be a finite number, got ${x}`);
}

/** Batch forms read parallel series (high, low, close...): a length mismatch is a caller's bug. */
export function assertSameLength(where: string, names: string, ...series: Float64Array[]): void {
  const n = series[0]!.length;
  if (series.some((s) => s.length !== n))
    throw new RangeError(`${where}: ${names} differ in length (${series.map((s) => s.length).join(', ')})`);
}

/** A bar's high, low and close: finite, and the close within the bar (ATR, ADX). */
export function assertBar(where: string, bar: { high: number; low: number; close: number }): void {
  // One test on the way through (finite bounds and the close between them make the close finite
  // too); the reasons, whose calls would box the prices, only on the failing path.
  const high = bar.high;
  const low = bar.low;
  const close = bar.close;
  if (!(Number.isFinite(high) && Number.isFinite(low) && low <= close && close <= high))
    refuseBar(where, bar);
}

function refuseBar(where: string, bar: { high: number; low: number; close: number }): void {
  assertSample(where, bar.high);
  assertSample(where, bar.low);
  assertSample(where, bar.close);
  if (!(bar.low <= bar.close && bar.close <= bar.high))
    throw new RangeError(
      `${where}: low <= close <= high does not hold (${bar.low}, ${bar.close}, ${bar.high})`,
    );
}

// Engine note, for every class here: a field TypeScript declares without a value (`readonly
// period: number;`) is created as undefined and only then set by the constructor, so V8 keeps it
// as a generic tagged field; code comparing with it then boxes doubles it merges with undefined
// (a 16-byte heap number per read of a getter such as `value`). Declaring it `= 0` keeps it a
// plain number field and the per-step path allocation-free (test/no-allocation.test.ts).
//
// Boolean fields are tested as `this.#ready === true` (or `!== true`), never bare: V8 keeps a
// field that has held both true and false as a tagged field of no known type, so a bare
// `if (this.#ready)` compiles to JavaScript's whole truthiness test (false, 0, the empty string,
// undetectable objects, heap numbers, bigints: some ten instructions and five branches), where
// `=== true` is one comparison. A getter returns `this.#ready === true` for the same reason, so
// its caller branches on a known boolean. In the backtest's per-candle path (three indicator
// steps and their getters) the bare tests were about a tenth of the time.
