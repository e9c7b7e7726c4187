/**
 * The device's TLS to HAProxy (`gatewayTls`), against a real TLS endpoint: a `tls` server with a
 * test CA's certificate that relays each connection to the real gateway's plain-ws port, as
 * HAProxy does. Pinning the right CA (or the self-signed certificate itself) connects and trades;
 * a wrong CA, a wrong fingerprint or a name the certificate does not carry is refused with one
 * error line saying what to fix, and never 'connected'. Bad values exit 2 naming the field.
 */
import { readFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer } from 'node:tls';
import pino from 'pino';
import t, { type Test } from 'tap';
import { ConfigError, EXIT, parseConfig } from '@appliance/runtime';
import {
  hasStackTrace,
  makeSignedTestCert,
  makeTestCa,
  makeTestCert,
  runCli,
  waitFor,
} from '@appliance/test-kit';
import { GatewayConnection } from '../src/gateway-connection.js';
import {
  ClientConfig,
  createBinanceExecutor,
  createSignalClient,
  loadGatewayTls,
  openStateStore,
} from '../src/index.js';
import { logLines } from './fake-gateway.js';
import { startStack } from './stack.js';

const dir = mkdtempSync(join(tmpdir(), 'gateway-tls-'));
const write = (name: string, text: string) => {
  writeFileSync(join(dir, name), text);
  return join(dir, name);
};
// HAProxy's certificate, issued by a private CA, for two names and no IP address.
const ca = makeTestCa(dir, 'haproxy-ca');
const haproxy = makeSignedTestCert(dir, ca, 'DNS:localhost,DNS:gateway.example', 'haproxy');
const caFile = write('gateway-ca.pem', ca.certPem);
const otherCaFile = write('other-ca.pem', makeTestCa(dir, 'other-ca').certPem);
// A self-signed certificate (for localhost and 127.0.0.1), as a small HAProxy may use.
const selfSigned = makeTestCert(dir);
const selfSignedFile = write('self-signed.pem', selfSigned.certPem);

const stack = await startStack(t);
const gatewayPort = Number(new URL((await stack.deviceConfig('dev-x', 'x')).gatewayUrl).port);

/** A TLS endpoint that relays to the gateway's plain-ws port: HAProxy's job, in twenty lines. */
async function tlsProxy(t: Test, key: string, cert: string): Promise<number> {
  const sockets = new Set<Socket>();
  const server = createTlsServer({ key, cert }, (client) => {
    const up = netConnect(gatewayPort, '127.0.0.1');
    for (const s of [client, up]) {
      sockets.add(s);
      s.on('error', () => s.destroy());
      s.on('close', () => sockets.delete(s));
    }
    client.pipe(up).pipe(client);
  });
  server.on('tlsClientError', () => undefined); // the refusals under test
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  return (server.address() as { port: number }).port;
}

const caPort = await tlsProxy(t, haproxy.keyPem, haproxy.certPem);
const selfSignedPort = await tlsProxy(t, readFileSync(selfSigned.pemFile, 'utf8'), selfSigned.certPem);
const haproxyFingerprint = new (await import('node:crypto')).X509Certificate(haproxy.certPem).fingerprint256;

let devices = 0;

/** A device (the real client, trading on the paper exchange) whose log lines are kept. */
async function device(t: Test, config: object) {
  const id = `dev-tls-${++devices}`;
  const log = logLines();
  const logger = pino({ level: 'debug' }, log);
  const stateFile = join(mkdtempSync(join(tmpdir(), 'device-')), 'state.json');
  const parsed = ClientConfig.parse(await stack.deviceConfig(id, stateFile, config));
  const store = await openStateStore(stateFile, id);
  const client = createSignalClient({
    config: parsed,
    store,
    exchange: createBinanceExecutor({ ...stack.account(), paperUrl: stack.paperUrl }),
    logger,
  });
  const decisions: { outcome: string }[] = [];
  client.on('decision', (d: { outcome: string }) => decisions.push(d));
  let caughtUp = 0;
  client.on('caught-up', () => caughtUp++);
  await client.start();
  t.teardown(() => client.stop());
  return { client, log: log.lines, decisions, token: parsed.token, caughtUp: () => caughtUp > 0 };
}

