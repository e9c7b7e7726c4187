/**
 * Crash test: the device is killed with SIGKILL at random points between intent, send and ack,
 * at least 200 times, against a paper exchange that loses responses and hides new orders for a
 * while (as Binance may). Pass: no duplicate fill, no exchange order missing from the journal,
 * every intent resolved after restart, books balanced and equal to the exchange, and a state
 * file that is readable after every single kill.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { Ledger, seededRandom } from '@appliance/trading-core';
import { spawnNode, waitFor } from '@appliance/test-kit';
import { FAILPOINTS } from '../src/failpoints.js';
import { READY_MESSAGE, openStateStore } from '../src/index.js';
import { startStack } from './stack.js';

// 80 in CI keeps \`npm test\` near its 15-minute budget on two cores; a soak runs more, e.g.
// CRASH_KILLS=1000 npx tap signal-client/test/crash.test.ts (with CRASH_SEED to vary the points).
const KILLS = Number(process.env.CRASH_KILLS ?? 80);
const DEVICES = 2;
const SEED = Number(process.env.CRASH_SEED ?? 20261121);
/** The device's not-found grace; must exceed the exchange's lag (300 ms) for the test to pass. */
const GRACE_MS = Number(process.env.CRASH_GRACE_MS ?? 600);

// 80 process restarts take about 2 minutes on 2 busy cores, a soak far more: past tap's default per-file limit.
t.setTimeout(15 * 60_000);

