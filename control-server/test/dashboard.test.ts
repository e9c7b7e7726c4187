import t from 'tap';
import pino from 'pino';
import { chromium } from 'playwright-core';
import { EmbeddedBus, TOPICS, generateSigner } from '@appliance/protocol';
import { requireTool } from '@appliance/test-kit';
import { startControlServer } from '../src/index.js';

const ADMIN = 'admin-token-0123456789';

t.test('the dashboard shows each device, online or not, with its fills, in a real browser', async (t) => {
  if (!requireTool('chromium', 'chromium'))
    return t.comment('chromium is not installed: apt-get install chromium');
  const bus = new EmbeddedBus();
  const server = await startControlServer({
    bus,
    signer: generateSigner(),
    adminToken: ADMIN,
    logger: pino({ level: 'silent' }),
    paper: false,
  });
  const url = await server.listen(0);
  t.teardown(() => server.close());
  for (const id of ['dev-1', 'dev-2']) {
    await fetch(`${url}/api/devices`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id }),
    });
  }
  const decision = {
    signalId: 'abc',
    stream: 'ema.1h',
    symbol: 'BTC/USDT',
    side: 'buy',
    outcome: 'executed',
    code: 'OK',
    reason: 'buy 0.002 BTC/USDT',
    ts: Date.now(),
  };
  const telemetry = {
    type: 'telemetry',
    deviceId: 'dev-1',
    ts: Date.now(),
    quote: 'USDT',
    equity: 10012.5,
    cash: 9900,
    positions: {},
    spendToday: 100,
    fills: 4,
    lastDecisions: [decision],
    errors: [],
    receivedAt: Date.now(),
    gateway: 'gw-1',
  };
  await bus.publish(TOPICS.telemetry, [{ key: 'dev-1', value: JSON.stringify(telemetry) }]);

  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  t.teardown(() => browser.close());
  const page = await browser.newPage();

  await page.goto(`${url}/#token=wrong`);
  await page.waitForSelector('#error:not(:empty)');
  t.match(await page.textContent('#error'), /Not authorised/, 'a wrong token is explained, not ignored');

  await page.goto(`${url}/#token=${ADMIN}`);
  await page.waitForSelector('tr[data-device="dev-1"]');
  const row = (id: string) => page.textContent(`tr[data-device="${id}"]`);
  t.match(await row('dev-1'), /online/);
  t.equal((await page.textContent('tr[data-device="dev-1"] .fills'))?.trim(), '4');
  t.match(await row('dev-1'), /executed buy BTC\/USDT: buy 0\.002 BTC\/USDT/);
  t.match(await row('dev-2'), /offline/);
  t.match(await row('dev-2'), /never/);
  t.equal(await page.textContent('#breaker'), 'normal');
  if (process.env.SCREENSHOT) await page.screenshot({ path: process.env.SCREENSHOT, fullPage: true });
});
