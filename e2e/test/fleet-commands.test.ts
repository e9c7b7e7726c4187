/**
 * Issue #14 end to end: fleet commands with acknowledgement and versioned spending policies,
 * through the gateway, with three devices on librdkafka's mock cluster (every part its own
 * process, as in breaker.test.ts): `fam-1` and `fam-2` registered as `family`, `beta-1` as
 * `beta`. Each account holds 0.1 ETH bought on the exchange before its device first started
 * (through the paper exchange's own Binance API with the device's keys: the control server's API
 * cannot seed a paper account's balances), and each device buys BTC and ETH through the system
 * (buy signals signed with the stack's feed key).
 *
 * a. Policies: `npm run policy -- set family --file F` is in force on both family devices within
 *    10 s (the version each reports in telemetry, read from the fleet view; and the smaller order
 *    it then places), beta is untouched; `rollback --to 1` publishes version 1's content as
 *    version 3, which the devices take. An invalid policy is refused (400, naming the field) and
 *    nothing is stored or published.
 * b. FLAT ALL through `npm run fleet -- flat` then `confirm ID`: `beta-1` is stopped (SIGTERM)
 *    when it goes out and restarted later; `fam-2` is killed with SIGKILL (its fail point
 *    `after-send:1`: the exchange took its first sale, the answer not yet recorded) and restarted.
 *    Every position the system opened is sold once per device (orders by client order id, none
 *    twice), the coins held before stay, every device's `done` reaches the operator (API and
 *    `npm run fleet -- status ID`), and buys are refused with R_FLEET_HALT until `resume`.
 * c. Bad input through the API: an unknown target (400), a confirm of an unknown id (404), of a
 *    confirmed one (409), after its window (410): each changes nothing here or on the devices.
 *    The confirm window is five minutes and nothing shortens it, so for the 410 the control
 *    server's clock is moved six minutes ahead and back (fixtures/fleet-control.ts).
 *
 * A device acts on a control change once the control message reaches it, and the control and
 * signals topics are not ordered with each other: before each signal that depends on a change the
 * test waits until every device shows it, so each decision is exact.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import type { DecisionRecord, Signal } from '@appliance/protocol';
import { createBinance } from '@appliance/runtime/ccxt';
import { READY_MESSAGE, clientOrderId } from '@appliance/signal-client';
import { requireTool, waitFor } from '@appliance/test-kit';
import { commandOrderId } from '../../signal-client/src/client-order-id.js';
import {
  CONTROL_CLOCK_ENV,
  callApi,
  exitOf,
  recordControls,
  runAdminCli,
  shiftControlClock,
  type CliRun,
} from './fixtures/fleet-control.js';
import { startSimulatorStack, type MarketSymbol, type SimulatorStack } from './fixtures/simulator-stack.js';

const STREAM = 'ema-cross.1h';
const SYMBOLS: MarketSymbol[] = ['BTC/USDT', 'ETH/USDT'];
const FAMILY = ['fam-1', 'fam-2'];
const BETA = 'beta-1';
const DEVICES = [...FAMILY, BETA];
/** Killed with SIGKILL in the middle of the flat, then restarted. */
const KILLED = 'fam-2';
/** Stopped when the flat goes out, restarted once the others are done. */
const OFFLINE = BETA;
/** What each account held before its device first started, bought outside the system. */
const HELD_ETH = 0.1;
/** The exchange's amount step of each symbol (paper-exchange/src/default-markets.ts). */
const STEP: Record<MarketSymbol, number> = { 'BTC/USDT': 0.00001, 'ETH/USDT': 0.0001 };
/** Codes a device answers with before it has heard the control server. */
const NOT_YET_CONTROLLED = ['R_NO_ELIGIBILITY', 'R_NO_POLICY', 'R_BREAKER_UNKNOWN', 'R_NO_HEARTBEAT'];
const OPERATOR = 'e2e-operator';
const FLAT_REASON = 'exchange incident: unwind everything';
const FLEET_CLI = 'control-server/src/fleet-cli/main.ts';
const POLICY_CLI = 'control-server/src/policy-cli/main.ts';

