import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { REPO_ROOT, errorOf, rejectionOf, requireTool } from '@appliance/test-kit';
import { checkHaproxyConfig, renderHaproxyConfig } from '../src/index.js';
import { makeCert } from './fixtures.js';

const hasTools = requireTool('haproxy', 'haproxy') && requireTool('openssl', 'openssl');
if (!hasTools) t.comment('haproxy or openssl is not installed: apt-get install haproxy openssl');
const skip = hasTools ? false : 'haproxy or openssl is not installed';

/** Lines of a rendered config, trimmed, without comments: what HAProxy actually reads. */
const settings = (cfg: string) =>
  cfg
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));

t.test('rendered configs pass haproxy -c', { skip }, async (t) => {
  const { pemFile, dir } = makeCert(t);
  const socket = join(dir, 'admin.sock');
  const one = { gateways: [{ name: 'gw-1', host: '10.0.0.11', port: 8080 }], tls: { certFile: pemFile } };

  t.test('defaults', async (t) => {
    // Under a limit that holds it, the default maxConn (fd-limit.test.ts: under a lower one).
    const cfg = renderHaproxyConfig(one, { fdLimit: { limit: 1_048_576, source: 'test' }, threads: 2 });
    await checkHaproxyConfig(cfg);
    const s = settings(cfg);
    for (const line of [
      'log stdout format raw local0',
      'maxconn 20000',
      'stats socket /run/haproxy/admin.sock mode 600 level admin',
      'ssl-default-bind-options ssl-min-ver TLSv1.2 no-tls-tickets',
      'mode http',
      'timeout connect 5000ms',
      'timeout client 30000ms',
      'timeout server 30000ms',
      'timeout http-request 10000ms',
      'timeout tunnel 300000ms',
      'timeout client-fin 10000ms',
      `bind 0.0.0.0:443 ssl crt ${pemFile} ssl-min-ver TLSv1.2 alpn http/1.1`,
      'stick-table type ip size 100k expire 30s store conn_rate(10s),conn_cur',
      'tcp-request connection track-sc0 src',
      'tcp-request connection reject if { sc_conn_cur(0) gt 5 }',
      'tcp-request connection reject if { sc_conn_rate(0) gt 10 }',
      'http-request deny deny_status 404 unless { method GET } { path / } { hdr(upgrade) -i websocket }',
      'balance leastconn',
      'option httpchk',
      'http-check send meth GET uri /healthz ver HTTP/1.1 hdr Host haproxy-check',
      'http-check expect status 200',
      'server gw-1 10.0.0.11:8080 check inter 2000ms fall 3 rise 2 on-marked-down shutdown-sessions send-proxy-v2',
    ])
      t.ok(s.includes(line), line);
    t.notOk(
      s.some((l) => l.startsWith('user ')),
      'no user switch unless runAs is given',
    );
    t.ok(
      cfg.split('\n').every((l) => l.length <= 200 || l.includes('ssl-default-bind-cipher')),
      'readable lines',
    );
  });

  t.test('several gateways, IPv6 and host names among them, in the order given', async (t) => {
    const cfg = renderHaproxyConfig({
      gateways: [
        { name: 'gw-1', host: '127.0.0.1', port: 8081 },
        { name: 'gw-2', host: '::1', port: 8082 },
        { name: 'gw-3', host: 'localhost', port: 8083 },
      ],
      tls: { certFile: pemFile },
      stats: { socket },
    });
    await checkHaproxyConfig(cfg);
    t.same(
      settings(cfg).filter((l) => l.startsWith('server ')),
      [
        'server gw-1 127.0.0.1:8081 check inter 2000ms fall 3 rise 2 on-marked-down shutdown-sessions send-proxy-v2',
        'server gw-2 [::1]:8082 check inter 2000ms fall 3 rise 2 on-marked-down shutdown-sessions send-proxy-v2',
        'server gw-3 localhost:8083 check inter 2000ms fall 3 rise 2 on-marked-down shutdown-sessions send-proxy-v2',
      ],
    );
  });

  t.test('proxyProtocol off: no PROXY header is sent', async (t) => {
    const cfg = renderHaproxyConfig({ ...one, proxyProtocol: false });
    await checkHaproxyConfig(cfg);
    t.notMatch(cfg, /send-proxy/);
    t.ok(
      settings(cfg).includes(
        'server gw-1 10.0.0.11:8080 check inter 2000ms fall 3 rise 2 on-marked-down shutdown-sessions',
      ),
    );
  });

  t.test('tight limits and short timeouts', async (t) => {
    const cfg = renderHaproxyConfig({
      ...one,
      limits: { maxConnPerSource: 1, connRatePerSourcePer10s: 1, maxConn: 1 },
      timeouts: {
        connectMs: 1,
        clientMs: 1,
        serverMs: 1,
        tunnelMs: 1,
        clientFinMs: 1,
        httpRequestMs: 1,
        healthCheckIntervalMs: 100,
      },
    });
    await checkHaproxyConfig(cfg);
    const s = settings(cfg);
    for (const line of [
      'maxconn 1',
      'tcp-request connection reject if { sc_conn_cur(0) gt 1 }',
      'tcp-request connection reject if { sc_conn_rate(0) gt 1 }',
      'timeout tunnel 1ms',
    ])
      t.ok(s.includes(line), line);
  });

  t.test('an IPv6 listener tracks IPv6 sources; runAs drops privileges', async (t) => {
    const cfg = renderHaproxyConfig({
      ...one,
      bind: { host: '::', port: 8443 },
      runAs: { user: 'nobody', group: 'nogroup' },
    });
    await checkHaproxyConfig(cfg);
    const s = settings(cfg);
    for (const line of [
      `bind [::]:8443 ssl crt ${pemFile} ssl-min-ver TLSv1.2 alpn http/1.1`,
      'stick-table type ipv6 size 100k expire 30s store conn_rate(10s),conn_cur',
      'user nobody',
      'group nogroup',
    ])
      t.ok(s.includes(line), line);
  });
});

