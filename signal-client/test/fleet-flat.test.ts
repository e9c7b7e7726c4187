/**
 * Issue #14 end to end in one process: a control server publishing fleet messages, the gateway,
 * the device and the paper exchange. The device holds coins bought before it was provisioned
 * and coins its own books bought: FLAT sells exactly the books' part, once; a redelivered
 * command (every heartbeat, a restart) sells nothing more; buying stays halted; each
 * acknowledgement reaches the bus; telemetry carries the policy version in force.
 */
import t from 'tap';
import { TOPICS, type BusMessage, type FleetCommand } from '@appliance/protocol';
import { waitFor } from '@appliance/test-kit';
import { commandOrderId } from '../src/client-order-id.js';
import { statusView, renderStatusText } from '../src/status.js';
import { STREAM, signedSignal, startStack, type FleetBody } from './stack.js';

t.test(
  'flat sells the books’ coins once, leaves the coins held before, and keeps buying halted',
  async (t) => {
    let fleet: FleetBody[] = [];
    const stack = await startStack(t, {
      policy: { orderQuote: 100, maxOrderQuote: 100 },
      fleet: () => fleet,
    });
    const telemetry: BusMessage[] = [];
    await stack.bus.subscribe({
      topic: TOPICS.telemetry,
      from: 'latest',
      onMessage: (m) => void telemetry.push(m),
    });
    const records = () => telemetry.map((m) => JSON.parse(m.value.toString()) as Record<string, unknown>);
    // Held before provisioning: 0.5 BTC and 2 ETH. The books open with the USDT only.
    const keys = stack.account(1_000, { BTC: 0.5, ETH: 2 });
    const dev = await stack.device({ keys });

    // The device's own buys: BTC at 40,000 and ETH at 2,000 (100 USDT each).
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
    await dev.until(2);
    t.same(
      dev.decisions.map((d) => [d.symbol, d.outcome]),
      [
        ['BTC/USDT', 'executed'],
        ['ETH/USDT', 'executed'],
      ],
    );
    const bought = { BTC: dev.decisions[0]!.amount!, ETH: dev.decisions[1]!.amount! };
    const before = stack.paper.account(keys.apiKey).balances;
    t.equal(Number(before.BTC!.free), 0.5 + bought.BTC);

    // The operator: FLAT for this one device.
    const cmd: FleetCommand = {
      id: 'cmd-flatdev1a',
      action: 'flat',
      reason: 'unwind before the exchange maintenance',
      by: 'ops',
      issuedAt: Date.now(),
      expiresAt: Date.now() + 3_600_000,
    };
    fleet = [{ target: 'device:dev-1', halted: true, reason: cmd.reason, commands: [cmd] }];
    await stack.controlPublisher.publishFleet();
    await waitFor(() => dev.store.data.commands[cmd.id]?.status === 'done', 'the flat to be done', 20_000);

    const orders = stack.paper.orders(keys.apiKey);
    const flatOrders = orders.filter((o) => o.side === 'SELL');
    t.same(
      flatOrders.map((o) => [o.clientOrderId, o.symbol, o.executedQty]).sort(),
      [
        [commandOrderId('dev-1', cmd.id, 'BTC/USDT'), 'BTCUSDT', bought.BTC],
        [commandOrderId('dev-1', cmd.id, 'ETH/USDT'), 'ETHUSDT', bought.ETH],
      ].sort(),
      'exactly the books’ part of each symbol, once',
    );
    const after = stack.paper.account(keys.apiKey).balances;
    t.equal(Number(after.BTC!.free), 0.5, 'the BTC held before is untouched');
    t.equal(Number(after.ETH!.free), 2, 'the ETH held before is untouched');
    t.match(dev.store.data.commands[cmd.id], {
      status: 'done',
      target: 'device:dev-1',
      sold: [
        { symbol: 'BTC/USDT', amount: bought.BTC },
        { symbol: 'ETH/USDT', amount: bought.ETH },
      ],
      unsold: [],
    });

    // Each acknowledgement reaches the bus: received, then done with what was sold.
    await waitFor(
      () => records().filter((r) => r.type === 'command-ack').length >= 2,
      'both acks on the bus',
    );
    const acks = records().filter((r) => r.type === 'command-ack');
    t.same(
      acks.map((r) => (r.ack as { status: string }).status),
      ['received', 'done'],
    );
    t.match(acks[1], { deviceId: 'dev-1', scope: 'family', ack: { commandId: cmd.id, sold: [{}, {}] } });

    // Redelivered: the control server re-issues the fleet message with every heartbeat (1 s).
    await new Promise((r) => setTimeout(r, 2_500));
    t.equal(stack.paper.orders(keys.apiKey).length, orders.length, 'no order more');

    // Buying stays halted for this device; a sell of what it holds would still pass.
    await stack.signal('buy', 40_000);
    await dev.until(3);
    t.match(dev.decisions[2], {
      outcome: 'rejected',
      code: 'R_FLEET_HALT',
      reason: 'Buying is halted by the operator: unwind before the exchange maintenance',
    });
    const view = statusView(dev.store.data, dev.client.runtime(), 'USDT', Date.now());
    const text = renderStatusText(view);
    t.match(text, /Buying halted by the operator: unwind before the exchange maintenance/);
    t.match(text, /done {5}sell everything the device bought \(FLAT\) by ops: unwind before/);

    // A restart on the same state file: the command is not handled again.
    await dev.client.stop();
    const again = await stack.device({ keys, stateFile: dev.stateFile });
    await new Promise((r) => setTimeout(r, 1_500));
    t.equal(stack.paper.orders(keys.apiKey).length, orders.length, 'nothing sold after a restart');
    t.equal(again.store.data.commands[cmd.id]?.status, 'done');

    // Resume clears the halt: the next buy goes through.
    fleet = [{ target: 'device:dev-1', halted: false, reason: '', commands: [cmd] }];
    await stack.controlPublisher.publishFleet();
    await new Promise((r) => setTimeout(r, 300));
    await stack.signal('buy', 40_000);
    await again.until(1);
    t.match(again.decisions[0], { outcome: 'executed', side: 'buy' });
  },
);

t.test('a fleet message of another target changes nothing on the device', async (t) => {
  let fleet: FleetBody[] = [];
  const stack = await startStack(t, { fleet: () => fleet });
  const keys = stack.account(1_000);
  const dev = await stack.device({ keys, scope: 'beta', id: 'beta-1' });
  await stack.signal('buy', 40_000);
  await dev.until(1);
  const cmd = (id: string): FleetCommand => ({
    id,
    action: 'flat',
    reason: 'not yours',
    by: 'ops',
    issuedAt: Date.now(),
    expiresAt: Date.now() + 60_000,
  });
  fleet = [
    { target: 'profile:family', halted: true, reason: 'family only', commands: [cmd('cmd-family001')] },
    { target: 'device:beta-2', halted: true, reason: 'another device', commands: [cmd('cmd-beta2001')] },
  ];
  await stack.controlPublisher.publishFleet();
  await new Promise((r) => setTimeout(r, 1_500));
  t.same(dev.store.data.commands, {}, 'no command taken');
  t.equal(dev.client.runtime().fleetHalt, null, 'no halt');
  t.equal(stack.paper.orders(keys.apiKey).filter((o) => o.side === 'SELL').length, 0);
});
