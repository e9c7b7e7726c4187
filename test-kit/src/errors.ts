/** `CODE: message` for a typed error, `Name: message` for any other. */
function describeError(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown };
  return typeof e.code === 'string'
    ? `${e.code}: ${String(e.message)}`
    : `${String((err as Error).name)}: ${String(e.message)}`;
}

/**
 * Runs `fn` and describes how it failed as `CODE: message` (or `accepted` when it did not),
 * so tests can assert exact error codes and messages in one readable line.
 */
export function errorOf(fn: () => unknown): string {
  try {
    fn();
    return 'accepted';
  } catch (err) {
    return describeError(err);
  }
}

/** The same for a promise, or a function returning one. */
export async function rejectionOf(p: Promise<unknown> | (() => Promise<unknown>)): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p);
    return 'accepted';
  } catch (err) {
    return describeError(err);
  }
}