t.test(
  'the tunnel deployment: no TLS inside WireGuard, a deny list, a public enrolment frontend',
  { skip },
  async (t) => {
    const { pemFile, dir } = makeCert(t);
    const denyFile = join(dir, 'denied.lst');
    writeFileSync(denyFile, '');
    const cfg = renderHaproxyConfig({
      gateways: [{ name: 'gw-1', host: '10.77.0.1', port: 8080 }],
      bind: { host: '10.77.0.1', port: 8443 },
      tls: false,
      denyList: { file: denyFile },
      enrolment: {
        bind: { host: '0.0.0.0', port: 443 },
        tls: { certFile: pemFile },
        controlServer: { host: '127.0.0.1', port: 8080 },
      },
      stats: { socket: join(dir, 'admin.sock') },
    });
    await checkHaproxyConfig(cfg);
    const s = settings(cfg);
    for (const line of [
      'bind 10.77.0.1:8443',
      `acl denied_src src -f ${denyFile}`,
      'tcp-request connection reject if denied_src',
      'http-request set-header X-Forwarded-Proto http',
      'frontend fe_enrol',
      `bind 0.0.0.0:443 ssl crt ${pemFile} ssl-min-ver TLSv1.2 alpn http/1.1`,
      'http-request deny deny_status 404 unless { method POST } { url /enrol /renew /rotate }',
      'server control 127.0.0.1:8080',
    ])
      t.ok(s.includes(line), line);
    t.notOk(
      s.some((l) => l.startsWith('bind 10.77.0.1') && l.includes('ssl')),
      'no TLS on the tunnel-side frontend',
    );
    t.equal(s.filter((l) => l.startsWith('bind ')).length, 2, 'two frontends, nothing else listens');
    const withoutEnrolment = settings(
      renderHaproxyConfig({
        gateways: [{ name: 'gw-1', host: '10.0.0.11', port: 8080 }],
        tls: { certFile: pemFile },
      }),
    );
    t.notOk(withoutEnrolment.includes('frontend fe_enrol'), 'no enrolment frontend unless described');
    t.notOk(
      withoutEnrolment.some((l) => l.includes('denied_src')),
      'no deny list unless described',
    );
    t.throws(
      () =>
        renderHaproxyConfig({
          gateways: [{ name: 'gw-1', host: '10.0.0.11', port: 8080 }],
          tls: { certFile: pemFile },
          enrolment: { bind: { host: '0.0.0.0', port: 443 }, controlServer: { host: 'x y', port: 1 } },
        }),
      /enrolment\.tls: is required[\s\S]*enrolment\.controlServer\.host/,
    );
  },
);

