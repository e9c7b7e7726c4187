import type { Test } from 'tap';

export interface ExpectedError {
  name?: string;
  code?: string;
  message: string;
}

/**
 * Asserts `fn` throws an error with exactly this message (and name and code, when given).
 * tap's own `t.throws` matches messages as substrings, which would let a changed message pass.
 */
export function throwsExactly(t: Test, fn: () => unknown, expected: ExpectedError): void {
  let caught: unknown = undefined;
  let threw = false;
  try {
    fn();
  } catch (err) {
    caught = err;
    threw = true;
  }
  if (!threw || !(caught instanceof Error)) {
    t.fail(`expected to throw: ${expected.message}`);
    return;
  }
  const err = caught as Error & { code?: unknown };
  const actual: Record<string, unknown> = { message: err.message };
  if (expected.name !== undefined) actual['name'] = err.name;
  if (expected.code !== undefined) actual['code'] = err.code;
  t.strictSame(actual, { ...expected }, `throws ${expected.message}`);
}

export const rangeError = (message: string): ExpectedError => ({ name: 'RangeError', message });
