/**
 * Issue #3's client figures: how long the device takes from a signal to an order on the wire,
 * beside a bare HTTP request to the same exchange endpoint, and the client's idle memory.
 */
import { spawn } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import pino from 'pino';
import {
  EmbeddedBus,
  KeyRing,
  createSignal,
  exportPublicKey,
  generateSigner,
  issueDeviceToken,
  verifySignal,
} from '@appliance/protocol';
import { createGateway } from '@appliance/gateway';
import { READY_MESSAGE, createBinanceExecutor, openStateStore } from '@appliance/signal-client';
import { DEFAULT_FAMILY_POLICY, decide, UserSettings } from '@appliance/trading-core';
import { REPO_ROOT } from './ipc.js';
import { summarize as percentiles } from './stats.js';
import type { Suite } from './suite.js';

const ms = (ns: bigint) => Number(ns) / 1e6;

async function startPaper(apiKey: string, secret: string, cpu?: number) {
  const args = ['--import', 'tsx', 'bench/paper-proc.ts', apiKey, secret];
  const proc =
    cpu === undefined
      ? spawn(process.execPath, args, { cwd: REPO_ROOT })
      : spawn('taskset', ['-c', String(cpu), process.execPath, ...args], { cwd: REPO_ROOT });
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: proc.stdout! }).once('line', resolve);
    proc.once('exit', (code) => reject(new Error(`paper exchange exited (${code})`)));
  });
  return { url, stop: () => proc.kill('SIGTERM') };
}

/** The single executable if it has been built (`npm run build:client`), else the client from source. */
function clientCommand(): { cmd: string; args: string[]; what: string } {
  const sea = join(REPO_ROOT, 'images/dist/signal-client');
  if (existsSync(sea)) return { cmd: sea, args: [], what: 'single executable (images/dist)' };
  return {
    cmd: process.execPath,
    args: ['--import', 'tsx', join(REPO_ROOT, 'signal-client/src/main.ts')],
    what: 'from source via tsx (build:client for the executable)',
  };
}