t.test('checkHaproxyConfig passes on what haproxy prints', { skip }, async (t) => {
  t.equal(
    (await rejectionOf(checkHaproxyConfig('global\n    bogus-directive 1\n'))).split('\n')[0],
    'E_HAPROXY_INVALID: haproxy refused the configuration (exit 1):',
  );
  t.match(
    await rejectionOf(checkHaproxyConfig('global\n    bogus-directive 1\n')),
    /unknown keyword 'bogus-directive' in 'global' section/,
  );
  // A proxy without timeouts is only a warning to haproxy; a rendered config must have none.
  t.match(
    await rejectionOf(checkHaproxyConfig('defaults\n    mode http\nbackend b\n    server s 127.0.0.1:1\n')),
    /^E_HAPROXY_INVALID: [^]*missing timeouts/,
  );
  t.equal(
    await rejectionOf(checkHaproxyConfig('', '/nonexistent/haproxy')),
    'E_HAPROXY_NOT_FOUND: cannot run /nonexistent/haproxy: spawn /nonexistent/haproxy ENOENT',
  );
});

t.test('bad descriptions are refused with every problem named', { skip }, async (t) => {
  const { pemFile, dir } = makeCert(t);
  const certOnly = join(dir, 'cert.pem');
  const gw = (name: string, port = 8080, host = '10.0.0.1') => ({ name, host, port });
  const valid = { gateways: [gw('gw-1')], tls: { certFile: pemFile } };
  const refuse = (input: unknown) => errorOf(() => renderHaproxyConfig(input));
  const E = 'E_CLUSTER: invalid cluster description:\n  - ';

  t.equal(refuse(valid), 'accepted', 'the base case is valid');
  t.equal(
    refuse({ ...valid, gateways: [gw('gw-a', 8080), gw('gw-a', 8081)] }),
    `${E}gateways.1.name: duplicate gateway name "gw-a" (also gateways.0.name)`,
  );
  t.equal(
    refuse({ ...valid, gateways: [gw('gw-a'), gw('gw-b')] }),
    `${E}gateways.1: duplicate gateway address 10.0.0.1:8080 (also gateways.0)`,
  );
  t.equal(refuse({ ...valid, gateways: [] }), `${E}gateways: at least one gateway is needed`);
  t.equal(refuse({ tls: valid.tls }), `${E}gateways: is required`);
  t.equal(
    refuse({ ...valid, gateways: [gw('gw-a', 0), gw('gw-b', 65536), gw('gw-c', 80.5)] }),
    `${E}gateways.0.port: must be a port number from 1 to 65535\n` +
      `  - gateways.1.port: must be a port number from 1 to 65535\n` +
      `  - gateways.2.port: must be a port number from 1 to 65535`,
  );
  t.equal(
    refuse({ ...valid, bind: { port: 70000 } }),
    `${E}bind.port: must be a port number from 1 to 65535`,
  );
  t.equal(
    refuse({ ...valid, tls: { certFile: join(dir, 'missing.pem') } }),
    `${E}tls.certFile: ${join(dir, 'missing.pem')} does not exist`,
  );
  t.equal(
    refuse({ ...valid, tls: { certFile: certOnly } }),
    `${E}tls.certFile: ${certOnly} holds no private key: HAProxy needs certificate and key in one PEM file`,
  );
  t.equal(
    refuse({ ...valid, tls: { certFile: 'site.pem' } }),
    `${E}tls.certFile: certFile must be an absolute path without spaces, quotes, backslashes or #`,
  );
  t.equal(refuse({ gateways: valid.gateways }), `${E}tls: is required ({ certFile } or false)`);
  t.equal(
    refuse({ ...valid, timeouts: { clientMs: 60_000, tunnelMs: 30_000 } }),
    `${E}timeouts.tunnelMs: tunnelMs (30000) must be at least clientMs (60000): WebSockets are long-lived`,
  );
  t.equal(
    refuse({ ...valid, limits: { maxConn: 10, maxConnPerSource: 11 } }),
    `${E}limits.maxConnPerSource: maxConnPerSource (11) must not exceed maxConn (10)`,
  );
  t.equal(
    refuse({ ...valid, gateways: [gw('self', 443, '10.0.0.1')] }),
    `${E}gateways.0: gateway 10.0.0.1:443 is HAProxy's own bind address 0.0.0.0:443`,
  );
  t.equal(
    refuse({ ...valid, stats: { socket: `/run/${'x'.repeat(110)}` } }),
    `${E}stats.socket: a unix socket path is at most 107 bytes`,
  );
  t.equal(refuse({ ...valid, timeout: {} }), `${E}(root): Unrecognized key: "timeout"`);
  t.equal(refuse([]), `${E}(root): a cluster description must be a JSON object`);

  // Values land in haproxy.cfg, where a newline or space would start another setting.
  t.equal(
    refuse({ ...valid, gateways: [gw('gw-1\n    server evil 6.6.6.6:80')] }),
    `${E}gateways.0.name: must be 1 to 32 letters, digits, "_", "." or "-", starting with a letter or digit`,
  );
  t.equal(
    refuse({ ...valid, gateways: [gw('gw-1', 80, '10.0.0.1 backup')] }),
    `${E}gateways.0.host: must be an IPv4 address, an IPv6 address (without brackets) or a host name`,
  );
  t.equal(
    refuse({ ...valid, tls: { certFile: `${pemFile} verify none` } }),
    `${E}tls.certFile: certFile must be an absolute path without spaces, quotes, backslashes or #`,
  );

  t.equal(
    refuse({
      gateways: [gw('a', 0), gw('a', 8080)],
      tls: { certFile: '/nonexistent/site.pem' },
      timeouts: { tunnelMs: 10 },
      proxyProtocol: 'yes',
    }),
    `${E}gateways.0.port: must be a port number from 1 to 65535\n` +
      '  - gateways.1.name: duplicate gateway name "a" (also gateways.0.name)\n' +
      '  - timeouts.tunnelMs: tunnelMs (10) must be at least clientMs (30000): WebSockets are long-lived\n' +
      '  - timeouts.tunnelMs: tunnelMs (10) must be at least serverMs (30000): WebSockets are long-lived\n' +
      '  - proxyProtocol: must be true or false\n' +
      '  - tls.certFile: /nonexistent/site.pem does not exist',
    'every problem at once',
  );
});

