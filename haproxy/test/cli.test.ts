// `haproxy render`'s options (issue #9): each a flag and a variable; a bad one exits 2 naming both.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { EXIT } from '@appliance/runtime';
import { hasStackTrace, cliRunner, helpNamesEveryOption } from '@appliance/test-kit';

const OPTIONS: [string, string][] = [
  ['--cluster', 'HAPROXY_CLUSTER'],
  ['--out', 'HAPROXY_OUT'],
  ['--check', 'HAPROXY_CHECK'],
  ['--fd-limit', 'HAPROXY_FD_LIMIT'],
];
const run = cliRunner('haproxy/src/main.ts', OPTIONS, { args: ['render'] });
const dir = mkdtempSync(join(tmpdir(), 'haproxy-cli-'));

t.test('--help lists every option with its environment variable', async (t) => {
  const { status, missing } = helpNamesEveryOption(run, OPTIONS);
  t.equal(status, EXIT.ok);
  t.same(missing, [], 'every option with its variable');
});

t.test('bad options exit 2 naming the flag and the variable, without a stack trace', async (t) => {
  const r = run([], { HAPROXY_CHECK: 'maybe' });
  t.equal(r.status, EXIT.config);
  t.equal(
    r.stderr,
    [
      'invalid haproxy render configuration:',
      '  - cluster (--cluster, HAPROXY_CLUSTER): required: the cluster description (JSON, see README.md)',
      '  - check (--check, HAPROXY_CHECK): Invalid input: expected boolean, received string',
      '',
    ].join('\n'),
  );
  const unknown = run(['--clusterr', 'x.json']);
  t.equal(unknown.status, EXIT.config, 'a usage error is exit 2 too');
  t.notOk(hasStackTrace(unknown.stderr));
});

t.test('HAPROXY_CLUSTER is honoured, and --cluster wins over it', async (t) => {
  const notJson = join(dir, 'not.json');
  writeFileSync(notJson, '{');
  const env = run([], { HAPROXY_CLUSTER: notJson });
  t.equal(env.status, EXIT.config);
  // Read by runtime's config reader, as every config file: its messages.
  t.equal(env.stderr, `${notJson}: not valid JSON at line 1 column 2: CloseBraceExpected\n`);
  const flag = run(['--cluster', join(dir, 'nope.json')], { HAPROXY_CLUSTER: notJson });
  t.equal(flag.status, EXIT.config);
  t.equal(flag.stderr, `${join(dir, 'nope.json')}: cannot be read (ENOENT)\n`);
  const list = join(dir, 'list.json');
  writeFileSync(list, '[]');
  t.equal(run(['--cluster', list]).stderr, `${list}: not a JSON object\n`);
  const bad = run(['--cluster', list, '--fd-limit', 'lots']);
  t.equal(bad.status, EXIT.config);
  t.match(bad.stderr, /fdLimit \(--fd-limit, HAPROXY_FD_LIMIT\): /);
});
