// maxConn against the open-files limit: HAProxy asks for 2 × maxconn + a few file descriptors at
// start and refuses to start without them, which `haproxy -c` does not check. The renderer
// checks it (a maxConn that cannot start is refused, exit 2) and, when maxConn is not given,
// derives it from the limit, so the default starts on this machine.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { EXIT } from '@appliance/runtime';
import { errorOf, requireTool, runCli, waitFor } from '@appliance/test-kit';
import {
  checkHaproxyConfig,
  haproxyFdNeed,
  haproxyThreads,
  planMaxConn,
  readFdLimit,
  renderHaproxy,
  startHaproxy,
  type Cluster,
} from '../src/index.js';
import { freePort, makeCert } from './fixtures.js';

const hasTools = requireTool('haproxy', 'haproxy') && requireTool('openssl', 'openssl');
const skip = hasTools ? false : 'haproxy or openssl is not installed';

const gateways = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ name: `gw-${i}`, host: '10.0.0.1', port: 8080 + i }));
const limits = (maxConn?: number): Cluster['limits'] => ({
  maxConnPerSource: 5,
  connRatePerSourcePer10s: 10,
  ...(maxConn === undefined ? {} : { maxConn }),
});
const LIMIT = (limit: number) => ({ limit, source: 'the test limit' });

t.test('the file descriptors HAProxy 2.6 asks for (measured: see fd-limit.ts)', async (t) => {
  // HAProxy said "Cannot raise FD limit to 40030" for maxconn 20000, 2 servers, 2 threads.
  t.equal(haproxyFdNeed({ maxConn: 20_000, gateways: 2, threads: 2 }), 40_030);
  t.equal(haproxyFdNeed({ maxConn: 9_990, gateways: 2, threads: 8 }), 20_028);
  t.equal(haproxyFdNeed({ maxConn: 20_000, gateways: 10, threads: 2 }), 40_038);
});

t.test(
  'a maxConn above the limit is refused naming limits.maxConn, the need, the limit and the fix',
  async (t) => {
    const cluster = { gateways: gateways(2), limits: limits(20_000) };
    t.equal(
      errorOf(() => planMaxConn(cluster, LIMIT(20_000), 2)),
      'E_CLUSTER: invalid cluster description:\n' +
        '  - limits.maxConn: 20000 connections need 40030 file descriptors in HAProxy (2 x maxConn + 30), ' +
        'but it may have 20000 (the test limit): HAProxy would refuse to start ("Cannot raise FD limit"), ' +
        'which haproxy -c does not check. Lower limits.maxConn to at most 9985, or raise the open-files ' +
        'limit HAProxy starts with (LimitNOFILE= in its systemd unit, or ulimit -n)',
    );
    const most = planMaxConn({ ...cluster, limits: limits(9_985) }, LIMIT(20_000), 2);
    t.match(most, { maxConn: 9_985, derived: false, fdNeed: 20_000 }, 'exactly the limit is taken');
    t.match(most.note, /^maxconn 9985, from limits\.maxConn: needs 20000 file descriptors/);
    t.match(planMaxConn(cluster, null, 2), { maxConn: 20_000 }, 'an unknown limit is not checked');
  },
);

t.test('without maxConn, it is derived from the limit, and the note says so', async (t) => {
  const low = planMaxConn({ gateways: gateways(2), limits: limits() }, LIMIT(20_000), 2);
  t.match(low, { maxConn: 9_900, derived: true, fdNeed: 19_830 });
  t.match(low.note, /^maxconn 9900, derived from the open-files limit: limits\.maxConn is not given/);
  t.match(low.note, /the default 20000 would need 40030 file descriptors \(2 x maxConn \+ 30\)/);
  t.match(low.note, /HAProxy may have 20000 \(the test limit\)/);
  const high = planMaxConn({ gateways: gateways(2), limits: limits() }, LIMIT(1_048_576), 2);
  t.match(high, { maxConn: 20_000, derived: true }, 'the default when the limit allows it');
  t.match(high.note, /^maxconn 20000, the default \(limits\.maxConn is not given\): needs 40030/);
  t.equal(
    errorOf(() => planMaxConn({ gateways: gateways(2), limits: limits() }, LIMIT(100), 2)),
    'E_CLUSTER: invalid cluster description:\n' +
      '  - limits.maxConn: not given, and HAProxy may have only 100 file descriptors (the test limit), ' +
      'room for 0 connections (2 x maxConn + 30), fewer than limits.maxConnPerSource (5): raise the ' +
      'open-files limit HAProxy starts with (LimitNOFILE= in its systemd unit, or ulimit -n)',
  );
});

