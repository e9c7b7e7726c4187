// The dashboard shows the simulator's latest results and the changes waiting for an operator,
// as text: a reason is written by a simulator node and must never run in the operator's page.
import t from 'tap';
import { chromium } from 'playwright-core';
import { KeyRing, createSimulatorResult, generateSigner } from '@appliance/protocol';
import { requireTool } from '@appliance/test-kit';
import { ADMIN, setup } from './helpers.js';

t.test('the dashboard shows simulator results and pending approvals, in a real browser', async (t) => {
  if (!requireTool('chromium', 'chromium'))
    return t.comment('chromium is not installed: apt-get install chromium');
  const sim = generateSigner();
  const { url, call } = await setup(t, {
    paper: false,
    simulatorKeys: KeyRing.of(sim.publicKey),
    eligibilityApproval: { 'mandate-x.1h': 'manual' },
  });
  const REASON = '<img src=x onerror="window.__xss=\'reason\'">';
  const at = Date.now();
  const result = createSimulatorResult(
    {
      runId: 'run-dash',
      at,
      end: at - 60_000,
      node: 'sim-a',
      decisions: [
        { stream: 'ema.1h', symbol: 'ETH/USDT', eligible: true, reason: 'positive on every horizon' },
        { stream: 'ema.1h', symbol: 'BTC/USDT', eligible: false, reason: REASON },
        { stream: 'mandate-x.1h', symbol: 'SOL/USDT', eligible: true, reason: 'steady for the mandate' },
      ],
    },
    sim,
  );
  t.equal((await call('POST', '/api/simulator/results', result, '')).status, 201);
  await call('POST', '/api/eligibility/overrides', {
    stream: 'ema.1h',
    symbol: 'ADA/USDT',
    mode: 'block',
    reason: 'delisting notice',
    operator: 'alice',
  });

  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  });
  t.teardown(() => browser.close());
  const page = await browser.newPage();
  await page.goto(`${url}/#token=${ADMIN}`);
  await page.waitForSelector('tr[data-result="ema.1h ETH/USDT"]');
  const row = (sel: string) => page.textContent(sel);
  const eth = await row('tr[data-result="ema.1h ETH/USDT"]');
  t.match(eth, /ema\.1hETH\/USDTyespositive on every horizonrun-dash/);
  t.match(eth, /applied$/);
  const btc = await row('tr[data-result="ema.1h BTC/USDT"]');
  t.match(btc, /no/);
  t.ok(btc?.includes(REASON), 'the reason is shown as it was written, as text');
  t.match(await row('tr[data-result="mandate-x.1h SOL/USDT"]'), /pending$/);
  const pending = await row('tr[data-change="run-dash~mandate-x.1h"]');
  t.match(pending, /run-dash~mandate-x\.1hmandate-x\.1hrun-dash/);
  t.match(pending, /SOL\/USDT eligible: steady for the mandate/);
  t.match(await row('#overrides'), /ema\.1hADA\/USDTblockeddelisting noticealice/);
  t.equal(await page.evaluate('window.__xss'), undefined, 'nothing ran');

  // Approved: it leaves the waiting list and shows as applied.
  t.equal((await call('POST', '/api/eligibility/pending/run-dash~mandate-x.1h/approve', {})).status, 200);
  await page.waitForSelector('tr[data-change]', { state: 'detached' });
  t.match(await row('#pending'), /Nothing is waiting\./);
  await page.waitForFunction(
    `document.querySelector('tr[data-result="mandate-x.1h SOL/USDT"]')?.textContent?.endsWith('applied')`,
  );
  t.pass('the approved change shows as applied');
});
