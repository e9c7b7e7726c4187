/**
 * Issue #14: a device killed with SIGKILL at random points during a FLAT, again and again, then
 * restarted: each symbol is sold at most once (orders on the exchange by client order id), only
 * the books' part of it, and the command ends `done`. The paper exchange loses responses and
 * hides new orders for a while, as in crash.test.ts.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { TOPICS, type FleetCommand } from '@appliance/protocol';
import { seededRandom } from '@appliance/trading-core';
import { spawnNode, waitFor } from '@appliance/test-kit';
import { commandOrderId } from '../src/client-order-id.js';
import { READY_MESSAGE, openStateStore } from '../src/index.js';
import { STREAM, signedSignal, startStack, type FleetBody } from './stack.js';

const KILLS = Number(process.env.FLEET_CRASH_KILLS ?? process.env.CRASH_KILLS ?? 20);
const SEED = Number(process.env.CRASH_SEED ?? 20261204);
const GRACE_MS = 600;
/** Where a crash can fall during a flat (the execution path's points, and the command's own). */
const POINTS = [
  'after-command-received',
  'after-intent',
  'after-send',
  'after-settle',
  'after-persist',
  'after-command-order',
] as const;

t.setTimeout(10 * 60_000);

t.test(`a flat survives up to ${KILLS} kill -9 without selling a symbol twice`, async (t) => {
  let fleet: FleetBody[] = [];
  const stack = await startStack(t, { policy: { orderQuote: 100, maxOrderQuote: 100 }, fleet: () => fleet });
  const random = seededRandom(SEED);
  t.comment(`seed ${SEED} (set CRASH_SEED to replay)`);
  const dir = mkdtempSync(join(tmpdir(), 'fleet-crash-'));
  const id = 'flat-1';
  const keys = stack.account(1_000, { BTC: 0.5, ETH: 2 }); // held before provisioning
  const stateFile = join(dir, 'state.json');
  const configFile = join(dir, 'config.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      ...(await stack.deviceConfig(id, stateFile)),
      execution: { notFoundGraceMs: GRACE_MS, notFoundLookups: 3, lookupIntervalMs: 50 },
    }),
  );
  const env = { EXCHANGE_API_KEY: keys.apiKey, EXCHANGE_API_SECRET: keys.secret, LOG_LEVEL: 'warn' };
  const store = () => openStateStore(stateFile, id, { readOnly: true });

  // Provisioning and the device's own buys, with a healthy exchange.
  const first = spawnNode(id, 'signal-client/src/main.ts', ['run', '--config', configFile], {
    ...env,
    LOG_LEVEL: 'info',
  });
  t.teardown(() => first.kill('SIGKILL'));
  await first.waitForLog((l) => l.msg === 'connected to gateway', `${id} connected`, 60_000);
  await waitFor(async () => (await store()).data.since !== undefined, `${id} to go live`, 60_000, 100);
  await stack.signal('buy', 40_000);
  stack.paper.onCandle('ETH/USDT', {
    time: 1_800_000_000_000,
    open: 2_000,
    high: 2_000,
    low: 2_000,
    close: 2_000,
    volume: 1,
  });
  const eth = signedSignal(stack.feed, { symbol: 'ETH/USDT', price: 2_000, candleTime: 1_800_000_000_000 });
  await stack.bus.publish(TOPICS.signals, [{ key: STREAM, value: JSON.stringify(eth) }]);
  await waitFor(
    async () => (await store()).data.decisions.filter((d) => d.outcome === 'executed').length === 2,
    'both buys',
    60_000,
    100,
  );
  await first.kill('SIGKILL');
  const books = (await store()).data.decisions.map((d) => [d.symbol, d.amount!] as const);
  const bought = Object.fromEntries(books);

  // The flat, while the exchange misbehaves and the device is killed at random points.
  stack.paper.faults.loseResponseRate = 0.2;
  stack.paper.faults.notFoundAfterCreateMs = 300;
  const cmd: FleetCommand = {
    id: 'cmd-crashflat1',
    action: 'flat',
    reason: 'crash test',
    by: 'ops',
    issuedAt: Date.now(),
    expiresAt: Date.now() + 3_600_000,
  };
  fleet = [{ target: 'all', halted: true, reason: cmd.reason, commands: [cmd] }];
  await stack.controlPublisher.publishFleet();
  let kills = 0;
  for (; kills < KILLS; kills++) {
    if ((await store()).data.commands[cmd.id]?.status === 'done') break;
    const point = random() < 0.8 ? POINTS[Math.floor(random() * POINTS.length)] : undefined;
    const spec = point ? `${point}:1` : undefined;
    const proc = spawnNode(
      id,
      'signal-client/src/main.ts',
      ['run', '--config', configFile],
      spec ? { ...env, SIGNAL_CLIENT_FAILPOINTS: spec } : env,
    );
    const timer = setTimeout(() => proc.proc.kill('SIGKILL'), 500 + random() * 2_500);
    const { signal } = await proc.exited;
    clearTimeout(timer);
    t.equal(signal, 'SIGKILL', `kill ${kills + 1} (${spec ?? 'timer'}) was a kill -9`);
    const opened = await openStateStore(stateFile, id).catch((err: Error) => err);
    if (opened instanceof Error) t.fail(`state unreadable after kill ${kills + 1}: ${opened.message}`);
    else await opened.close();
  }
  t.comment(`${kills} kills`);

  // A last, clean run finishes the command.
  stack.paper.faults.loseResponseRate = 0;
  const last = spawnNode(id, 'signal-client/src/main.ts', ['run', '--config', configFile], {
    ...env,
    LOG_LEVEL: 'info',
  });
  t.teardown(() => last.kill('SIGKILL'));
  await last.waitForLog((l) => l.msg === READY_MESSAGE, `${id} ready`, 60_000);
  await waitFor(
    async () => (await store()).data.commands[cmd.id]?.status === 'done',
    'the flat to be done',
    60_000,
    200,
  );
  t.equal((await last.kill('SIGTERM')).code, 0, 'stops cleanly');

  const state = (await store()).data;
  const sells = stack.paper.orders(keys.apiKey).filter((o) => o.side === 'SELL');
  const ids = sells.map((o) => o.clientOrderId);
  t.equal(new Set(ids).size, ids.length, 'every client order id once on the exchange');
  t.same(
    sells.map((o) => [o.clientOrderId, o.executedQty]).sort(),
    [
      [commandOrderId(id, cmd.id, 'BTC/USDT'), bought['BTC/USDT']],
      [commandOrderId(id, cmd.id, 'ETH/USDT'), bought['ETH/USDT']],
    ].sort(),
    'each symbol sold once, the books’ part',
  );
  const balances = stack.paper.account(keys.apiKey).balances;
  t.equal(Number(balances.BTC!.free), 0.5, 'BTC held before untouched');
  t.equal(Number(balances.ETH!.free), 2, 'ETH held before untouched');
  t.match(state.commands[cmd.id], {
    status: 'done',
    sold: [
      { symbol: 'BTC/USDT', amount: bought['BTC/USDT'] },
      { symbol: 'ETH/USDT', amount: bought['ETH/USDT'] },
    ],
  });
  t.same(
    Object.values(state.intents)
      .filter((i) => i.status === 'pending')
      .map((i) => i.clientOrderId),
    [],
    'every intent resolved',
  );
});