t.test('the limit of this process is read from /proc', async (t) => {
  const here = readFdLimit();
  if (!here) return void t.comment('no /proc/self/limits here');
  t.ok(here.limit >= 1, `limit ${here.limit}: ${here.source}`);
  const fake = mkdtempSync(join(tmpdir(), 'fd-limit-'));
  const write = (cap: string) => {
    mkdirs(fake);
    writeFileSync(
      join(fake, 'self/limits'),
      'Limit                     Soft Limit           Hard Limit           Units     \n' +
        'Max open files            1024                 20000                files     \n',
    );
    writeFileSync(join(fake, 'self/status'), `Name:\tnode\nCapEff:\t${cap}\n`);
    writeFileSync(join(fake, 'sys/fs/nr_open'), '1048576\n');
  };
  write('000001fffeffffff'); // this container: everything but CAP_SYS_RESOURCE
  t.match(
    readFdLimit(fake),
    { limit: 20_000, source: /hard open-files limit/ },
    'the hard limit, not the soft',
  );
  write('000001ffffffffff');
  t.match(
    readFdLimit(fake),
    { limit: 1_048_576, source: /^fs\.nr_open/ },
    'with CAP_SYS_RESOURCE: fs.nr_open',
  );
});

function mkdirs(root: string) {
  for (const d of ['self', 'sys/fs']) mkdirSync(join(root, d), { recursive: true });
}

t.test('the default renders, passes haproxy -c and starts on this machine', { skip }, async (t) => {
  const cert = makeCert(t);
  const port = await freePort();
  const cluster = {
    gateways: [
      { name: 'gw-a', host: '127.0.0.1', port: await freePort() },
      { name: 'gw-b', host: '127.0.0.1', port: await freePort() },
    ],
    bind: { host: '127.0.0.1', port },
    tls: { certFile: cert.pemFile },
    stats: { socket: join(cert.dir, 'admin.sock') },
  };
  const { text, maxConn } = renderHaproxy(cluster);
  t.ok(maxConn.derived, maxConn.note);
  t.match(text, new RegExp(`\\n    maxconn ${maxConn.maxConn}\\n`));
  t.match(text, /# maxconn \d+, /, 'the choice and its reason are in a comment');
  await checkHaproxyConfig(text);
  const haproxy = await startHaproxy(cluster, cert.dir);
  t.teardown(() => haproxy.stop());
  let info = '';
  await waitFor(async () => {
    info = await haproxy.admin('show info').catch(() => '');
    return /^Maxsock:/m.test(info);
  }, 'HAProxy to answer on its stats socket');
  const field = (name: string) => Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(info)?.[1]);
  t.equal(field('Maxconn'), maxConn.maxConn, 'HAProxy runs with the derived maxconn');
  t.equal(
    field('Maxsock'),
    haproxyFdNeed({ maxConn: maxConn.maxConn, gateways: 2, threads: haproxyThreads() }),
    'and asked for exactly the file descriptors the rule says',
  );
  t.ok(field('Ulimit-n') >= field('Maxsock'), `its limit (${field('Ulimit-n')}) holds them`);
});

t.test('the render command refuses a maxConn the limit cannot hold (exit 2)', async (t) => {
  const cert = makeCert(t);
  const file = join(cert.dir, 'cluster.json');
  writeFileSync(
    file,
    // A comment, as runtime's config reader allows.
    `// two gateways\n${JSON.stringify({ gateways: gateways(2), tls: { certFile: cert.pemFile }, limits: { maxConn: 20000 } })}`,
  );
  const r = runCli('haproxy/src/main.ts', ['render', '--cluster', file, '--fd-limit', '20000']);
  t.equal(r.status, EXIT.config);
  t.match(
    r.stderr,
    new RegExp(
      `^${file}: invalid cluster description:\\n  - limits\\.maxConn: 20000 connections need 400\\d\\d file descriptors in HAProxy .*but it may have 20000 \\(given with --fd-limit or HAPROXY_FD_LIMIT\\).*Lower limits\\.maxConn to at most 99\\d\\d, or raise the open-files limit HAProxy starts with \\(LimitNOFILE= in its systemd unit, or ulimit -n\\)\\n$`,
    ),
  );
  t.equal(r.stdout, '', 'nothing rendered');

  writeFileSync(file, JSON.stringify({ gateways: gateways(2), tls: { certFile: cert.pemFile } }));
  const derived = runCli('haproxy/src/main.ts', ['render', '--cluster', file], { HAPROXY_FD_LIMIT: '20000' });
  t.equal(derived.status, EXIT.ok, derived.stderr);
  t.match(
    derived.stderr,
    /^maxconn 9\d00, derived from the open-files limit: .*HAProxy may have 20000 \(given with/,
  );
  t.match(derived.stdout, /\n {4}maxconn 9\d00\n/);
});
