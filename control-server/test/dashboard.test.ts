import t from 'tap';
import pino from 'pino';
import { chromium } from 'playwright-core';
import { EmbeddedBus, TOPICS, generateSigner, type DecisionRecord } from '@appliance/protocol';
import { requireTool, telemetryFrame, waitFor } from '@appliance/test-kit';
import { startControlServer } from '../src/index.js';

const ADMIN = 'admin-token-0123456789';

const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

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
    scope: 'family',
    gateway: 'gw-1',
    remote: '127.0.0.1',
    receivedAt: Date.now(),
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
  // Started without eligibility: devices refuse every buy, and the page says so until there is some.
  t.match(
    await page.textContent('#warning'),
    /^Buying is off: no asset is eligible: every device refuses every buy/,
  );
  t.ok(await page.isVisible('#warning'), 'the warning is shown');
  if (process.env.SCREENSHOT) await page.screenshot({ path: process.env.SCREENSHOT, fullPage: true });
  await server.control.publishEligibility('ema.1h', ['BTC/USDT']);
  await page.waitForSelector('#warning', { state: 'hidden' });
  t.equal(await page.textContent('#warning'), '', 'gone once a symbol is eligible');
});

t.test(
  'markup from the bus or the registry is shown as text and never runs, in a real browser',
  async (t) => {
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
    const api = async (path: string, body?: unknown) => {
      const res = await fetch(`${url}${path}`, {
        method: body === undefined ? 'GET' : 'POST',
        headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return (await res.json()) as Record<string, unknown>;
    };
    // An intruder with the admin API (finding 1) could set a label; anyone on the bus can write
    // telemetry. Each payload sets a flag if it ever runs.
    const LABEL = '<img src=x onerror="window.__xss=\'label\'">';
    const ERROR = '<img src=x onerror="window.__xss=\'error\'">';
    const REASON = '<script>window.__xss="reason"</script>';
    await api('/api/devices', { id: 'dev-1' });
    await api('/api/devices', { id: 'dev-2', label: LABEL });
    const stamp = { scope: 'family', gateway: 'gw-1', remote: '10.8.0.2' };
    const decision: DecisionRecord = {
      signalId: 'abc',
      stream: 'ema.1h',
      symbol: 'BTC/USDT',
      side: 'buy',
      outcome: 'rejected',
      code: 'R_DAILY_LIMIT',
      reason: REASON,
      ts: Date.now(),
    };
    await bus.publish(TOPICS.telemetry, [
      {
        key: 'dev-1',
        value: JSON.stringify({ ...telemetryFrame('dev-1', { fills: 4 }), ...stamp, receivedAt: Date.now() }),
      },
      // The record from the report, last, so that before the fix it was what the page showed.
      {
        key: 'dev-1',
        value: JSON.stringify({
          type: 'telemetry',
          deviceId: 'dev-1',
          fills: '<img src=x onerror="window.__xss=\'fills\'">',
          equity: 'NaN',
          receivedAt: Date.now(),
          gateway: 'gw-1',
        }),
      },
      {
        key: 'dev-2',
        value: JSON.stringify({
          ...telemetryFrame('dev-2', { errors: [ERROR], lastDecisions: [decision] }),
          ...stamp,
          receivedAt: Date.now(),
        }),
      },
    ]);
    await waitFor(async () => {
      const devices = (await api('/api/fleet')).devices as { id: string; errors: string[] }[];
      return devices.find((d) => d.id === 'dev-2')?.errors.length === 1;
    }, 'the telemetry to be read');

    const page = await (async () => {
      const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
      t.teardown(() => browser.close());
      return browser.newPage();
    })();
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    // (Strings: these run in the page, and this file is compiled without the DOM's types.)
    await page.addInitScript(
      "window.__violations = []; document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(e.violatedDirective));",
    );
    const response = await page.goto(`${url}/#token=${ADMIN}`);
    t.match(response?.headers()['content-security-policy'], /script-src 'self'/);
    t.notMatch(response?.headers()['content-security-policy'], /unsafe-inline/);
    await page.waitForSelector('tr[data-device="dev-2"]');
    await page.waitForTimeout(300); // an image's error handler would have fired by now
    t.equal(await page.evaluate('window.__xss'), undefined, 'no script ran');
    t.same(dialogs, [], 'no dialog');

    const row = (id: string) => page.textContent(`tr[data-device="${id}"]`);
    t.equal(
      (await page.textContent('tr[data-device="dev-1"] .fills'))?.trim(),
      '4',
      'the hostile record was not folded',
    );
    t.match(await row('dev-2'), LABEL, 'the label, literally');
    t.match(await row('dev-2'), `rejected buy BTC/USDT: ${REASON}`, 'the reason, literally');
    t.equal(await page.textContent('tr[data-device="dev-2"] .device-error'), ERROR, 'the error, literally');
    t.equal(await page.locator('#fleet img, #fleet script').count(), 0, 'no element was made from data');
    t.same(await page.evaluate('window.__violations'), [], 'nothing even tried');

    t.equal(page.url(), `${url}/`, 'the token is taken out of the address bar');
    t.equal(
      await page.evaluate("sessionStorage.getItem('appliance.adminToken')"),
      ADMIN,
      'kept for this tab',
    );
    await page.reload();
    await page.waitForSelector('tr[data-device="dev-2"]');
    t.equal(await page.textContent('#error'), '', 'a reload still has the token');
  },
);
