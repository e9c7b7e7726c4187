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
