import { request } from 'node:http';
import t from 'tap';
import { ClientConfig, emptyState } from '../src/index.js';
import { readStatus } from '../src/status-command.js';
import { startStatusServer } from '../src/status-server.js';
import { renderStatusHtml, renderStatusText, statusView } from '../src/status.js';
import { startStack } from './stack.js';

t.test(
  "the person at home sees connection, breaker, holdings, P&L and today's decisions in plain words",
  async (t) => {
    const stack = await startStack(t);
    const dev = await stack.device({ keys: stack.account(10_000) });
    await stack.signal('buy', 40_000);
    await stack.signal('sell', 40_000, { ts: Date.now() - 120_000 });
    await dev.until(2);
    const view = statusView(dev.store.data, dev.client.runtime(), 'USDT', Date.now());
    t.match(view, {
      running: true,
      connected: true,
      breaker: { level: 'normal', assets: [] },
      fills: 1,
      pendingOrders: 0,
    });
    t.equal(view.holdings.length, 1);
    // 100 USDT by quoteOrderQty at 40,020 (the fill with slippage): 0.00249 BTC on the lot step.
    t.match(view.holdings[0], { asset: 'BTC', amount: 0.00249 });
    t.ok(
      view.pnl && view.pnl.total !== null && view.pnl.total < 0,
      'P&L after paying the fee and slippage is slightly negative',
    );
    const text = renderStatusText(view);
    t.match(text, /^Device dev-1: running, connected\n/);
    t.match(text, /\nCircuit breaker: normal \(buying as usual\)/);
    t.match(text, /Holdings: 0\.00249 BTC/);
    t.match(
      text,
      /Today's decisions \(2\):\n {2}\d\d:\d\d {2}executed buy {2}BTC\/USDT {3}buy 0\.00249 BTC\/USDT\n {2}\d\d:\d\d {2}rejected sell BTC\/USDT {3}signal expired \d+ ms ago\n$/,
    );

    // The local page, on loopback only, read-only.
    const page = await startStatusServer(
      () => statusView(dev.store.data, dev.client.runtime(), 'USDT', Date.now()),
      0,
      'UTC',
    );
    t.teardown(() => void page.server.close());
    t.match(page.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const html = await (await fetch(page.url + '/')).text();
    t.match(html, /Circuit breaker: normal \(buying as usual\)/);
    t.equal(
      (await fetch(page.url + '/status.json', { method: 'POST' })).status,
      405,
      'nothing can be changed through it',
    );

    // `signal-client status` asks the running client, else reads the state file.
    const port = Number(new URL(page.url).port);
    const config = ClientConfig.parse({
      ...(await stack.deviceConfig('dev-1', dev.stateFile)),
      statusPort: port,
    });
    t.match(await readStatus(config), { running: true, connected: true, breaker: { level: 'normal' } });
    await dev.client.stop();
    page.server.close();
    const offline = await readStatus(config);
    t.match(offline, { running: false, connected: false, fills: 1 });
    t.equal(offline.breaker, null, 'not running: the breaker is not known');
    t.match(
      renderStatusText(offline),
      /^Device dev-1: not running\nCircuit breaker: unknown \(no buying until the control server is heard\)\n/,
    );
  },
);

/** GET `path` with this `Host` header (undefined: none at all), as a rebinding page's browser would send it. */
function get(url: string, path: string, host: string | undefined, method = 'GET'): Promise<number> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method, setHost: false, headers: host === undefined ? {} : { host } },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

t.test('the status page answers only to its own host names, so DNS rebinding cannot read it', async (t) => {
  const view = () => statusView(emptyState('dev-1'), null, 'USDT', Date.now());
  const page = await startStatusServer(view, 0, 'UTC', { allowedHosts: ['appliance.lan'] });
  t.teardown(() => void page.server.close());
  const port = new URL(page.url).port;
  for (const host of [
    'localhost',
    `localhost:${port}`,
    `127.0.0.1:${port}`,
    '[::1]:8765',
    'LOCALHOST.',
    'appliance.lan:80',
  ])
    t.equal(await get(page.url, '/status.json', host, 'GET'), 200, host);
  // A page on evil.example whose name now resolves to 127.0.0.1: the browser sends its own name.
  for (const host of [
    'evil.example',
    `evil.example:${port}`,
    'localhost.evil.example',
    '127.0.0.1.nip.io',
    '',
  ])
    for (const path of ['/', '/status.json'])
      t.equal(await get(page.url, path, host), 421, `Host ${host || '(empty)'} ${path}`);
  t.equal(await get(page.url, '/status.json', 'evil.example', 'POST'), 421, 'whatever the method');
  t.equal(await get(page.url, '/status.json', undefined), 400, 'no Host at all: Node refuses it first');
  // Without the extra name in the config, it is refused like any other.
  const plain = await startStatusServer(view, 0, 'UTC');
  t.teardown(() => void plain.server.close());
  t.equal(await get(plain.url, '/', 'appliance.lan'), 421);
  // The config names hosts without a port; a bad entry stops the device at start (exit 2).
  const key = 'A'.repeat(43);
  const config = {
    deviceId: 'dev-1',
    gatewayUrl: 'ws://127.0.0.1:1',
    token: 'device-token-for-tests',
    signalKeys: [key],
    controlKeys: [key],
    stateFile: '/tmp/state.json',
  };
  t.same(ClientConfig.parse({ ...config, statusAllowedHosts: ['Appliance.LAN'] }).statusAllowedHosts, [
    'appliance.lan',
  ]);
  t.same(
    ClientConfig.safeParse({ ...config, statusAllowedHosts: ['appliance.lan:8765'] }).error?.issues.map(
      (i) => `${i.path.join('.')}: ${i.message}`,
    ),
    ['statusAllowedHosts.0: a host name, IPv4 address or [IPv6] address, without a port'],
  );
});

t.test('the breaker per asset: one line each, at most 20, reasons escaped on the page', async (t) => {
  const assets = Object.fromEntries(
    Array.from({ length: 23 }, (_, i) => [
      `A${String(i).padStart(2, '0')}/USDT`,
      { level: 'caution' as const, multiplier: 0.5, reason: `<script>alert(${i})</script>` },
    ]),
  );
  const runtime = {
    connected: true,
    breaker: { level: 'normal' as const, multiplier: 1, reason: '', assets },
    marks: {},
  };
  const view = statusView(emptyState('dev-1'), runtime, 'USDT', Date.now());
  t.equal(view.breaker?.assets.length, 23, 'the JSON has them all');
  const lines = renderStatusText(view).split('\n');
  t.equal(lines[1], 'Circuit breaker: normal (buying as usual)', 'no reason, no dash');
  t.equal(lines[2], '  A00/USDT: caution (buys at half size) — <script>alert(0)</script>');
  t.equal(lines[21], '  A19/USDT: caution (buys at half size) — <script>alert(19)</script>');
  t.equal(lines[22], '  and 3 more assets with a level of their own');
  const html = renderStatusHtml(view);
  t.notMatch(html, /<script>/);
  t.match(html, '  A00/USDT: caution (buys at half size) — &#60;script&#62;alert(0)&#60;/script&#62;');
});
