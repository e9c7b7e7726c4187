/**
 * docs/configuration.md documents every option of every server process: for each option its
 * `--help` names (flag, variable, config key), the process's section has a table row naming all
 * three, and each secret its help lists has a row too. A new option without docs fails here.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { REPO_ROOT, runCli } from '@appliance/test-kit';

const DOC = readFileSync(join(REPO_ROOT, 'docs/configuration.md'), 'utf8');

/** The doc's `## Heading` sections by heading. */
const sections = new Map(
  DOC.split(/^## /m)
    .slice(1)
    .map((s) => [s.slice(0, s.indexOf('\n')).trim(), s] as const),
);

const PROCESSES: [heading: string, entry: string, args: string[]][] = [
  ['Control server', 'control-server/src/main.ts', []],
  ['Paper exchange', 'paper-exchange/src/main.ts', []],
  ['Gateway', 'gateway/src/main.ts', []],
  ['Datafeed', 'datafeed-node/src/main.ts', []],
  ['HAProxy renderer', 'haproxy/src/main.ts', ['render']],
];

interface HelpOption {
  flag: string;
  env: string;
  key?: string;
}

/** Every option `--help` lists with its variable (and config key), `--config` and `--help` aside. */
function helpOptions(help: string): { options: HelpOption[]; secrets: string[] } {
  const flat = help.replace(/\s+/g, ' ');
  const options = [
    ...flat.matchAll(/(--[a-z][a-z-]*)(?: <[^>]+>)? .*?\(env: ([A-Z0-9_]+)\)(?: \(config: ([A-Za-z]+)\))?/g),
  ]
    .map((m) => ({ flag: m[1]!, env: m[2]!, key: m[3] }))
    .filter((o) => o.flag !== '--config');
  const only = help.split(/Environment only:/)[1]?.split(/\n\n/)[0] ?? '';
  const secrets = [...only.matchAll(/^ {2}([A-Z0-9_]+) /gm)].map((m) => m[1]!);
  return { options, secrets };
}

for (const [heading, entry, args] of PROCESSES) {
  t.test(`${heading}: every option of --help has its row in docs/configuration.md`, async (t) => {
    const section = sections.get(heading);
    if (!t.ok(section, `a "## ${heading}" section`)) return;
    const r = runCli(entry, [...args, '--help']);
    t.equal(r.status, 0, r.stderr);
    const { options, secrets } = helpOptions(r.stdout);
    t.ok(options.length >= 3, `${options.length} options read from --help`);
    const rows = section!.split('\n').filter((l) => l.startsWith('|'));
    for (const o of options) {
      const row = rows.find(
        (l) => l.includes(`\`${o.env}\``) && l.includes(o.flag) && (!o.key || l.includes(`\`${o.key}\``)),
      );
      t.ok(row, `${o.flag} (${o.env}${o.key ? `, config ${o.key}` : ''}) is documented`);
    }
    for (const s of secrets)
      t.ok(
        rows.some((l) => l.includes(`\`${s}\``) && l.includes(`${s}_FILE`)),
        `the secret ${s} (and ${s}_FILE) is documented`,
      );
  });
}