/** Waits for the device's first error line and checks it says what to fix, and that it never connected. */
async function refused(t: Test, d: Awaited<ReturnType<typeof device>>, code: string, fix: RegExp) {
  await waitFor(() => d.log.some((l) => l.level === 50), 'an error line');
  const errors = d.log.filter((l) => l.level >= 50);
  t.equal(errors.length, 1, 'one error line');
  t.match(errors[0], { level: 50, tls: code, times: 1 });
  t.match(errors[0]!.msg, new RegExp(`^TLS with the gateway at wss://\\S+ failed: ${code} `));
  t.match(errors[0]!.msg, fix, 'says what to fix');
  t.notOk(
    d.log.some((l) => l.msg === 'connected to gateway'),
    'never connected',
  );
  t.equal(d.client.connected, false);
  t.match(d.client.runtime(), { connected: false, gatewayProblem: errors[0]!.msg });
  t.notOk(JSON.stringify(d.log).includes(d.token), 'the token is never logged');
}

t.test('caFile pinned to the CA of HAProxy: the device connects and acts on a signal', async (t) => {
  const d = await device(t, { gatewayUrl: `wss://localhost:${caPort}`, gatewayTls: { caFile } });
  await waitFor(d.caughtUp, 'caught up over TLS');
  t.match(
    d.log.find((l) => l.msg === 'connected to gateway'),
    { level: 30, url: `wss://localhost:${caPort}` },
  );
  await stack.signal('buy', 40_000);
  await waitFor(() => d.decisions.length === 1, 'a decision');
  t.equal(d.decisions[0]!.outcome, 'executed');
  t.notOk(
    d.log.some((l) => l.level >= 50),
    'no error',
  );
});