interface PolicyVersion {
  profile: string;
  version: number;
  policy: Record<string, unknown>;
  rolledBackFrom: number | null;
}
interface FleetView {
  devices: {
    id: string;
    scope: string;
    online: boolean;
    policyVersion: number | null;
    policyLagging: boolean;
  }[];
}
interface DeviceRow {
  deviceId: string;
  profile: string;
  status: string;
  sold?: { symbol: string; amount: number; orderId?: string }[];
  unsold?: { symbol: string; amount: number; reason: string }[];
}
interface CommandAnswer {
  command: { id: string; state: string; action: string; target: string; confirmedAt: number | null };
  devices: DeviceRow[];
}
interface ApiError {
  error: string;
  message: string;
}
interface ExchangeOrder {
  clientOrderId?: string;
  side: string;
  symbol: string;
  filled?: number;
}

t.test('fleet commands and policy versions reach three devices through the gateway', async (t) => {
  if (!requireTool('kcat', 'kcat')) return t.comment('kcat is not installed: apt-get install kcat');
  const stack = await startSimulatorStack(t, {
    eligibility: { [STREAM]: SYMBOLS },
    devices: Object.fromEntries(DEVICES.map((d) => [d, [STREAM]])),
    scopes: { 'fam-1': 'family', 'fam-2': 'family', [BETA]: 'beta' },
    statusPages: true,
    controlEnv: CONTROL_CLOCK_ENV,
    // The coins each person held before: bought on their exchange account, not by the system.
    beforeDevices: async (s) => {
      for (const id of DEVICES) {
        const ex = exchangeOf(s, id);
        await ex.loadMarkets();
        await ex.createOrder('ETH/USDT', 'market', 'buy', HELD_ETH, undefined, {
          newClientOrderId: `held-before-${id}`,
        });
      }
    },
  });
  const controls = await recordControls(t, stack);
  const held: Record<string, Record<string, number>> = {};
  for (const id of DEVICES) held[id] = await totals(stack, id);
  for (const id of DEVICES)
    t.ok(
      Math.abs((held[id]!.ETH ?? 0) - HELD_ETH) < 1e-9,
      `${id}'s account holds ${HELD_ETH} ETH from before`,
    );

  let step = 3;
  /** A fresh candle of every symbol and a buy of `symbol` on it; every device's decision. */
  const buy = async (symbol: MarketSymbol) => {
    const i = step++;
    await stack.publishMarket(i);
    const signal: Signal = await stack.publishSignal(STREAM, symbol, 'buy', i);
    const decisions: Record<string, DecisionRecord> = {};
    for (const id of DEVICES) decisions[id] = await stack.decisionOf(id, signal);
    return { signal, decisions };
  };
  const statusUrl = (id: string) => {
    const ready = stack.devices.get(id)!.proc.lines.findLast((l) => l.msg === READY_MESSAGE)!;
    return String(ready.statusPage);
  };
  const operatorHalt = async (id: string) => {
    const res = await fetch(`${statusUrl(id)}/status.json`);
    return ((await res.json()) as { operatorHalt: string | null }).operatorHalt;
  };
  const fleet = () => stack.request<FleetView>('GET', '/api/fleet');
  const policyVersionOf = async (id: string) =>
    (await fleet()).devices.find((d) => d.id === id)?.policyVersion ?? null;
  const command = (id: string) => stack.request<CommandAnswer>('GET', `/api/commands/${id}`);
  const statusesOf = async (id: string) =>
    Object.fromEntries((await command(id)).devices.map((d) => [d.deviceId, d.status]));
  const fleetCli = (args: string[]) => runAdminCli(stack, FLEET_CLI, args);
  const policyCli = (args: string[]) => runAdminCli(stack, POLICY_CLI, args);
  /** `fleet <action> --target T --reason R`, then `confirm ID`: the command's id. */
  const issueAndConfirm = async (t: Test, action: 'flat' | 'resume', target: string, reason: string) => {
    const issued: CliRun = await fleetCli([
      action,
      '--target',
      target,
      '--reason',
      reason,
      '--operator',
      OPERATOR,
    ]);
    t.equal(issued.code, 0, `npm run fleet -- ${action} exits 0: ${issued.out}`);
    const id = /^issued (cmd-[a-z0-9]+): /m.exec(issued.out)?.[1];
    t.ok(id, `it prints the command's id: ${issued.out.split('\n')[0]}`);
    t.match(issued.out, `npm run fleet -- confirm ${id}`, 'and how to confirm it');
    const before = await command(id!);
    t.equal(before.command.state, 'awaiting-confirmation', 'nothing is sent before the confirmation');
    t.notOk(
      controls.some((c) => c.kind === 'fleet' && JSON.stringify(c.body).includes(id!)),
      'no fleet message carries it yet',
    );
    const confirmed = await fleetCli(['confirm', id!, '--operator', OPERATOR]);
    t.equal(confirmed.code, 0, `npm run fleet -- confirm exits 0: ${confirmed.out}`);
    t.match(confirmed.out, `confirmed ${id}: ${action} ${target}`, 'it says what was confirmed');
    return id!;
  };

  // ---- set-up: beta's policy, then every device has bought BTC and ETH through the system ----
  const v1 = await stack.request<PolicyVersion>('GET', '/api/policies/family/1');
  const beta1 = await callApi<PolicyVersion>(stack, 'POST', '/api/policies/beta', {
    policy: v1.policy,
    note: 'beta starts with the family policy',
    operator: OPERATOR,
  });
  t.equal(beta1.status, 201, 'beta gets a policy of its own');
  t.equal(beta1.body.version, 1, 'its version 1');

  for (let n = 0; ; n++) {
    const { decisions } = await buy('BTC/USDT');
    const waiting = Object.values(decisions).filter((d) => d.outcome !== 'executed');
    if (waiting.length === 0) break;
    for (const d of waiting)
      if (!NOT_YET_CONTROLLED.includes(d.code)) t.fail(`a warm-up buy refused: ${d.code} ${d.reason}`);
    if (n >= 20) throw new Error(`devices never bought: ${waiting.map((d) => d.code).join(', ')}`);
    await new Promise((r) => setTimeout(r, 500));
  }
  const eth = await buy('ETH/USDT');
  for (const id of DEVICES)
    t.equal(eth.decisions[id]!.outcome, 'executed', `${id} buys ETH through the system`);

  await t.test('a: a policy change is in force on every family device; a rollback restores it', async (t) => {
    await waitFor(async () => {
      const f = await fleet();
      return DEVICES.every((id) => f.devices.find((d) => d.id === id)?.policyVersion === 1);
    }, 'every device to report policy version 1');

    const file = join(stack.dir, 'family-v2.json');
    writeFileSync(file, JSON.stringify({ ...v1.policy, orderQuote: 50 }));
    const set = await policyCli([
      'set',
      'family',
      '--file',
      file,
      '--note',
      'smaller orders',
      '--operator',
      OPERATOR,
    ]);
    t.equal(set.code, 0, `npm run policy -- set exits 0: ${set.out}`);
    t.match(set.out, /^published family v2 /m, 'it publishes version 2');
    // The requirement itself: in force on every family device within 10 s.
    await waitFor(
      async () => {
        const f = await fleet();
        return FAMILY.every((id) => f.devices.find((d) => d.id === id)?.policyVersion === 2);
      },
      'every family device to report policy version 2',
      10_000,
    );
    const view = await fleet();
    t.same(
      Object.fromEntries(view.devices.map((d) => [d.id, [d.scope, d.policyVersion, d.policyLagging]])),
      { 'fam-1': ['family', 2, false], 'fam-2': ['family', 2, false], [BETA]: ['beta', 1, false] },
      'the fleet view: family on version 2, beta on its own version 1, none lagging',
    );
    // The limit is applied, not only reported: family devices now spend 50 a buy, beta 100.
    const small = await buy('BTC/USDT');
    const spent = (id: string) =>
      stack.readState(id).intents[clientOrderId(id, small.signal.id)]?.quote ?? Number.NaN;
    // The quote is the policy's orderQuote, less what rounding the amount down to the step costs.
    for (const id of FAMILY)
      t.ok(spent(id) <= 50 && spent(id) > 45, `${id}'s buy spends the new orderQuote 50: ${spent(id)}`);
    t.ok(spent(BETA) <= 100 && spent(BETA) > 95, `the beta device spends its own 100: ${spent(BETA)}`);

    const rollback = await policyCli(['rollback', 'family', '--to', '1', '--operator', OPERATOR]);
    t.equal(rollback.code, 0, `npm run policy -- rollback exits 0: ${rollback.out}`);
    t.match(rollback.out, /^published family v3 .*\(rollback to v1\)/m, 'it publishes version 3');
    const v3 = await stack.request<PolicyVersion>('GET', '/api/policies/family/3');
    t.same(v3.policy, v1.policy, "version 3's content is version 1's");
    t.equal(v3.rolledBackFrom, 1, 'and says it rolls back to version 1');
    const diff = await stack.request<{ changes: unknown[] }>('GET', '/api/policies/family/diff?from=1&to=3');
    t.same(diff.changes, [], 'the diff of 1 and 3 is empty');
    await waitFor(
      async () => {
        const f = await fleet();
        return FAMILY.every((id) => f.devices.find((d) => d.id === id)?.policyVersion === 3);
      },
      'every family device to report policy version 3',
      10_000,
    );
    const after = await buy('BTC/USDT');
    for (const id of FAMILY) {
      const quote = stack.readState(id).intents[clientOrderId(id, after.signal.id)]?.quote ?? Number.NaN;
      t.ok(quote <= 100 && quote > 95, `${id} spends version 1's orderQuote 100 again: ${quote}`);
    }

    // An invalid policy: refused, naming the field; nothing stored, nothing published.
    const bad = await callApi<ApiError>(stack, 'POST', '/api/policies/family', {
      policy: { ...v1.policy, maxExposurePct: 2 },
      operator: OPERATOR,
    });
    t.equal(bad.status, 400, 'an invalid policy is refused with 400');
    t.equal(bad.body.error, 'E_POLICY_INVALID', 'as E_POLICY_INVALID');
    t.match(bad.body.message, /^policy\.maxExposurePct: /, `naming the field: ${bad.body.message}`);
    const versions = await stack.request<{ versions: PolicyVersion[] }>('GET', '/api/policies/family');
    t.same(
      versions.versions.map((v) => v.version).sort((a, b) => a - b),
      [1, 2, 3],
      'family still has versions 1 to 3',
    );
    t.equal(await policyVersionOf('fam-1'), 3, 'and the devices keep version 3');
  });

  let flatId = '';
  await t.test('b: FLAT ALL sells what the system bought, once, on every device', async (t) => {
    // What the system bought on each device: its own orders' fills (client ids from signals).
    const bought: Record<string, Record<string, number>> = {};
    for (const id of DEVICES) {
      const mine: Record<string, number> = {};
      for (const o of await ordersOf(stack, id))
        if (o.side === 'buy' && o.clientOrderId?.startsWith('sa'))
          mine[o.symbol] = (mine[o.symbol] ?? 0) + (o.filled ?? 0);
      bought[id] = mine;
      t.ok(
        (mine['BTC/USDT'] ?? 0) > 0 && (mine['ETH/USDT'] ?? 0) > 0,
        `${id} holds BTC and ETH the system bought: ${JSON.stringify(mine)}`,
      );
    }

    // fam-2 restarts armed to kill itself (SIGKILL) right after the exchange took its next order.
    await stack.devices.get(KILLED)!.proc.kill('SIGTERM');
    await stack.startDevice(KILLED, { SIGNAL_CLIENT_FAILPOINTS: 'after-send:1' });
    const offline = await stack.devices.get(OFFLINE)!.proc.kill('SIGTERM');
    t.equal(offline.code, 0, `${OFFLINE} is stopped with SIGTERM before the flat goes out`);

    flatId = await issueAndConfirm(t, 'flat', 'all', FLAT_REASON);
    const killed = stack.devices.get(KILLED)!.proc;
    const died = await exitOf(killed, `${KILLED} to kill itself mid-command`);
    t.equal(died.signal, 'SIGKILL', `${KILLED} is killed with SIGKILL in the middle of the flat`);
    t.ok(
      killed.lines.some((l) => l.msg === 'fleet command received' && l.command === flatId),
      'after it had taken the command',
    );
    const restarted = await stack.startDevice(KILLED);
    const sale = commandOrderId(KILLED, flatId, 'BTC/USDT');
    const reconciled = await restarted.waitForLog(
      (l) => l.msg === 'reconciled intent' && l.clientOrderId === sale,
      `${KILLED} to reconcile the sale it was killed in`,
    );
    t.equal(
      reconciled.status,
      'done',
      'restarted, it finds the sale the exchange took, by its client order id',
    );

    await waitFor(
      async () => {
        const s = await statusesOf(flatId);
        return FAMILY.every((id) => s[id] === 'done') && s[OFFLINE] === 'offline';
      },
      `both family devices done and ${OFFLINE} offline`,
      60_000,
    );
    t.pass(`${OFFLINE} shows offline while it is stopped`);
    await stack.startDevice(OFFLINE);
    await waitFor(
      async () => Object.values(await statusesOf(flatId)).every((s) => s === 'done'),
      'all three devices done',
      60_000,
    );
    const answer = await command(flatId);
    t.same(answer.devices.map((d) => d.deviceId).sort(), [...DEVICES].sort(), 'the command covers all three');

    const status = await fleetCli(['status', flatId]);
    t.equal(status.code, 0, `npm run fleet -- status exits 0: ${status.out}`);
    for (const id of DEVICES)
      t.match(
        status.out,
        new RegExp(`^ {2}${id}: done — sold `, 'm'),
        `it shows ${id} done, with what it sold`,
      );

    for (const id of DEVICES) {
      const row = answer.devices.find((d) => d.deviceId === id)!;
      const orders = await ordersOf(stack, id);
      const ids = orders.map((o) => o.clientOrderId);
      t.equal(new Set(ids).size, ids.length, `${id}: no client order id twice on the exchange`);
      const sells = orders.filter((o) => o.side === 'sell');
      t.same(
        sells.map((o) => o.clientOrderId).sort(),
        SYMBOLS.map((s) => commandOrderId(id, flatId, s)).sort(),
        `${id}: one sale per symbol, each with the command's order id`,
      );
      for (const symbol of SYMBOLS) {
        const sale = sells.find((o) => o.clientOrderId === commandOrderId(id, flatId, symbol));
        const sold = sale?.filled ?? 0;
        const boughtQty = bought[id]![symbol] ?? 0;
        t.ok(
          sold <= boughtQty + 1e-12 && boughtQty - sold < STEP[symbol],
          `${id} sold the ${boughtQty} ${symbol} the system bought (sold ${sold})`,
        );
        t.ok(
          Math.abs((row.sold?.find((s) => s.symbol === symbol)?.amount ?? 0) - sold) < 1e-12,
          `${id}'s acknowledgement says so`,
        );
      }
      const now = await totals(stack, id);
      const ethLeft = (now.ETH ?? 0) - (held[id]!.ETH ?? 0);
      t.ok(
        ethLeft > -1e-12 && ethLeft < STEP['ETH/USDT'],
        `${id} still holds the ${HELD_ETH} ETH from before`,
      );
      t.ok((now.BTC ?? 0) < STEP['BTC/USDT'], `${id} holds no BTC`);
    }

    // Buying stays halted until an operator resumes.
    for (const id of DEVICES)
      await waitFor(async () => (await operatorHalt(id)) !== null, `${id}'s status page to show the halt`);
    const refused = await buy('ETH/USDT');
    for (const id of DEVICES)
      t.match(
        refused.decisions[id],
        {
          outcome: 'rejected',
          code: 'R_FLEET_HALT',
          reason: `Buying is halted by the operator: ${FLAT_REASON}`,
        },
        `${id} refuses a buy with R_FLEET_HALT after the flat`,
      );
    const resumeId = await issueAndConfirm(t, 'resume', 'all', 'incident over');
    for (const id of DEVICES)
      await waitFor(async () => (await operatorHalt(id)) === null, `${id}'s status page to drop the halt`);
    const again = await buy('BTC/USDT');
    for (const id of DEVICES)
      t.equal(again.decisions[id]!.outcome, 'executed', `${id} buys again after resume`);
    await waitFor(
      async () => Object.values(await statusesOf(resumeId)).every((s) => s === 'done'),
      'every device to acknowledge the resume',
    );
  });

  await t.test('c: bad input gets a clear error and changes nothing', async (t) => {
    const listed = async () =>
      (await stack.request<{ commands: { id: string }[] }>('GET', '/api/commands')).commands;
    const before = await listed();
    const deviceCommands = () =>
      Object.fromEntries(DEVICES.map((id) => [id, Object.keys(stack.readState(id).commands).sort()]));
    const onDevices = deviceCommands();
    const fleetMessages = controls.filter((c) => c.kind === 'fleet').length;

    for (const target of ['device:nobody-here', 'profile:mandate:ghost', 'everyone']) {
      const r = await callApi<ApiError>(stack, 'POST', '/api/commands', {
        action: 'halt',
        target,
        reason: 'bad target',
      });
      t.equal(r.status, 400, `a command for ${target} is refused with 400`);
      t.equal(r.body.error, 'E_UNKNOWN_TARGET', `as E_UNKNOWN_TARGET: ${r.body.message}`);
    }
    const unknown = await callApi<ApiError>(stack, 'POST', '/api/commands/cmd-0000000000000000/confirm', {});
    t.equal(unknown.status, 404, 'a confirm of an unknown id is refused with 404');
    t.equal(unknown.body.error, 'E_COMMAND_UNKNOWN', 'as E_COMMAND_UNKNOWN');
    const twice = await callApi<ApiError>(stack, 'POST', `/api/commands/${flatId}/confirm`, {});
    t.equal(twice.status, 409, 'a second confirm of the flat is refused with 409');
    t.equal(twice.body.error, 'E_COMMAND_CONFIRMED', 'as E_COMMAND_CONFIRMED');

    // A halt issued, then confirmed after its five minutes (the control server's clock moved on).
    const late = await callApi<{ id: string }>(stack, 'POST', '/api/commands', {
      action: 'halt',
      target: 'all',
      reason: 'confirmed too late',
    });
    t.equal(late.status, 201, 'a halt is issued');
    shiftControlClock(stack);
    try {
      await waitFor(
        async () => (await command(late.body.id)).command.state === 'lapsed',
        'the halt to lapse',
      );
      const expired = await callApi<ApiError>(stack, 'POST', `/api/commands/${late.body.id}/confirm`, {});
      t.equal(expired.status, 410, 'a confirm after the window is refused with 410');
      t.equal(expired.body.error, 'E_COMMAND_EXPIRED', `as E_COMMAND_EXPIRED: ${expired.body.message}`);
    } finally {
      shiftControlClock(stack);
    }
    t.equal((await command(late.body.id)).command.confirmedAt, null, 'the late halt was never confirmed');
    // The control server re-issues every target's fleet message with each heartbeat: one after
    // the refusals shows what it now publishes.
    const seenBefore = controls.length;
    await waitFor(
      () => controls.slice(seenBefore).some((c) => c.kind === 'fleet'),
      'the fleet messages to be re-issued',
    );

    const after = await listed();
    t.same(
      after.map((c) => c.id).sort(),
      [...before.map((c) => c.id), late.body.id].sort(),
      'the only new command is the unconfirmed halt',
    );
    t.notOk(
      controls.slice(fleetMessages).some((c) => JSON.stringify(c.body).includes(late.body.id)),
      'no fleet message carries it',
    );
    t.same(deviceCommands(), onDevices, 'no device took a new command');
    for (const id of DEVICES) t.equal(await operatorHalt(id), null, `${id} is not halted`);
    const policies = controls.filter((c) => c.kind === 'policy');
    t.same(
      [...new Set(policies.map((c) => `${String(c.body.profile)} v${String(c.body.version)}`))].sort(),
      ['beta v1', 'family v1', 'family v2', 'family v3'],
      'the only policies ever published: family 1 to 3 and beta 1',
    );
  });
});

function exchangeOf(stack: SimulatorStack, id: string) {
  return createBinance({ ...stack.devices.get(id)!.keys, baseUrl: stack.paperUrl });
}

/** What the device's exchange account holds, per asset (free and locked). */
async function totals(stack: SimulatorStack, id: string): Promise<Record<string, number>> {
  const ex = exchangeOf(stack, id);
  const balance = await ex.fetchBalance();
  return Object.fromEntries(
    Object.entries(balance.total as unknown as Record<string, number | undefined>).map(([a, v]) => [
      a,
      v ?? 0,
    ]),
  );
}

/** Every order of the device's exchange account, of both symbols, through ccxt with its keys. */
async function ordersOf(stack: SimulatorStack, id: string): Promise<ExchangeOrder[]> {
  const ex = exchangeOf(stack, id);
  await ex.loadMarkets();
  const out: ExchangeOrder[] = [];
  for (const symbol of SYMBOLS)
    for (const o of await ex.fetchOrders(symbol))
      out.push({
        clientOrderId: o.clientOrderId,
        side: String(o.side),
        symbol: String(o.symbol),
        filled: o.filled,
      });
  return out;
}
