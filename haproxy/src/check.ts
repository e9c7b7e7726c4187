import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { HaproxyError } from './errors.js';

/**
 * Where haproxy is: `HAPROXY_BIN`, else PATH, else the sbin folders Debian installs it in
 * (they are not on every user's PATH).
 */
export function findHaproxy(): string | undefined {
  if (process.env.HAPROXY_BIN) return process.env.HAPROXY_BIN;
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin'];
  for (const dir of dirs) {
    if (!dir) continue;
    try {
      accessSync(join(dir, 'haproxy'), constants.X_OK);
      return join(dir, 'haproxy');
    } catch {
      /* not in this folder */
    }
  }
  return undefined;
}

/**
 * Checks a haproxy.cfg with `haproxy -c`. Resolves when HAProxy accepts it; otherwise throws a
 * HaproxyError whose message includes what HAProxy printed. Warnings count as failures (`-dW`):
 * a rendered config has no reason to carry one. The certificate and every path in the config
 * are read as HAProxy would read them at start.
 */
export async function checkHaproxyConfig(text: string, haproxy = findHaproxy()): Promise<void> {
  if (!haproxy)
    throw new HaproxyError('E_HAPROXY_NOT_FOUND', 'haproxy is not installed: apt-get install haproxy');
  const dir = await mkdtemp(join(tmpdir(), 'haproxy-check-'));
  try {
    const file = join(dir, 'haproxy.cfg');
    await writeFile(file, text, { mode: 0o600 });
    const { code, output, error } = await new Promise<{
      code: number | null;
      output: string;
      error?: NodeJS.ErrnoException;
    }>((resolve) =>
      execFile(haproxy, ['-c', '-dW', '-f', file], { timeout: 30_000 }, (err, stdout, stderr) => {
        const e = err as (NodeJS.ErrnoException & { code?: unknown }) | null;
        resolve({
          code: e ? (typeof e.code === 'number' ? e.code : null) : 0,
          output: `${stdout}${stderr}`.trim(),
          ...(e && typeof e.code === 'string' ? { error: e } : {}),
        });
      }),
    );
    if (error)
      throw new HaproxyError('E_HAPROXY_NOT_FOUND', `cannot run ${haproxy}: ${error.message}`, '', {
        cause: error,
      });
    if (code !== 0)
      throw new HaproxyError(
        'E_HAPROXY_INVALID',
        `haproxy refused the configuration (exit ${code}):\n${output}`,
        output,
      );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
