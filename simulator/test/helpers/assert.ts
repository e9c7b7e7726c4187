import type { Test } from 'tap';

/**
 * Asserts `fn` throws with exactly this message (and code and name, when given): tap's own
 * `t.throws` matches messages as substrings, which would let a changed message pass.
 */
export function throwsExactly(
  t: Test,
  fn: () => unknown,
  expected: { message: string; code?: string; name?: string },
): void {
  try {
    fn();
  } catch (err) {
    const e = err as Error & { code?: unknown };
    const actual: Record<string, unknown> = { message: e.message };
    if (expected.code !== undefined) actual['code'] = e.code;
    if (expected.name !== undefined) actual['name'] = e.name;
    t.strictSame(actual, { ...expected }, `throws ${expected.message}`);
    return;
  }
  t.fail(`expected to throw: ${expected.message}`);
}

/** Equal to a relative 1e-12: for figures computed in another order than the test writes them. */
export function near(t: Test, actual: number | null, expected: number, what: string): void {
  const ok = actual !== null && Math.abs(actual - expected) <= 1e-12 * Math.max(1, Math.abs(expected));
  t.ok(ok, `${what}: ${actual} ≈ ${expected}`);
}

/** Equal to within `relative` of the expected value. */
export function closeTo(t: Test, actual: number, expected: number, relative: number, what: string): void {
  t.ok(Math.abs(actual - expected) <= relative * Math.abs(expected), `${what}: ${actual} vs ${expected}`);
}