t.test(
  'caFile pinned to a self-signed certificate itself connects; without it, the fix is said',
  async (t) => {
    const good = await device(t, {
      gatewayUrl: `wss://127.0.0.1:${selfSignedPort}`,
      gatewayTls: { caFile: selfSignedFile },
    });
    await waitFor(good.caughtUp, 'caught up over TLS');

    const bad = await device(t, { gatewayUrl: `wss://localhost:${selfSignedPort}` });
    await refused(
      t,
      bad,
      'DEPTH_ZERO_SELF_SIGNED_CERT',
      /set gatewayTls\.caFile to that certificate \(docs\/device-config\.md#gatewaytls\)$/,
    );
  },
);

t.test('caFile of another CA, or the system roots, refuse HAProxy with the fix', async (t) => {
  const other = await device(t, {
    gatewayUrl: `wss://localhost:${caPort}`,
    gatewayTls: { caFile: otherCaFile },
  });
  await refused(
    t,
    other,
    'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    /not signed by the certificate in gatewayTls\.caFile: set gatewayTls\.caFile to HAProxy's CA or certificate \(docs\/device-config\.md#gatewaytls\)/,
  );

  const roots = await device(t, { gatewayUrl: `wss://localhost:${caPort}` });
  await refused(
    t,
    roots,
    'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    /set gatewayTls\.caFile to HAProxy's CA or certificate/,
  );
});

t.test(
  "certSha256: HAProxy's fingerprint connects (any case, colons optional); another refuses",
  async (t) => {
    const good = await device(t, {
      gatewayUrl: `wss://localhost:${caPort}`,
      gatewayTls: { caFile, certSha256: haproxyFingerprint.replace(/:/g, '').toLowerCase() },
    });
    await waitFor(good.caughtUp, 'caught up with the pin');

    const bad = await device(t, {
      gatewayUrl: `wss://localhost:${caPort}`,
      gatewayTls: { caFile, certSha256: 'ab:'.repeat(31) + 'ab' },
    });
    await refused(t, bad, 'E_GATEWAY_CERT_PIN', /is not the pinned one: .*gatewayTls\.certSha256/);
    t.match(
      bad.log.find((l) => l.level === 50)!.msg,
      `has SHA-256 ${haproxyFingerprint}, not the pinned AB:AB:`,
    );
  },
);

t.test('serverName: a URL with an IP address is checked against the name HAProxy carries', async (t) => {
  const noName = await device(t, { gatewayUrl: `wss://127.0.0.1:${caPort}`, gatewayTls: { caFile } });
  await refused(t, noName, 'ERR_TLS_CERT_ALTNAME_INVALID', /set gatewayTls\.serverName/);

  const named = await device(t, {
    gatewayUrl: `wss://127.0.0.1:${caPort}`,
    gatewayTls: { caFile, serverName: 'gateway.example' },
  });
  await waitFor(named.caughtUp, 'caught up by name');

  const wrongName = await device(t, {
    gatewayUrl: `wss://127.0.0.1:${caPort}`,
    gatewayTls: { caFile, serverName: 'elsewhere.example' },
  });
  await refused(t, wrongName, 'ERR_TLS_CERT_ALTNAME_INVALID', /gatewayTls\.serverName/);
});

t.test(
  'the same TLS failure is logged at error the first time, then at most once a minute with a count',
  async (t) => {
    let clock = 1_000_000;
    const attempts: (() => void)[] = [];
    const problems: string[] = [];
    const log = logLines();
    const config = ClientConfig.parse(
      await stack.deviceConfig('dev-tls-loop', join(dir, 'state.json'), {
        gatewayUrl: `wss://localhost:${caPort}`,
        gatewayTls: { caFile: otherCaFile },
      }),
    );
    const conn = new GatewayConnection({
      url: config.gatewayUrl,
      token: config.token,
      tls: loadGatewayTls(config.gatewayTls),
      logger: pino({ level: 'debug' }, log),
      hello: () => ({ type: 'hello' }),
      onFrame: () => undefined,
      onProblem: (p) => problems.push(p),
      now: () => clock,
      setTimer: (run) => {
        attempts.push(run);
        return undefined;
      },
    });
    t.teardown(() => conn.stop());
    conn.start();
    const failures = (n: number) => waitFor(() => attempts.length === n, `${n} failures`);
    await failures(1);
    for (let i = 2; i <= 5; i++) {
      clock += 5_000; // 20 s of retries
      attempts.at(-1)!();
      await failures(i);
    }
    const errors = () => log.lines.filter((l) => l.level === 50);
    t.equal(errors().length, 1, 'five failures in 20 s: one error line');
    t.equal(log.lines.filter((l) => l.msg === 'reconnecting to gateway').length, 5, 'each retry at info');
    t.match(
      log.lines.find((l) => l.msg === 'reconnecting to gateway'),
      {
        level: 30,
        attempt: 1,
        delayMs: Number,
        after: /UNABLE_TO_VERIFY_LEAF_SIGNATURE/,
      },
    );
    clock += 60_000;
    attempts.at(-1)!();
    await failures(6);
    t.equal(errors().length, 2, 'a minute on: again');
    t.match(errors()[1], { tls: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', times: 6 });
    t.match(errors()[1]!.msg, /\(6 times in a row\)$/);
    t.same(
      problems,
      errors().map((l) => l.msg),
      'and kept for telemetry errors',
    );
  },
);

t.test('bad gatewayTls values are refused at start, naming the field', async (t) => {
  const base = {
    deviceId: 'dev-1',
    gatewayUrl: 'wss://gateway.example:443',
    token: 'not-a-real-device-token',
    signalKeys: ['A'.repeat(43)],
    controlKeys: ['A'.repeat(43)],
    stateFile: join(dir, 'cli-state.json'),
    statusPort: 0,
  };
  const issues = (gatewayTls: unknown, over: object = {}): string[] => {
    try {
      loadGatewayTls(parseConfig('signal-client', ClientConfig, { ...base, ...over, gatewayTls }).gatewayTls);
      return [];
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      return err.issues;
    }
  };
  const missing = join(dir, 'nope.pem');
  const broken = ca.certPem.replace(/^(-----BEGIN CERTIFICATE-----\n)(.{10})/m, '$1AAAAAAAAAA');
  t.same(issues({ caFile: missing }), [`gatewayTls.caFile: ${missing}: cannot be read (ENOENT)`]);
  t.same(issues({ caFile: dir }), [`gatewayTls.caFile: ${dir}: cannot be read (EISDIR)`]);
  const notPem = write('not-pem.pem', 'hello\n');
  t.same(issues({ caFile: notPem }), [
    `gatewayTls.caFile: ${notPem}: no PEM certificate in it (-----BEGIN CERTIFICATE-----)`,
  ]);
  const badPem = write('broken.pem', broken);
  t.same(issues({ caFile: badPem }), [`gatewayTls.caFile: ${badPem}: certificate 1 does not parse`]);
  t.match(issues({ caFile: selfSigned.pemFile }), [/^gatewayTls\.caFile: .*: holds a private key/]);
  t.same(issues({ caFile: 'gateway-ca.pem' }), ['gatewayTls.caFile: an absolute path']);
  t.match(issues({ certSha256: 'AB:CD' }), [/^gatewayTls\.certSha256: a SHA-256 fingerprint/]);
  t.match(issues({ serverName: '10.0.0.1' }), [/^gatewayTls\.serverName: a DNS name, not an IP address/]);
  t.match(issues({ serverName: 'gateway.example:443' }), [/^gatewayTls\.serverName: a DNS name/]);
  t.match(issues({}), [/^gatewayTls: name at least one of caFile, certSha256, serverName/]);
  t.match(issues({ port: 443 }), [/^gatewayTls: Unrecognized key/]);
  // HAProxy passes devices only on `/`: a path, query or fragment would be a 404 on every reconnect.
  for (const gatewayUrl of ['wss://gw.example/ws', 'wss://gw.example/?a=1', 'wss://gw.example/#x', 'wss://'])
    t.match(
      issues(undefined, { gatewayUrl }),
      [/^gatewayUrl: gatewayUrl: no path, query or fragment/],
      gatewayUrl,
    );
  t.same(
    issues(undefined, { gatewayUrl: 'wss://gw.example:443/' }),
    [],
    'a bare / is the path HAProxy passes',
  );
  t.same(issues({ caFile }, { gatewayUrl: 'ws://gateway.example' }), [
    'gatewayTls: only with a wss:// gatewayUrl (ws:// has no TLS to check)',
  ]);
  t.same(issues({ caFile, certSha256: haproxyFingerprint, serverName: 'Gateway.Example' }), []);

  // As the service meets them: exit 2, the field named, no stack trace.
  const run = (config: object) =>
    runCli('signal-client/src/main.ts', ['run', '--config', write('device.jsonc', JSON.stringify(config))], {
      SIGNAL_CLIENT_CONFIG: undefined,
      NOTIFY_SOCKET: undefined,
      LOG_LEVEL: 'fatal',
    });
  const unreadable = run({ ...base, gatewayTls: { caFile: missing } });
  t.equal(unreadable.status, EXIT.config);
  t.equal(
    unreadable.stderr,
    `invalid signal-client configuration:\n  - gatewayTls.caFile: ${missing}: cannot be read (ENOENT)\n`,
  );
  const plain = run({ ...base, gatewayUrl: 'ws://gateway.example', gatewayTls: { caFile } });
  t.equal(plain.status, EXIT.config);
  t.match(plain.stderr, /^invalid signal-client configuration:\n {2}- gatewayTls: only with a wss:\/\//);
  t.notOk(hasStackTrace(unreadable.stderr + plain.stderr));
});
