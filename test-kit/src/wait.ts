/**
 * Waits until `pred` holds, polling. A bounded wait for something that happens on another
 * socket or process, not a timing assertion: the timeout only stops a broken test hanging.
 */
export async function waitFor(
  pred: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 30_000,
  everyMs = 20,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