t.test('the render command', { skip }, async (t) => {
  const { pemFile, dir } = makeCert(t);
  const cli = (...args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', 'haproxy/src/main.ts', 'render', ...args], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    });
  const clusterFile = (name: string, body: unknown) => {
    const file = join(dir, name);
    writeFileSync(file, JSON.stringify(body));
    return file;
  };
  const good = {
    gateways: [{ name: 'gw-1', host: '127.0.0.1', port: 8081 }],
    tls: { certFile: pemFile },
    stats: { socket: join(dir, 'admin.sock') },
    // Given, so stderr carries no note on a derived maxConn (fd-limit.test.ts tests that).
    limits: { maxConn: 1000 },
  };

  t.test('writes a checked config', async (t) => {
    const out = join(dir, 'ok.cfg');
    const r = cli('--cluster', clusterFile('ok.json', good), '--out', out, '--check');
    t.equal(r.status, 0, r.stderr);
    t.equal(readFileSync(out, 'utf8'), renderHaproxyConfig(good));
    const stdout = cli('--cluster', clusterFile('ok.json', good));
    t.equal(stdout.stdout, renderHaproxyConfig(good), 'without --out it prints the config');
  });

  t.test('a bad description exits 2 and writes nothing', async (t) => {
    const out = join(dir, 'bad.cfg');
    const r = cli('--cluster', clusterFile('bad.json', { ...good, gateways: [] }), '--out', out);
    t.equal(r.status, 2);
    t.equal(
      r.stderr,
      `${join(dir, 'bad.json')}: invalid cluster description:\n  - gateways: at least one gateway is needed\n`,
    );
    t.notOk(existsSync(out));
    const notJson = join(dir, 'not.json');
    writeFileSync(notJson, '{');
    const r2 = cli('--cluster', notJson, '--out', out);
    t.equal(r2.status, 2);
    t.equal(r2.stderr, `${notJson}: not valid JSON at line 1 column 2: CloseBraceExpected\n`);
    t.notOk(existsSync(out));
  });

  t.test('a config haproxy refuses exits 5 and writes nothing', async (t) => {
    // Passes our PEM sniffing, but is no certificate: only haproxy -c can tell. Made from this
    // run's own certificate and key (nothing key-shaped is committed), with the certificate's
    // body replaced.
    const fake = join(dir, 'fake.pem');
    writeFileSync(
      fake,
      readFileSync(pemFile, 'utf8').replace(
        /(-----BEGIN CERTIFICATE-----\n)[^-]+(-----END CERTIFICATE-----)/,
        '$1AAAA\n$2',
      ),
    );
    const out = join(dir, 'refused.cfg');
    const r = cli(
      '--cluster',
      clusterFile('fake.json', { ...good, tls: { certFile: fake } }),
      '--out',
      out,
      '--check',
    );
    t.equal(r.status, 5, 'exit 5: haproxy refused it (EXIT.refused)');
    t.match(r.stderr, /^E_HAPROXY_INVALID: haproxy refused the configuration \(exit 1\):\n[^]*fake\.pem/);
    t.notOk(existsSync(out));
  });
});