/** Idle RSS of a real client process: connected to a gateway, keys loaded, markets loaded, 5 s after ready. */
async function idleRss(
  paperUrl: string,
  apiKey: string,
  secret: string,
): Promise<{ rssMiB: number; what: string }> {
  const control = generateSigner();
  const gateway = await createGateway({
    bus: new EmbeddedBus(),
    tokenKeys: KeyRing.of(exportPublicKey(control.publicKey)),
    signalKeys: KeyRing.of(exportPublicKey(generateSigner().publicKey)), // no signals in this measurement
    logger: pino({ level: 'silent' }),
  });
  const gatewayUrl = await gateway.listen(0);
  const dir = mkdtempSync(join(tmpdir(), 'bench-rss-'));
  const configFile = join(dir, 'device.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      deviceId: 'bench-rss',
      gatewayUrl,
      token: issueDeviceToken(
        { sub: 'bench-rss', scope: 'family', iat: Date.now(), ttlMs: 3_600_000 },
        control,
      ),
      signalKeys: [exportPublicKey(generateSigner().publicKey)],
      controlKeys: [exportPublicKey(control.publicKey)],
      stateFile: join(dir, 'state.json'),
      exchange: { paperUrl },
      statusPort: 0,
    }),
  );
  const c = clientCommand();
  const proc = spawn(c.cmd, [...c.args, 'run', '--config', configFile], {
    cwd: REPO_ROOT,
    env: { ...process.env, EXCHANGE_API_KEY: apiKey, EXCHANGE_API_SECRET: secret, LOG_LEVEL: 'info' },
  });
  try {
    await new Promise<void>((resolve, reject) => {
      createInterface({ input: proc.stdout! }).on(
        'line',
        (l) => l.includes(`"msg":"${READY_MESSAGE}"`) && resolve(),
      );
      const err: string[] = [];
      createInterface({ input: proc.stderr! }).on('line', (l) => err.push(l));
      proc.once('exit', (code) => reject(new Error(`client exited (${code}): ${err.slice(-5).join('\n')}`)));
    });
    await new Promise((r) => setTimeout(r, 5_000));
    const kb = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${proc.pid}/status`, 'utf8'))?.[1]);
    return { rssMiB: kb / 1024, what: c.what };
  } finally {
    proc.kill('SIGTERM');
    await gateway.close();
  }
}

export const clientDecideSuite: Suite = {
  name: 'client',
  description: 'decide + submit on the device beside a bare HTTP request to the same paper-exchange endpoint',
  options: { 'client-orders': { type: 'string' } },
  async run(ctx) {
    const n = Number(ctx.options['client-orders'] ?? 400);
    const apiKey = randomBytes(24).toString('base64url');
    const secret = randomBytes(32).toString('base64url');
    const paper = await startPaper(apiKey, secret, ctx.pinning.used ? ctx.pinning.loadCpu : undefined);
    try {
      const exchange = createBinanceExecutor({ apiKey, secret, paperUrl: paper.url });
      await exchange.loadMarkets();
      const feed = generateSigner();
      const keys = KeyRing.of(exportPublicKey(feed.publicKey));
      const settings = UserSettings.parse({ timeZone: 'Europe/Berlin' });
      const market = exchange.marketRules('BTC/USDT');
      // The device's own store: the intent goes to its journal before the order (intent-write suite).
      const store = await openStateStore(
        join(mkdtempSync(join(tmpdir(), 'bench-client-')), 'state.json'),
        'bench-client',
      );
      const parts = {
        verify: [] as number[],
        decide: [] as number[],
        journal: [] as number[],
        submit: [] as number[],
        total: [] as number[],
        bare: [] as number[],
      };

      // The bare request: the same signed POST /api/v3/order that ccxt makes, by hand, with fetch.
      const bare = async (i: number) => {
        const q = `symbol=BTCUSDT&side=${i % 2 ? 'SELL' : 'BUY'}&type=MARKET&quantity=0.00250&newClientOrderId=bare${i}&timestamp=${Date.now()}`;
        const sig = createHmac('sha256', secret).update(q).digest('hex');
        const res = await fetch(`${paper.url}/api/v3/order`, {
          method: 'POST',
          headers: { 'X-MBX-APIKEY': apiKey, 'content-type': 'application/x-www-form-urlencoded' },
          body: `${q}&signature=${sig}`,
        });
        if (!res.ok) throw new Error(`bare order failed: ${res.status} ${await res.text()}`);
        await res.json();
      };

      ctx.log(`client: ${n} decide+submit and ${n} bare requests, interleaved`);
      // What the device's buys actually got: a buy spends a quote amount, so after slippage it
      // gets a little less than the decision's amount, and a sell must not take the bare
      // requests' coins (they share the account).
      let held = 0;
      for (let i = -20; i < n; i++) {
        const side = i % 2 ? 'sell' : 'buy';
        const now = Date.now();
        const raw = JSON.parse(
          JSON.stringify(
            createSignal(
              {
                stream: 'bench',
                symbol: 'BTC/USDT',
                side,
                price: 40_000,
                candleTime: 1_000_000 + i * 3_600_000 + 100_000_000,
                ts: now,
                ttlMs: 60_000,
                strength: 1,
                algoVersion: 'b/1',
                origin: 'bench',
              },
              feed,
            ),
          ),
        );
        const t0 = process.hrtime.bigint();
        const signal = verifySignal(raw, keys, { now });
        const t1 = process.hrtime.bigint();
        const decision = decide(
          { ...signal, authenticity: 'verified' },
          {
            quote: 'USDT',
            quoteFree: 100_000_000,
            holdings: side === 'sell' ? { BTC: held } : {},
            marks: { 'BTC/USDT': 40_000 },
            marketPrice: 40_000,
            seedEquity: 100_000_000,
            dayStartEquity: 100_000_000,
            spends: [],
            lastHeartbeatAt: now,
            breaker: { level: 'normal', multiplier: 1 },
            eligibility: { bench: ['BTC/USDT'] },
            market,
          },
          { ...DEFAULT_FAMILY_POLICY, maxSpendPerDay: 1e12, maxExposurePct: 1 },
          settings,
          now,
        );
        if (!decision.accept) throw new Error(`bench decision rejected: ${decision.code} ${decision.reason}`);
        const t2 = process.hrtime.bigint();
        const clientOrderId = `bc${i + 100}x${randomBytes(4).toString('hex')}`;
        const intent = {
          clientOrderId,
          signalId: signal.id,
          stream: 'bench',
          offset: String(i + 100),
          symbol: 'BTC/USDT',
          side,
          amount: decision.amount,
          ...(side === 'buy' ? { quote: decision.quote } : {}),
          expiresAt: now + 60_000,
          createdAt: now,
          sentAt: now,
          status: 'pending',
          attempts: 1,
        } as const;
        store.data.intents[clientOrderId] = intent;
        await store.writeIntent(intent);
        const t3 = process.hrtime.bigint();
        const placed = await exchange.placeMarketOrder({
          symbol: 'BTC/USDT',
          side,
          amount: decision.amount,
          quote: decision.quote,
          clientOrderId,
        });
        held += side === 'buy' ? placed.filled : -placed.filled;
        const t4 = process.hrtime.bigint();
        const b0 = process.hrtime.bigint();
        await bare(i + 100);
        const b1 = process.hrtime.bigint();
        if (i < 0) continue; // warm-up
        parts.verify.push(ms(t1 - t0));
        parts.decide.push(ms(t2 - t1));
        parts.journal.push(ms(t3 - t2));
        parts.submit.push(ms(t4 - t3));
        parts.total.push(ms(t4 - t0));
        parts.bare.push(ms(b1 - b0));
      }
      await store.close();
      const p = Object.fromEntries(Object.entries(parts).map(([k, v]) => [k, percentiles(v)]));
      const excludingExchange = parts.total.map((x, i) => x - parts.bare[i]!);
      ctx.log('client: idle RSS of a running client');
      const rss = await idleRss(paper.url, apiKey, secret);
      const report = {
        idleRss: { ...rss, targetMiB: 80 },
        orders: n,
        latencyMs: p,
        /** Client time beyond the exchange's own answer time, per order (total minus the bare request next to it). */
        excludingExchangeMs: percentiles(excludingExchange),
        ratios: { totalP50: p.total!.p50 / p.bare!.p50, totalP99: p.total!.p99 / p.bare!.p99 },
        targetP99UnderMs: 5,
      };
      const f = (x: number) => x.toFixed(3);
      return {
        report,
        table: [
          'client: decide + submit (ms)        p50      p99',
          `  verify signature            ${f(p.verify!.p50).padStart(8)} ${f(p.verify!.p99).padStart(8)}`,
          `  decide                      ${f(p.decide!.p50).padStart(8)} ${f(p.decide!.p99).padStart(8)}`,
          `  durable intent (journal)    ${f(p.journal!.p50).padStart(8)} ${f(p.journal!.p99).padStart(8)}`,
          `  ccxt createOrder            ${f(p.submit!.p50).padStart(8)} ${f(p.submit!.p99).padStart(8)}`,
          `  total                       ${f(p.total!.p50).padStart(8)} ${f(p.total!.p99).padStart(8)}`,
          `  bare HTTP request (peer)    ${f(p.bare!.p50).padStart(8)} ${f(p.bare!.p99).padStart(8)}`,
          `  excluding the exchange      ${f(report.excludingExchangeMs.p50).padStart(8)} ${f(report.excludingExchangeMs.p99).padStart(8)}   (target p99 < 5 ms)`,
          `  ratio total / bare          ${f(report.ratios.totalP50).padStart(8)} ${f(report.ratios.totalP99).padStart(8)}`,
          `client: idle RSS ${rss.rssMiB.toFixed(1)} MiB (target < 80), ${rss.what}`,
        ],
      };
    } finally {
      paper.stop();
    }
  },
};