t.test(
  `the device survives ${KILLS} kill -9 at random points without a duplicate or lost order`,
  async (t) => {
    const stack = await startStack(t, {
      policy: {
        orderQuote: 20,
        maxOrderQuote: 20,
        maxSpendPerDay: 10_000_000,
        dailyLossLimitPct: 1,
        maxOpenPositions: 10,
      },
    });
    const random = seededRandom(SEED);
    t.comment(`seed ${SEED} (set CRASH_SEED to replay)`);
    stack.paper.faults.loseResponseRate = 0.2;
    stack.paper.faults.notFoundAfterCreateMs = 300; // below the device's grace period
    const dir = mkdtempSync(join(tmpdir(), 'crash-'));

    // Signals alternate buy and sell so the device keeps trading in both directions.
    let price = 40_000;
    let side: 'buy' | 'sell' = 'buy';
    let published = 0;
    const publish = async () => {
      price *= 1 + (random() - 0.5) * 0.01;
      await stack.signal(side, Math.round(price * 100) / 100);
      side = side === 'buy' ? 'sell' : 'buy';
      published++;
    };

    async function chain(n: number, id: string) {
      const keys = stack.account(1_000_000);
      const stateFile = join(dir, id, 'state.json');
      const configFile = join(dir, `${id}.json`);
      const cfg = (await stack.deviceConfig(id, stateFile)) as Record<string, unknown>;
      writeFileSync(
        configFile,
        JSON.stringify({
          ...cfg,
          execution: { notFoundGraceMs: GRACE_MS, notFoundLookups: 3, lookupIntervalMs: 50 },
        }),
      );
      const env = { EXCHANGE_API_KEY: keys.apiKey, EXCHANGE_API_SECRET: keys.secret, LOG_LEVEL: 'warn' };
      // Provisioning: the device connects once and learns where the gateway stands (its `since`).
      const first = spawnNode(id, 'signal-client/src/main.ts', ['run', '--config', configFile], env);
      await waitFor(
        async () =>
          (await openStateStore(stateFile, id, { readOnly: true }).catch(() => undefined))?.data.since !==
          undefined,
        `${id} to connect`,
        60_000,
        100,
      );
      await first.kill('SIGKILL');

      for (let i = 0; i < n; i++) {
        const failAt = random() < 0.75 ? FAILPOINTS[Math.floor(random() * FAILPOINTS.length)] : undefined;
        const spec = failAt ? `${failAt}:${random() < 0.8 ? 1 : 2}` : undefined;
        const proc = spawnNode(
          id,
          'signal-client/src/main.ts',
          ['run', '--config', configFile],
          spec ? { ...env, SIGNAL_CLIENT_FAILPOINTS: spec } : env,
        );
        await publish();
        if (random() < 0.7) await publish();
        // A fail point kills the process itself; otherwise (or if it is never reached) kill it at a random moment.
        const timer = setTimeout(() => proc.proc.kill('SIGKILL'), failAt ? 3_000 : 300 + random() * 2_000);
        const { signal } = await proc.exited;
        clearTimeout(timer);
        t.equal(signal, 'SIGKILL', `${id} kill ${i + 1} (${spec ?? 'timer'}) was a kill -9`);

        // The state must be readable after every crash (opening checks JSON, schema and books,
        // replays the intent journal and cuts off a torn tail, as the next start does).
        const store = await openStateStore(stateFile, id).catch((err: Error) => err);
        if (store instanceof Error) t.fail(`${id}: state unreadable after kill ${i + 1}: ${store.message}`);
      }
      return { keys, stateFile, configFile, env };
    }

    await publish(); // the stream exists before any device connects
    const chains = await Promise.all(
      Array.from({ length: DEVICES }, (_, i) => chain(Math.ceil(KILLS / DEVICES), `crash-${i + 1}`)),
    );

    // A last, clean run: reconcile everything left, catch up with every signal, stop.
    for (const [i, c] of chains.entries()) {
      const id = `crash-${i + 1}`;
      const proc = spawnNode(id, 'signal-client/src/main.ts', ['run', '--config', c.configFile], {
        ...c.env,
        LOG_LEVEL: 'info',
      });
      t.teardown(() => proc.kill('SIGKILL'));
      await proc.waitForLog((l) => l.msg === READY_MESSAGE, `${id} ready`, 60_000);
      // Read only while it runs: an append in progress is not a torn tail to cut off.
      const store = () => openStateStore(c.stateFile, id, { readOnly: true });
      await waitFor(
        async () =>
          Object.keys((await store()).data.resume).length > 0 &&
          Number((await store()).data.resume['ema.1h']) === published - 1,
        `${id} to handle every signal`,
        60_000,
        200,
      );
      t.equal((await proc.kill('SIGTERM')).code, 0, `${id} stops cleanly`);

      const state = (await store()).data;
      const intents = Object.values(state.intents);
      const orders = stack.paper.orders(c.keys.apiKey);
      const ids = orders.map((o) => o.clientOrderId);
      t.ok(
        orders.length >= Math.min(20, KILLS / DEVICES / 4),
        `${id}: the exchange saw real trading (${orders.length} orders)`,
        {
          lastDecisions: state.decisions.slice(-4).map((d) => `${d.outcome} ${d.code} ${d.reason}`),
        },
      );
      t.equal(
        new Set(ids).size,
        ids.length,
        `${id}: no duplicate fill (every client order id once on the exchange)`,
      );
      const journal = new Set(intents.map((x) => x.clientOrderId));
      t.same(
        ids.filter((x) => !journal.has(x)),
        [],
        `${id}: no exchange order missing from the journal`,
      );
      t.same(
        intents.filter((x) => x.status === 'pending').map((x) => x.clientOrderId),
        [],
        `${id}: every intent resolved`,
      );
      t.same(
        intents.filter((x) => x.status !== 'pending' && !x.reported).map((x) => x.clientOrderId),
        [],
        `${id}: every settled order has its decision kept, even when killed right after it settled`,
      );
      t.same(
        intents
          .filter((x) => x.status === 'done')
          .map((x) => x.clientOrderId)
          .sort(),
        [...ids].sort(),
        `${id}: the journal's done intents are exactly the exchange's orders`,
      );
      const books = Ledger.fromJSON(state.ledger);
      t.ok(books.isBalanced(), `${id}: books balanced`);
      const acct = stack.paper.account(c.keys.apiKey);
      t.equal(
        books.cash().toFixed(4),
        Number(acct.balances.USDT!.free).toFixed(4),
        `${id}: book cash equals the exchange`,
      );
      t.equal(
        books.position('BTC').quantity,
        Number(acct.balances.BTC?.free ?? 0),
        `${id}: book BTC equals the exchange`,
      );
    }
  },
);
