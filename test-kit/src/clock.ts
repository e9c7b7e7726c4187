/**
 * A clock that moves only when told: `now()` for code that takes a clock, `sleep(ms)` for code
 * that pauses (it advances the clock and resolves at once), `advance(ms)` for the test itself.
 * Starts at a fixed time so results never depend on the machine's clock.
 */
export interface ManualClock {
  now(): number;
  advance(ms: number): number;
  sleep(ms: number): Promise<void>;
  /** Every pause asked for through `sleep`, in order. */
  readonly sleeps: number[];
}

export function manualClock(start = 1_700_000_000_000): ManualClock {
  let t = start;
  const sleeps: number[] = [];
  const advance = (ms: number): number => {
    if (!(Number.isFinite(ms) && ms >= 0)) throw new RangeError(`a clock cannot move by ${ms} ms`);
    t += ms;
    return t;
  };
  return {
    now: () => t,
    advance,
    sleep(ms) {
      sleeps.push(ms);
      advance(ms);
      return Promise.resolve();
    },
    sleeps,
  };
}
