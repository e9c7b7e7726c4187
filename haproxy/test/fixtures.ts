import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { makeTestCert, type TestCert } from '@appliance/test-kit';

export { freePort } from '@appliance/test-kit';

/** A throwaway certificate in a temp folder removed at teardown. */
export function makeCert(t: Test): TestCert & { dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'haproxy-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return { dir, ...makeTestCert(dir) };
}
