/**
 * Issue #15 end to end: provisioning and WireGuard, in network namespaces this test creates and
 * removes (fixtures/tunnel-net.ts). The hub namespace runs the concentrator (Debian's userspace
 * wireguard-go), Kafka (librdkafka's mock cluster), the control server, a gateway, HAProxy (the
 * devices' frontend on the tunnel address only, the enrolment frontend on the public one) and the
 * paper exchange (on the public side, as an exchange on the internet). Three device namespaces
 * start from byte-identical folders (one image), each gets an enrolment token from the admin's CLI
 * (`npm run provision -- device add`), enrols with `signal-client enrol` over the pinned TLS
 * endpoint, brings its tunnel up with the wg0.conf it wrote (`wg-quick up`), and runs the real
 * signal client, which receives signals through the tunnel and trades on the paper exchange.
 *
 * Then: the outsider (on the same network, not in the tunnel) reaches neither the gateway nor
 * HAProxy's devices' frontend; a reused and an expired token are refused; a copied credential
 * without the device key is refused (and with a proof from the key, accepted); a device whose
 * credential expired while it was offline renews by its key; rotation ordered by the admin keeps
 * the tunnel and signals flowing on new keys; a revoked device's handshake and WebSocket both fail
 * while the other two keep receiving; and a scan of every bundle, log, state file and database
 * finds no private key except each device's own, on that device.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import {
  DEVICE_PROOF_HEADER,
  TOPICS,
  createCandle,
  createSignal,
  exportPublicKey,
  issueDeviceProof,
  readDeviceToken,
  KeyRing,
  signerFromPem,
  type DecisionRecord,
  type Signal,
} from '@appliance/protocol';
import { startHaproxy } from '@appliance/haproxy';
import {
  REPO_ROOT,
  makeTestCert,
  uniqueIfName,
  requireTool,
  signerWithKeyFile,
  spawnNode,
  startKafkaMock,
  waitFor,
  type RunningProcess,
} from '@appliance/test-kit';
import { READY_MESSAGE } from '@appliance/signal-client';
import { candleTimeAt } from './fixtures/process-stack.js';
import {
  HUB_PUBLIC,
  HUB_TUNNEL,
  TUNNEL_POOL,
  createTunnelNet,
  type Namespace,
} from './fixtures/tunnel-net.js';

const STREAM = 'ema-cross.1h';
const DEVICES = ['kitchen', 'grandma', 'beta-tester'] as const;
const PROFILES: Record<(typeof DEVICES)[number], string> = {
  kitchen: 'family',
  grandma: 'family',
  'beta-tester': 'beta',
};
const WG_PORT = 51820;
const GATEWAY_TUNNEL_PORT = 8443;
const ENROL_PORT = 9443;
/** Short, so the test sees credentials expire and renew; devices check every second. */
const CREDENTIAL_TTL_S = 12;
const PRICES = { 'BTC/USDT': 50_000, 'ETH/USDT': 3_000 };

interface Device {
  id: (typeof DEVICES)[number];
  ns: Namespace;
  /** Its WireGuard interface: wg0 on the appliance, a name of its own here. */
  wgIf: string;
  /** Everything on this device's disk. */
  home: string;
  stateDir: string;
  configFile: string;
  tokenFile: string;
  apiKey: string;
  secret: string;
  proc?: RunningProcess;
}

