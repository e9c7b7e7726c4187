import t from 'tap';
import { ClientConfig } from '../src/index.js';
import { readStatus } from '../src/status-command.js';
import { startStatusServer } from '../src/status-server.js';
import { renderStatusText, statusView } from '../src/status.js';
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
    t.match(view, { running: true, connected: true, breaker: 'normal', fills: 1, pendingOrders: 0 });
    t.equal(view.holdings.length, 1);
    t.match(view.holdings[0], { asset: 'BTC', amount: 0.0025 });
    t.ok(
      view.pnl && view.pnl.total !== null && view.pnl.total < 0,
      'P&L after paying the fee and slippage is slightly negative',
    );
    const text = renderStatusText(view);
    t.match(text, /^Device dev-1: running, connected\n/);
    t.match(text, /Circuit breaker: normal/);
    t.match(text, /Holdings: 0\.0025 BTC/);
    t.match(
      text,
      /Today's decisions \(2\):\n {2}\d\d:\d\d {2}executed buy {2}BTC\/USDT {3}buy 0\.0025 BTC\/USDT\n {2}\d\d:\d\d {2}rejected sell BTC\/USDT {3}signal expired \d+ ms ago\n$/,
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
    t.match(html, /Circuit breaker: normal/);
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
    t.match(await readStatus(config), { running: true, connected: true, breaker: 'normal' });
    await dev.client.stop();
    page.server.close();
    const offline = await readStatus(config);
    t.match(offline, { running: false, connected: false, breaker: 'unknown', fills: 1 });
    t.match(renderStatusText(offline), /^Device dev-1: not running\n/);
  },
);
