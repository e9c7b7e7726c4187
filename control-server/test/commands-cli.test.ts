// `npm run fleet` and `npm run policy` as processes against a control server in this process.
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { REPO_ROOT, hasStackTrace } from '@appliance/test-kit';
import { DEFAULT_FAMILY_POLICY } from '@appliance/trading-core';
import { ADMIN, setup } from './helpers.js';

/** Runs a CLI without blocking this process's event loop (the server answers it from here). */
function cli(entry: string, args: string[], env: Record<string, string> = {}) {
  return new Promise<{ status: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', join(REPO_ROOT, entry), ...args],
      { cwd: REPO_ROOT, env: { ...process.env, CONTROL_ADMIN_TOKEN: ADMIN, ...env }, timeout: 60_000 },
      (err, stdout, stderr) =>
        resolve({ status: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}
const fleet = (args: string[], env?: Record<string, string>) =>
  cli('control-server/src/fleet-cli/main.ts', args, env);
const policy = (args: string[]) => cli('control-server/src/policy-cli/main.ts', args);

t.test('npm run fleet: issue, confirm, status; errors exit with their code in one line', async (t) => {
  const { url, call } = await setup(t);
  await call('POST', '/api/devices', { id: 'dev-a' });
  const issued = await fleet(['flat', '--target', 'all', '--reason', 'unwind', '--url', url]);
  t.equal(issued.status, 0, issued.stderr);
  const id = /issued (cmd-[a-z0-9]+)/.exec(issued.stdout)?.[1];
  t.ok(id, issued.stdout);
  t.match(issued.stdout, `npm run fleet -- confirm ${id}`);
  const confirmed = await fleet(['confirm', String(id), '--url', url]);
  t.equal(confirmed.status, 0, confirmed.stderr);
  t.match(confirmed.stdout, /confirmed cmd-.*\n {2}dev-a: offline\n/);
  const again = await fleet(['confirm', String(id), '--url', url]);
  t.equal(again.status, 5);
  t.match(again.stderr, /^fleet: POST \/api\/commands\/cmd-[a-z0-9]+\/confirm: 409 E_COMMAND_CONFIRMED /);
  t.notOk(hasStackTrace(again.stderr));
  const status = await fleet(['status', '--url', url]);
  t.match(status.stdout, `${id} `);
  t.match(status.stdout, '1 offline');
  const unknown = await fleet(['halt', '--target', 'device:ghost-device', '--reason', 'x', '--url', url]);
  t.equal(unknown.status, 5);
  t.match(unknown.stderr, 'E_UNKNOWN_TARGET');
  const noToken = await fleet(['status', '--url', url], { CONTROL_ADMIN_TOKEN: '' });
  t.equal(noToken.status, 2);
  t.match(noToken.stderr, 'fleet: the admin token: give --token-file FILE or set CONTROL_ADMIN_TOKEN');
});

t.test('npm run policy: set, list, show, diff, rollback', async (t) => {
  const { url } = await setup(t);
  const dir = mkdtempSync(join(tmpdir(), 'policy-cli-'));
  const file = join(dir, 'p.json');
  writeFileSync(file, JSON.stringify({ ...DEFAULT_FAMILY_POLICY, maxSpendPerDay: 300 }));
  const set = await policy(['set', 'family', '--file', file, '--note', 'smaller', '--url', url]);
  t.equal(set.status, 0, set.stderr);
  t.match(set.stdout, /^published family v2 .* — smaller\n$/);
  t.match((await policy(['list', '--url', url])).stdout, /^family v2 /);
  t.match(
    (await policy(['show', 'family', '--version', '1', '--url', url])).stdout,
    '"maxSpendPerDay": 1000',
  );
  t.equal((await policy(['diff', 'family', '1', '2', '--url', url])).stdout, 'maxSpendPerDay: 1000 -> 300\n');
  t.match((await policy(['rollback', 'family', '--to', '1', '--url', url])).stdout, '(rollback to v1)');
  writeFileSync(file, JSON.stringify({ ...DEFAULT_FAMILY_POLICY, orderQuote: 'lots' }));
  const bad = await policy(['set', 'family', '--file', file, '--url', url]);
  t.equal(bad.status, 5);
  t.match(bad.stderr, 'E_POLICY_INVALID policy.orderQuote');
});
