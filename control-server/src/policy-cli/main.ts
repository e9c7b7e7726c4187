#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { AdminCliError, adminTarget, callApi, runAdminCli, tokenOption, urlOption } from '../cli-admin.js';

/**
 * `npm run policy -- <command>`: spending policy versions per profile from a terminal: list,
 * show, set (a new version from a JSON file), diff and rollback. Documented in
 * control-server/README.md (## Spending policies).
 */
const program = new Command('policy')
  .description('spending policy versions per profile (family, beta, mandate:<id>, house)')
  .exitOverride()
  .showHelpAfterError();

interface Conn {
  url: string;
  tokenFile?: string;
}
const at = (ms: unknown) => (typeof ms === 'number' ? new Date(ms).toISOString().replace('.000Z', 'Z') : '—');
const seg = (profile: string) => encodeURIComponent(profile).replace(/%3A/g, ':');
const print = (v: unknown) => void process.stdout.write(`${JSON.stringify(v, null, 2)}\n`);
const line = (v: Record<string, unknown>) =>
  `${String(v.profile)} v${String(v.version)} ${at(v.createdAt)} by ${String(v.by)}` +
  (v.rolledBackFrom !== null && v.rolledBackFrom !== undefined
    ? ` (rollback to v${String(v.rolledBackFrom)})`
    : '') +
  (v.note ? ` — ${String(v.note)}` : '');

const withConn = (c: Command) => c.addOption(urlOption()).addOption(tokenOption());

withConn(program.command('list').description('every profile and its latest version')).action(
  async (o: Conn) => {
    const r = await callApi(adminTarget(o), 'GET', '/api/policies');
    for (const v of r.profiles as Record<string, unknown>[]) process.stdout.write(`${line(v)}\n`);
  },
);

withConn(
  program
    .command('show')
    .description("a profile's versions, or one version's policy")
    .argument('<profile>')
    .option('--version <n>', 'print this version (JSON)'),
).action(async (profile: string, o: Conn & { version?: string }) => {
  const t = adminTarget(o);
  if (o.version !== undefined)
    return print(
      (await callApi(t, 'GET', `/api/policies/${seg(profile)}/${encodeURIComponent(o.version)}`)).policy,
    );
  const r = await callApi(t, 'GET', `/api/policies/${seg(profile)}`);
  for (const v of r.versions as Record<string, unknown>[]) process.stdout.write(`${line(v)}\n`);
});

withConn(
  program
    .command('set')
    .description('a new version from a JSON policy file: validated, stored, signed and published')
    .argument('<profile>')
    .requiredOption('--file <file>', 'the policy, as JSON')
    .option('--note <text>', 'why, kept with the version')
    .option('--operator <name>', 'who sets it'),
).action(async (profile: string, o: Conn & { file: string; note?: string; operator?: string }) => {
  let policy: unknown;
  try {
    policy = JSON.parse(readFileSync(o.file, 'utf8'));
  } catch (err) {
    throw new AdminCliError(
      'E_USAGE',
      `--file ${o.file}: not a readable JSON file (${(err as Error).message.slice(0, 120)})`,
    );
  }
  const v = await callApi(adminTarget(o), 'POST', `/api/policies/${seg(profile)}`, {
    policy,
    ...(o.note && { note: o.note }),
    ...(o.operator && { operator: o.operator }),
  });
  process.stdout.write(`published ${line(v)}\n`);
});

withConn(
  program
    .command('diff')
    .description('what changed between two versions, field by field')
    .argument('<profile>')
    .argument('<from>')
    .argument('<to>'),
).action(async (profile: string, from: string, to: string, o: Conn) => {
  const q = new URLSearchParams({ from, to });
  const r = await callApi(adminTarget(o), 'GET', `/api/policies/${seg(profile)}/diff?${q}`);
  const changes = r.changes as { path: string; from?: unknown; to?: unknown }[];
  if (changes.length === 0) return void process.stdout.write(`v${from} and v${to} are the same\n`);
  const show = (v: unknown) => (v === undefined ? '(absent)' : JSON.stringify(v));
  for (const c of changes) process.stdout.write(`${c.path}: ${show(c.from)} -> ${show(c.to)}\n`);
});

withConn(
  program
    .command('rollback')
    .description("publishes an earlier version's content again, as a new version")
    .argument('<profile>')
    .requiredOption('--to <n>', 'the version whose content to publish')
    .option('--operator <name>', 'who rolls back'),
).action(async (profile: string, o: Conn & { to: string; operator?: string }) => {
  const to = Number(o.to);
  if (!Number.isInteger(to) || to < 1)
    throw new AdminCliError('E_USAGE', `--to ${o.to}: a version number, 1 or more`);
  const v = await callApi(adminTarget(o), 'POST', `/api/policies/${seg(profile)}/rollback`, {
    to,
    ...(o.operator && { operator: o.operator }),
  });
  process.stdout.write(`published ${line(v)}\n`);
});

await runAdminCli(program, 'policy');