async function tunnel(t: Test) {
  const dir = mkdtempSync(join(tmpdir(), 'e2e-tunnel-'));
  const logs: RunningProcess[] = [];
  const procs: RunningProcess[] = [];
  t.teardown(async () => {
    for (const p of procs) await p.kill('SIGKILL');
  });
  const track = (p: RunningProcess) => {
    procs.push(p);
    logs.push(p);
    return p;
  };
  const net = await createTunnelNet(t, DEVICES.length);
  const { hub } = net;

  // ---- the hub: WireGuard, Kafka, control server, gateway, paper exchange, HAProxy ------------
  // wireguard-go's control socket (/var/run/wireguard/NAME.sock) is one per name for the whole
  // machine, whatever the namespace: every interface here gets a name of its own.
  const hubIf = uniqueIfName('wgh');
  const hubKey = execFileSync('wg', ['genkey'], { encoding: 'utf8' }).trim();
  const hubPublic = execFileSync('wg', ['pubkey'], { input: hubKey, encoding: 'utf8' }).trim();
  const hubKeyFile = join(dir, 'hub-wg.key');
  writeFileSync(hubKeyFile, `${hubKey}\n`, { mode: 0o600 });
  const hubConf = join(dir, 'hub', `${hubIf}.conf`);
  mkdirSync(join(dir, 'hub'), { mode: 0o700 });
  writeFileSync(
    hubConf,
    `[Interface]\nAddress = ${HUB_TUNNEL}/24\nListenPort = ${WG_PORT}\nPostUp = wg set %i private-key ${hubKeyFile}\n`,
    { mode: 0o600 },
  );
  await hub.exec('wg-quick', ['up', hubConf]);

  const kafka = await startKafkaMock({ netns: hub.name });
  t.teardown(() => kafka.stop());
  const bridgeSocket = join(dir, 'bus.sock');
  const bridge = track(
    spawnNode(
      'bus-bridge',
      'e2e/test/fixtures/ns-bus-bridge.ts',
      [kafka.bootstrap, bridgeSocket],
      {},
      { netns: hub.name },
    ),
  );
  await bridge.waitForLog((l) => l.msg === 'listening', 'the bus bridge');
  const publish = async (topic: string, records: { key: string; value: string }[]) => {
    const out = execFileSync(
      'curl',
      [
        '-sS',
        '--fail',
        '--unix-socket',
        bridgeSocket,
        '-H',
        'content-type: application/json',
        '--data-binary',
        '@-',
        'http://bus/',
      ],
      { input: JSON.stringify({ topic, records }), encoding: 'utf8' },
    );
    return JSON.parse(out) as { published: number };
  };

  const { signer: control, file: controlKeyFile } = signerWithKeyFile(dir, 'control.pem');
  const { signer: feed } = signerWithKeyFile(dir, 'feed.pem');
  const adminToken = randomBytes(24).toString('base64url');
  // The enrolment endpoint's certificate: HAProxy serves it, the control server pins it in tokens.
  const enrolCertDir = join(dir, 'enrol-cert');
  mkdirSync(enrolCertDir);
  const enrolCert = makeTestCert(enrolCertDir);
  const enrolCertFile = join(enrolCertDir, 'cert.pem');
  const denyFile = join(dir, 'haproxy-denied.lst');
  const haproxySocket = join(dir, 'haproxy.sock');

  const controlServer = track(
    spawnNode(
      'control-server',
      'control-server/src/main.ts',
      [
        ...['--port', '0', '--host', '127.0.0.1', '--no-paper'],
        ...['--kafka', kafka.bootstrap, '--signing-key-file', controlKeyFile],
        ...['--feed-key', exportPublicKey(feed.publicKey), '--data-dir', join(dir, 'control')],
        ...['--eligibility', `${STREAM}=BTC/USDT,ETH/USDT`],
        ...['--enrol-url', `https://${HUB_PUBLIC}:${ENROL_PORT}`, '--enrol-cert', enrolCertFile],
        ...['--tunnel-pool', TUNNEL_POOL, '--tunnel-endpoint', `${HUB_PUBLIC}:${WG_PORT}`],
        ...['--tunnel-public-key', hubPublic, '--wg-interface', hubIf],
        ...['--tunnel-gateway-url', `ws://${HUB_TUNNEL}:${GATEWAY_TUNNEL_PORT}/`],
        ...['--credential-ttl', `${CREDENTIAL_TTL_S}s`, '--key-overlap-ms', '3000'],
        ...['--haproxy-socket', haproxySocket, '--haproxy-deny-file', denyFile],
      ],
      { CONTROL_ADMIN_TOKEN: adminToken },
      { netns: hub.name },
    ),
  );
  const { url: api } = (await controlServer.waitForLog(
    (l) => l.msg === 'listening',
    'control server',
  )) as unknown as {
    url: string;
  };
  const apiPort = Number(new URL(api).port);

  const gateway = track(
    spawnNode(
      'gateway',
      'gateway/src/main.ts',
      [
        ...['--port', '0', '--admin-port', '0', '--proxy-protocol', '--require-bound-credentials'],
        ...['--kafka', kafka.bootstrap, '--token-key', exportPublicKey(control.publicKey)],
        ...['--signal-key', exportPublicKey(feed.publicKey)],
      ],
      {},
      { netns: hub.name },
    ),
  );
  const { url: gatewayUrl } = (await gateway.waitForLog(
    (l) => l.msg === 'listening',
    'gateway',
  )) as unknown as {
    url: string;
  };

  const devices: Device[] = DEVICES.map((id, i) => ({
    id,
    ns: net.devices[i]!,
    wgIf: uniqueIfName('wgd'),
    home: join(dir, id),
    stateDir: join(dir, id, 'state'),
    configFile: join(dir, id, 'state', 'config.json'),
    tokenFile: join(dir, id, 'enrolment-token'),
    apiKey: `paper-${id}-${randomBytes(6).toString('hex')}`,
    secret: randomBytes(24).toString('base64url'),
  }));
  const accountsFile = join(dir, 'paper-accounts.json');
  writeFileSync(
    accountsFile,
    JSON.stringify(devices.map((d) => ({ apiKey: d.apiKey, secret: d.secret, balances: { USDT: 10_000 } }))),
  );
  const paper = track(
    spawnNode(
      'paper-exchange',
      'paper-exchange/src/main.ts',
      [
        ...['--port', '0', '--host', HUB_PUBLIC, '--accounts', accountsFile],
        ...Object.entries(PRICES).flatMap(([s, p]) => ['--price', `${s}=${p}`]),
      ],
      {},
      { netns: hub.name },
    ),
  );
  const { url: paperUrl } = (await paper.waitForLog(
    (l) => l.msg === 'listening',
    'paper exchange',
  )) as unknown as {
    url: string;
  };

  const haproxy = await startHaproxy(
    {
      gateways: [{ name: 'gw-a', host: '127.0.0.1', port: Number(new URL(gatewayUrl).port) }],
      // The devices' frontend: on the tunnel address only, without TLS (WireGuard encrypts).
      bind: { host: HUB_TUNNEL, port: GATEWAY_TUNNEL_PORT },
      tls: false,
      denyList: { file: denyFile },
      enrolment: {
        bind: { host: HUB_PUBLIC, port: ENROL_PORT },
        tls: { certFile: enrolCert.pemFile },
        controlServer: { host: '127.0.0.1', port: apiPort },
      },
      timeouts: { healthCheckIntervalMs: 200 },
      stats: { socket: haproxySocket },
    },
    join(dir, 'hub'),
    { netns: hub.name },
  );
  t.teardown(() => haproxy.stop());
  await haproxy.waitFor('UP');

  // ---- the admin: one enrolment token per device, from the CLI on the control server's host ---
  // Beta testers follow their own spending policy; the control server seeds only family's, so the
  // operator gives beta the same (the policy CLI, on the control server's host).
  const policyCli = (args: string[]) =>
    hub.status(
      process.execPath,
      ['--import', 'tsx', join(REPO_ROOT, 'control-server/src/policy-cli/main.ts'), ...args, '--url', api],
      60_000,
    );

  const provision = (args: string[]) =>
    hub.status(
      process.execPath,
      ['--import', 'tsx', join(REPO_ROOT, 'provisioning/src/main.ts'), ...args, '--server', api],
      60_000,
    );
  // The CLI reads the admin token from the environment; `ip netns exec` keeps ours.
  process.env.CONTROL_ADMIN_TOKEN = adminToken;
  t.teardown(() => void delete process.env.CONTROL_ADMIN_TOKEN);
  const family = await policyCli(['show', 'family', '--version', '1']);
  t.equal(family.code, 0, family.stderr);
  const betaPolicy = join(dir, 'beta-policy.json');
  writeFileSync(betaPolicy, family.stdout);
  const beta = await policyCli(['set', 'beta', '--file', betaPolicy, '--note', 'as family']);
  t.equal(beta.code, 0, beta.stderr);

  // ---- the devices: one image, three homes ---------------------------------------------------
  const image = join(dir, 'image');
  mkdirSync(image, { mode: 0o700 });
  writeFileSync(
    join(image, 'config.json'),
    JSON.stringify({
      enrolment: { stateDir: '/var/lib/signal-client', wgInterface: 'wg0', renewCheckMs: 1_000 },
      stateFile: '/var/lib/signal-client/state.json',
      exchange: { paperUrl },
      telemetryIntervalMs: 1_000,
      settings: { timeZone: 'UTC', streams: [STREAM] },
    }),
  );
  for (const d of devices) {
    mkdirSync(join(dir, d.id), { mode: 0o700 });
    cpSync(image, d.stateDir, { recursive: true });
    // The image's paths, made this device's (the appliance would have them at /var/lib).
    const config = JSON.parse(readFileSync(d.configFile, 'utf8')) as Record<string, unknown>;
    writeFileSync(
      d.configFile,
      JSON.stringify({
        ...config,
        enrolment: { stateDir: d.stateDir, wgInterface: d.wgIf, renewCheckMs: 1_000 },
        stateFile: join(d.stateDir, 'state.json'),
      }),
    );
    const added = await provision([
      'device',
      'add',
      '--name',
      d.id,
      '--profile',
      PROFILES[d.id],
      '--out',
      d.tokenFile,
    ]);
    t.equal(added.code, 0, `device add ${d.id}: ${added.stderr}`);
    t.equal(statSync(d.tokenFile).mode & 0o777, 0o600, "the token file is the admin's alone");
  }

  // A token that expires while the test runs (a minute, the shortest the CLI makes): used at the end.
  const expiringToken = join(dir, 'expiring-token');
  const lateAdded = await provision([
    ...['device', 'add', '--name', 'late-device', '--profile', 'family'],
    ...['--token-ttl', '1m', '--out', expiringToken],
  ]);
  t.equal(lateAdded.code, 0, lateAdded.stderr);
  const expiringAt = Date.now() + 60_000;

  const enrol = (d: Device, tokenFile = d.tokenFile, stateDir = d.stateDir) =>
    d.ns.status(
      process.execPath,
      [
        '--import',
        'tsx',
        join(REPO_ROOT, 'signal-client/src/main.ts'),
        'enrol',
        '--token',
        `@${tokenFile}`,
        '--state-dir',
        stateDir,
      ],
      60_000,
    );
  const startDevice = async (d: Device) => {
    const proc = track(
      spawnNode(
        d.id,
        'signal-client/src/main.ts',
        ['run', '--config', d.configFile],
        { EXCHANGE_API_KEY: d.apiKey, EXCHANGE_API_SECRET: d.secret },
        { netns: d.ns.name },
      ),
    );
    d.proc = proc;
    await proc.waitForLog((l) => l.msg === READY_MESSAGE, `${d.id} ready`);
    return proc;
  };

  t.test('each device enrols with its token and comes up in the tunnel', async (t) => {
    for (const d of devices) {
      const r = await enrol(d);
      t.equal(r.code, 0, `${d.id} enrolled: ${r.stderr}`);
      for (const f of ['device-key.pem', 'wg-private.key', 'enrolment.json', 'wg0.conf'])
        t.equal(statSync(join(d.stateDir, f)).mode & 0o777, 0o600, `${d.id}: ${f} is 0600`);
      // What wg-quick@wg0 does on the appliance, under this device's own interface name.
      const conf = join(d.home, `${d.wgIf}.conf`);
      cpSync(join(d.stateDir, 'wg0.conf'), conf);
      await d.ns.exec('wg-quick', ['up', conf]);
    }
    const addresses = devices.map((d) => grantOf(d).tunnel.address);
    t.equal(new Set(addresses).size, 3, `three tunnel addresses: ${addresses.join(', ')}`);
    // Byte-identical starting folders, different identities.
    const wgKeys = devices.map((d) => wgPublicOf(d));
    const deviceKeys = devices.map(
      (d) => signerFromPem(readFileSync(join(d.stateDir, 'device-key.pem'), 'utf8')).kid,
    );
    t.equal(new Set(wgKeys).size, 3, 'three WireGuard keys');
    t.equal(new Set(deviceKeys).size, 3, 'three device keys');
    // The concentrator has exactly these peers, each on its own /32.
    const peers = await hubPeers();
    t.same(
      devices.map((d) => peers.get(wgPublicOf(d))),
      addresses.map((a) => `${a}/32`),
      'one peer per device, AllowedIPs its /32 only',
    );
    for (const d of devices) {
      const claims = readDeviceToken(grantOf(d).credential, KeyRing.of(exportPublicKey(control.publicKey)));
      t.equal(claims.scope, PROFILES[d.id], `${d.id}: the profile is in its credential`);
      t.equal(claims.cnf, exportPublicKey(deviceSigner(d).publicKey), `${d.id}: bound to its device key`);
    }
  });

  /** A device's private keys as text: the device key's PEM body and the WireGuard key. */
  function secretsOf(d: Device): { owner: string; text: string }[] {
    const pem = readFileSync(join(d.stateDir, 'device-key.pem'), 'utf8');
    return [
      {
        owner: d.home,
        text: pem
          .split('\n')
          .filter((l) => l && !l.startsWith('-----'))
          .join(''),
      },
      { owner: d.home, text: readFileSync(join(d.stateDir, 'wg-private.key'), 'utf8').trim() },
    ];
  }
  /** Keys a device had before it rotated: they must not have leaked either. */
  const retiredSecrets: { owner: string; text: string }[] = [];

  function grantOf(d: Device) {
    const stored = JSON.parse(readFileSync(join(d.stateDir, 'enrolment.json'), 'utf8')) as {
      grant: { tunnel: { address: string }; credential: string; deviceId: string };
    };
    return stored.grant;
  }
  function wgPublicOf(d: Device) {
    return execFileSync('wg', ['pubkey'], {
      input: readFileSync(join(d.stateDir, 'wg-private.key'), 'utf8'),
      encoding: 'utf8',
    }).trim();
  }
  function deviceSigner(d: Device) {
    return signerFromPem(readFileSync(join(d.stateDir, 'device-key.pem'), 'utf8'));
  }
  async function hubPeers(): Promise<Map<string, string>> {
    const { stdout } = await hub.exec('wg', ['show', hubIf, 'allowed-ips']);
    return new Map(
      stdout
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split('\t') as [string, string]),
    );
  }

  // ---- the market and the signals -----------------------------------------------------------
  let step = 0;
  const signals: Signal[] = [];
  const nextSignal = async (symbol: 'BTC/USDT' | 'ETH/USDT', side: 'buy' | 'sell' = 'buy') => {
    step++;
    await publish(
      TOPICS.candles,
      Object.entries(PRICES).map(([s, p]) => ({
        key: s,
        value: JSON.stringify(
          createCandle(
            {
              symbol: s,
              timeframe: '1h',
              time: candleTimeAt(step),
              open: p,
              high: p * 1.001,
              low: p * 0.999,
              close: p,
              volume: 10,
              origin: 'e2e-feed',
            },
            feed,
          ),
        ),
      })),
    );
    const signal = createSignal(
      {
        stream: STREAM,
        symbol,
        side,
        price: PRICES[symbol],
        candleTime: candleTimeAt(step),
        ts: Date.now(),
        ttlMs: 120_000,
        strength: 1,
        algoVersion: 'e2e/1',
        origin: 'e2e-feed',
      },
      feed,
    );
    await publish(TOPICS.signals, [{ key: STREAM, value: JSON.stringify(signal) }]);
    signals.push(signal);
    return signal;
  };
  const decisionOf = async (d: Device, signal: Signal, timeoutMs = 60_000) => {
    let found: DecisionRecord | undefined;
    await waitFor(
      () => {
        try {
          const state = JSON.parse(readFileSync(join(d.stateDir, 'state.json'), 'utf8')) as {
            decisions: DecisionRecord[];
          };
          found = state.decisions.find((x) => x.signalId === signal.id);
        } catch {
          /* not written yet */
        }
        return found !== undefined;
      },
      `${d.id} to decide ${signal.side} ${signal.symbol}`,
      timeoutMs,
    );
    return found!;
  };
  /** Waits until every device of `who` has decided `signal`, the last decision first seen. */
  const allDecide = async (who: Device[], signal: Signal) => {
    const out: Record<string, DecisionRecord> = {};
    for (const d of who) out[d.id] = await decisionOf(d, signal);
    return out;
  };

  t.test('signals come through the tunnel and every device trades on the paper exchange', async (t) => {
    for (const d of devices) await startDevice(d);
    // Until a device has heard the control server it refuses to buy (no eligibility, policy or
    // heartbeat yet): signals are sent until each has bought once.
    const bought = new Set<string>();
    let last: Record<string, DecisionRecord> = {};
    await waitFor(
      async () => {
        const s = await nextSignal('BTC/USDT');
        last = await allDecide(devices, s);
        for (const [id, d] of Object.entries(last)) if (d.outcome === 'executed') bought.add(id);
        return bought.size === devices.length;
      },
      'every device to buy through the tunnel',
      90_000,
      0,
    ).catch((err: Error) => {
      throw new Error(
        `${err.message}; the last decisions: ${JSON.stringify(
          Object.fromEntries(
            Object.entries(last).map(([id, d]) => [id, `${d.outcome} ${d.code}: ${d.reason}`]),
          ),
        )}`,
      );
    });
    t.same(
      [...bought].sort(),
      devices.map((d) => d.id).sort(),
      'each device bought BTC on the paper exchange, through the tunnel',
    );
  });

  t.test('outside the tunnel nothing reaches the gateway', async (t) => {
    const curl = (ns: Namespace, url: string) =>
      ns.status('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '-m', '3', url], 10_000);
    const o = net.outsider;
    const viaTunnelAddress = await curl(o, `http://${HUB_TUNNEL}:${GATEWAY_TUNNEL_PORT}/`);
    t.not(
      viaTunnelAddress.code,
      0,
      `the tunnel address is not routed outside the tunnel: ${viaTunnelAddress.stderr.trim()}`,
    );
    const viaPublic = await curl(o, `http://${HUB_PUBLIC}:${GATEWAY_TUNNEL_PORT}/`);
    t.not(
      viaPublic.code,
      0,
      `the devices' frontend does not listen on the public address: ${viaPublic.stderr.trim()}`,
    );
    const gatewayPort = new URL(gatewayUrl).port;
    const direct = await curl(o, `http://${HUB_PUBLIC}:${gatewayPort}/healthz`);
    t.not(direct.code, 0, "the gateway itself listens on the hub's loopback only");
    const controlApi = await curl(o, `http://${HUB_PUBLIC}:${apiPort}/api/fleet`);
    t.not(controlApi.code, 0, 'nor does the control server');
    const enrolFront = await o.status(
      'curl',
      [
        '-sS',
        '-k',
        '-o',
        '/dev/null',
        '-w',
        '%{http_code}',
        '-m',
        '3',
        `https://${HUB_PUBLIC}:${ENROL_PORT}/api/fleet`,
      ],
      10_000,
    );
    t.equal(enrolFront.stdout, '404', 'the public enrolment frontend passes nothing but enrolment');
    // A device inside the tunnel does reach it (HAProxy answers its allow-list's 404 to a plain GET).
    const inside = await curl(devices[0]!.ns, `http://${HUB_TUNNEL}:${GATEWAY_TUNNEL_PORT}/`);
    t.equal(inside.stdout, '404', 'from inside the tunnel the frontend answers');
  });

  t.test('a reused token is refused, and nothing is enrolled', async (t) => {
    const fresh = join(dir, 'fresh');
    mkdirSync(fresh, { mode: 0o700 });
    const reused = await enrol(devices[2]!, devices[0]!.tokenFile, fresh);
    t.not(reused.code, 0, 'the used token is refused');
    t.match(`${reused.stdout}${reused.stderr}`, /E_TOKEN_USED/);
    const peers = await hubPeers();
    t.equal(peers.size, 3, 'no peer was added on the concentrator');
  });

  t.test('a copied credential without the device key does not connect', async (t) => {
    const victim = devices[0]!;
    const credential = grantOf(victim).credential;
    const upgrade = (extra: string[]) =>
      devices[2]!.ns.status(
        'curl',
        [
          ...['-sS', '-o', '/dev/null', '-w', '%{http_code}', '-m', '2', '--http1.1'],
          ...[
            '-H',
            `authorization: Bearer ${credential}`,
            '-H',
            'connection: Upgrade',
            '-H',
            'upgrade: websocket',
          ],
          ...[
            '-H',
            'sec-websocket-version: 13',
            '-H',
            `sec-websocket-key: ${randomBytes(16).toString('base64')}`,
          ],
          ...extra,
          `http://${HUB_TUNNEL}:${GATEWAY_TUNNEL_PORT}/`,
        ],
        10_000,
      );
    const copied = await upgrade([]);
    t.equal(copied.stdout, '401', 'the credential alone: 401 before the upgrade');
    const stranger = signerWithKeyFile(dir, 'stranger.pem').signer;
    const forged = issueDeviceProof({ credential, sub: victim.id, now: Date.now() }, stranger);
    t.equal(
      (await upgrade(['-H', `${DEVICE_PROOF_HEADER}: ${forged}`])).stdout,
      '401',
      'with a proof from another key: 401',
    );
    const genuine = issueDeviceProof({ credential, sub: victim.id, now: Date.now() }, deviceSigner(victim));
    t.equal(
      (await upgrade(['-H', `${DEVICE_PROOF_HEADER}: ${genuine}`])).stdout,
      '101',
      'with its own key: 101',
    );
  });

  t.test('a device whose credential expired while it was offline renews by its key', async (t) => {
    const d = devices[1]!;
    await d.proc!.kill('SIGTERM');
    const before = grantOf(d).credential;
    const exp = readDeviceToken(before, KeyRing.of(exportPublicKey(control.publicKey))).exp;
    // Offline past the credential's expiry (the family away on holiday, in short).
    await waitFor(() => Date.now() > exp + 1_000, "the offline device's credential to expire", 60_000, 200);
    await startDevice(d);
    await waitFor(() => grantOf(d).credential !== before, `${d.id} to renew`, 30_000);
    // A sale: what it bought earlier is still there to sell, whatever today's buying limit says.
    const s = await nextSignal('BTC/USDT', 'sell');
    const decided = await decisionOf(d, s);
    t.equal(decided.outcome, 'executed', `and it trades again: ${decided.code} ${decided.reason}`);
  });

  t.test('rotation ordered by the admin keeps the tunnel and the signals flowing', async (t) => {
    const d = devices[0]!;
    const oldWg = wgPublicOf(d);
    const oldKid = deviceSigner(d).kid;
    retiredSecrets.push(...secretsOf(d));
    const address = grantOf(d).tunnel.address;
    const r = await provision(['device', 'rotate-keys', d.id]);
    t.equal(r.code, 0, r.stderr);
    await waitFor(() => wgPublicOf(d) !== oldWg, `${d.id} to rotate its WireGuard key`, 30_000);
    t.not(deviceSigner(d).kid, oldKid, 'a new device key too');
    const peers = await hubPeers();
    t.equal(peers.get(wgPublicOf(d)), `${address}/32`, 'the concentrator has the new key on the same /32');
    t.notOk(peers.has(oldWg), 'and no longer the old one');
    const s = await nextSignal('BTC/USDT', 'sell');
    const decided = await allDecide(devices, s);
    t.ok(decided[d.id], `${d.id} still receives signals after the rotation`);
  });

  t.test('a revoked device loses its handshake and its WebSocket; the others keep receiving', async (t) => {
    const d = devices[2]!;
    const address = grantOf(d).tunnel.address;
    const r = await provision(['device', 'revoke', d.id, '--yes']);
    t.equal(r.code, 0, r.stderr);
    await waitFor(async () => !(await hubPeers()).has(wgPublicOf(d)), 'the peer to be removed', 10_000);
    await waitFor(
      () => readFileSync(denyFile, 'utf8').includes(address),
      'HAProxy to deny its address',
      10_000,
    );
    const reach = await d.ns.status(
      'curl',
      ['-sS', '-o', '/dev/null', '-m', '3', `http://${HUB_TUNNEL}:${GATEWAY_TUNNEL_PORT}/`],
      10_000,
    );
    t.not(reach.code, 0, 'nothing reaches the hub through its tunnel any more');
    await d.proc!.waitForLog(
      (l) => /closed|disconnected|refused/i.test(String(l.msg)),
      `${d.id}'s WebSocket to close`,
      30_000,
    );
    const s = await nextSignal('ETH/USDT');
    const others = await allDecide([devices[0]!, devices[1]!], s);
    t.equal(Object.keys(others).length, 2, 'the other two decided the next signal');
    // The revoked device never hears it.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const state = JSON.parse(readFileSync(join(d.stateDir, 'state.json'), 'utf8')) as {
      decisions: DecisionRecord[];
    };
    t.notOk(
      state.decisions.some((x) => x.signalId === s.id),
      'the revoked device did not get it',
    );
  });

  t.test('an expired token is refused, and nothing is enrolled', async (t) => {
    await waitFor(() => Date.now() > expiringAt + 1_000, 'the one-minute token to expire', 90_000, 250);
    const fresh = join(dir, 'fresh-expired');
    mkdirSync(fresh, { mode: 0o700 });
    const expired = await enrol(devices[1]!, expiringToken, fresh);
    t.not(expired.code, 0, 'the expired token is refused');
    t.match(`${expired.stdout}${expired.stderr}`, /expired/i);
    t.notOk(existsSync(join(fresh, 'enrolment.json')), 'no enrolment was written');
    t.equal((await hubPeers()).size, 2, "no peer was added (the revoked device's is gone)");
  });

  t.test('no private key is anywhere but on its own device', async (t) => {
    // Every process's output, as its log would hold it.
    const logDir = join(dir, 'logs');
    mkdirSync(logDir);
    for (const p of logs)
      writeFileSync(
        join(logDir, `${p.name}.log`),
        [...p.lines.map((l) => JSON.stringify(l)), ...p.text].join('\n'),
      );
    const secrets = [...devices.flatMap(secretsOf), ...retiredSecrets, { owner: hubKeyFile, text: hubKey }];
    const files: string[] = [];
    const walk = (p: string) => {
      for (const e of readdirSync(p, { withFileTypes: true })) {
        const full = join(p, e.name);
        if (e.isDirectory()) walk(full);
        else if (e.isFile()) files.push(full);
      }
    };
    walk(dir);
    t.ok(
      files.some((f) => f.endsWith('.db') || f.includes('control')),
      "the control server's database is scanned",
    );
    const leaks: string[] = [];
    for (const f of files) {
      const bytes = readFileSync(f).toString('latin1');
      for (const s of secrets)
        if (bytes.includes(s.text) && !f.startsWith(s.owner)) leaks.push(`${f} holds ${s.owner}'s key`);
    }
    t.same(leaks, [], `${files.length} files scanned`);
  });
}

const TOOLS: [string, string][] = [
  ['ip', 'iproute2'],
  ['wg', 'wireguard-tools'],
  ['wg-quick', 'wireguard-tools'],
  ['wireguard-go', 'wireguard-go'],
  ['haproxy', 'haproxy'],
  ['kcat', 'kcat'],
  ['openssl', 'openssl'],
  ['curl', 'curl'],
];
const missing = TOOLS.filter(([tool, pkg]) => !requireTool(tool, pkg));
if (missing.length > 0) {
  t.comment(`not installed: ${missing.map(([, p]) => p).join(' ')}`);
} else if (process.getuid?.() !== 0) {
  if (process.env.CI === 'true') throw new Error('network namespaces need root, and CI runs as root');
  t.comment('network namespaces need root: skipped');
} else {
  t.test('devices enrol, reach the gateway only through the tunnel, renew, rotate and are revoked', (t) =>
    tunnel(t),
  );
}
