import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** The host's unit folder, copied into a test root so After=/Wants=/WantedBy= targets resolve. */
const HOST_UNITS = '/usr/lib/systemd/system';

/**
 * A root folder as a machine will have it, for `systemd-analyze --root=ROOT`: each unit byte for
 * byte in /etc/systemd/system, a stub executable at each path an ExecStart names (systemd-analyze
 * checks it exists and may be run) and the host's targets. Removed when the test ends.
 */
export function unitRoot(
  t: { teardown(fn: () => void): void },
  units: Record<string, string | Buffer>,
  executables: string[],
): string {
  const root = mkdtempSync(join(tmpdir(), 'unit-root-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'etc/systemd/system'), { recursive: true });
  for (const [name, text] of Object.entries(units))
    writeFileSync(join(root, 'etc/systemd/system', name), text);
  for (const exe of executables) {
    mkdirSync(join(root, dirname(exe)), { recursive: true });
    writeFileSync(join(root, exe), '#!/bin/sh\n');
    chmodSync(join(root, exe), 0o755);
  }
  cpSync(HOST_UNITS, join(root, HOST_UNITS), { recursive: true });
  return root;
}

/** Runs systemd-analyze; `out` is stdout and stderr together, trimmed. */
export function systemdAnalyze(args: string[]): { status: number | null; out: string } {
  const r = spawnSync('systemd-analyze', args, { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}`.trim() };
}

/** `Key=value` lines of a unit (comments and sections dropped), every value of a key in order. */
export function unitDirectives(text: string): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (m) map.set(m[1]!, [...(map.get(m[1]!) ?? []), m[2]!]);
  }
  return map;
}
