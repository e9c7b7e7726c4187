/**
 * Fleet commands on the device (issue #14), with hand-made fakes around commands.ts: each
 * command is handled once, ever, and recorded before anything is acted on or acknowledged; one
 * first seen after its expiry is only acknowledged `expired`; a flat sells only what the books
 * hold, capped by the free balance and rounded down to the step, and says what it could not sell.
 */
import pino from 'pino';
import t from 'tap';
import type { CommandAck } from '@appliance/protocol';
import type { MarketRules } from '@appliance/trading-core';
import { commandOrderId } from '../src/client-order-id.js';
import { createCommands } from '../src/commands.js';
import type { ControlView, TargetedCommand } from '../src/control-view.js';
import { emptyState, type Intent } from '../src/state.js';

const NOW = 1_800_000_000_000;
const MARKETS: Record<string, MarketRules> = {
  'BTC/USDT': { amountStep: 0.00001, priceTick: 0.01, minAmount: 0.00001, minNotional: 5 },
  'ETH/USDT': { amountStep: 0.0001, priceTick: 0.01, minAmount: 0.0001, minNotional: 5 },
};
const PRICES: Record<string, number> = { 'BTC/USDT': 40_000, 'ETH/USDT': 2_000 };

function command(over: Partial<TargetedCommand> = {}): TargetedCommand {
  return {
    id: 'cmd-flat0001',
    action: 'flat',
    reason: 'exchange outage',
    by: 'ops',
    issuedAt: NOW - 1_000,
    expiresAt: NOW + 3_600_000,
    target: 'all',
    ...over,
  };
}

function setup(o: {
  positions?: Record<string, number>;
  free?: Record<string, number>;
  commands?: TargetedCommand[];
  /** What the exchange does with an order: fill it (default), refuse it, or leave it unknown. */
  fill?: (i: Intent) => 'fill' | 'refuse' | 'unknown';
}) {
  const state = emptyState('dev-1');
  const acks: CommandAck[] = [];
  const orders: Intent[] = [];
  const events: string[] = [];
  let clock = NOW;
  let view = { commands: o.commands ?? [command()] } as ControlView;
  const positions = { ...(o.positions ?? {}) };
  const free = { USDT: 1_000, ...(o.free ?? {}) };
  const commands = createCommands({
    deviceId: 'dev-1',
    quote: 'USDT',
    state,
    controls: { view: () => view },
    exchange: { marketRules: (s) => MARKETS[s] },
    holdings: {
      balances: () => ({ free: { ...free }, total: { ...free } }),
      price: async (s) => PRICES[s] ?? null,
      refresh: async () => undefined,
    },
    books: { positions: () => ({ ...positions }) },
    orders: {
      async execute(intent) {
        events.push(`order ${intent.symbol} (command ${state.commands[intent.command!]?.status})`);
        orders.push(intent);
        const what = o.fill?.(intent) ?? 'fill';
        if (what === 'unknown') return;
        if (what === 'refuse') {
          intent.status = 'failed';
          intent.error = { code: 'E_ORDER_REJECTED', message: 'Filter failure: LOT_SIZE' };
          return;
        }
        intent.status = 'done';
        const price = PRICES[intent.symbol]!;
        intent.result = {
          orderId: `o-${orders.length}`,
          status: 'closed',
          filled: intent.amount,
          cost: intent.amount * price,
          fee: 0,
        };
        const asset = intent.symbol.split('/')[0]!;
        positions[asset] = Number(((positions[asset] ?? 0) - intent.amount).toFixed(8));
        free[asset as keyof typeof free] = (free[asset as keyof typeof free] ?? 0) - intent.amount;
      },
    },
    outbox: {
      addAck: (a) => {
        events.push(`ack ${a.commandId} ${a.status}`);
        acks.push(a);
      },
    },
    persist: async () => {
      events.push('persist');
    },
    logger: pino({ level: 'silent' }),
    now: () => clock,
  });
  return {
    state,
    acks,
    orders,
    events,
    commands,
    positions,
    setView: (v: Partial<ControlView>) => (view = v as ControlView),
    setClock: (t: number) => (clock = t),
  };
}

t.test('a command is recorded and persisted before it is acted on, and handled once only', async (t) => {
  const s = setup({ positions: { BTC: 0.002 }, free: { BTC: 1.5 } });
  await s.commands.poll();
  t.same(s.events.slice(0, 3), ['ack cmd-flat0001 received', 'persist', 'order BTC/USDT (command received)']);
  t.same(
    s.acks.map((a) => a.status),
    ['received', 'done'],
  );
  t.equal(s.state.commands['cmd-flat0001']?.status, 'done');
  // Redelivered: in the same message again, in a newer one, through another target.
  await s.commands.poll();
  s.setView({ commands: [command({ target: 'profile:family' }), command()] });
  await s.commands.poll();
  t.equal(s.orders.length, 1, 'sold once');
  t.equal(s.acks.length, 2, 'acknowledged once');
  t.equal(s.orders[0]!.clientOrderId, commandOrderId('dev-1', 'cmd-flat0001', 'BTC/USDT'));
  t.equal(s.orders[0]!.command, 'cmd-flat0001');
  t.equal(s.orders[0]!.expiresAt, command().expiresAt, 'the order expires with its command');
});

t.test('a command first seen after its expiry is only acknowledged expired', async (t) => {
  const s = setup({ positions: { BTC: 0.002 }, commands: [command({ expiresAt: NOW })] });
  await s.commands.poll();
  t.same(s.orders, [], 'nothing sold');
  t.equal(s.acks.length, 1);
  t.match(s.acks[0], {
    commandId: 'cmd-flat0001',
    action: 'flat',
    status: 'expired',
    reason: /^first seen at .*, after it expired at .*: ignored$/,
  });
  t.equal(s.state.commands['cmd-flat0001']?.status, 'expired');
  await s.commands.poll();
  t.equal(s.acks.length, 1, 'and never again');
});

t.test('halt and resume: received, then done', async (t) => {
  const s = setup({
    commands: [
      command({ id: 'cmd-halt0001', action: 'halt' }),
      command({ id: 'cmd-resume01', action: 'resume', issuedAt: NOW }),
    ],
  });
  await s.commands.poll();
  t.same(
    s.acks.map((a) => `${a.commandId} ${a.status}`),
    ['cmd-halt0001 received', 'cmd-halt0001 done', 'cmd-resume01 received', 'cmd-resume01 done'],
  );
  t.same(s.orders, []);
});

t.test(
  'flat sells only what the books hold, capped and rounded, and says what it did not sell',
  async (t) => {
    const s = setup({
      // The books bought 0.01234567 BTC, 1 ETH and a speck of SOL; the person held 1.5 BTC before.
      positions: { BTC: 0.01234567, ETH: 1, SOL: 0.5, DOGE: 0.00003 },
      free: { BTC: 1.51234567, ETH: 0.6, SOL: 0.5 },
    });
    await s.commands.poll();
    t.same(
      s.orders.map((o) => [o.symbol, o.side, o.amount]),
      [
        ['BTC/USDT', 'sell', 0.01234],
        ['ETH/USDT', 'sell', 0.6],
      ],
      'the books’ quantity, never the coins held before',
    );
    const done = s.acks.at(-1)!;
    t.equal(done.status, 'done');
    t.same(done.sold, [
      { symbol: 'BTC/USDT', amount: 0.01234, orderId: 'o-1' },
      { symbol: 'ETH/USDT', amount: 0.6, orderId: 'o-2' },
    ]);
    t.same(done.unsold, [
      { symbol: 'BTC/USDT', amount: 0.00000567, reason: "below the market's amount step 0.00001" },
      { symbol: 'DOGE/USDT', amount: 0.00003, reason: 'no DOGE/USDT market on the exchange' },
      { symbol: 'ETH/USDT', amount: 0.4, reason: 'only 0.6 of 1 was free on the exchange' },
      { symbol: 'SOL/USDT', amount: 0.5, reason: 'no SOL/USDT market on the exchange' },
    ]);
  },
);

t.test('flat reports unsold below the exchange minimum, and a refused sale', async (t) => {
  const s = setup({
    positions: { BTC: 0.0001, ETH: 0.00005 },
    free: { BTC: 0.0001, ETH: 0.00005 },
  });
  await s.commands.poll();
  t.same(s.orders, [], 'nothing below the minimum is sent');
  t.same(s.acks.at(-1)!.unsold, [
    {
      symbol: 'BTC/USDT',
      amount: 0.0001,
      reason: 'below the exchange minimum order value: about 4.00 USDT (minimum 5 USDT)',
    },
    {
      symbol: 'ETH/USDT',
      amount: 0.00005,
      reason: 'below the exchange minimum: 0 after rounding down to the step 0.0001 (minimum amount 0.0001)',
    },
  ]);
  const r = setup({ positions: { BTC: 0.01 }, free: { BTC: 0.01 }, fill: () => 'refuse' });
  await r.commands.poll();
  t.match(r.acks.at(-1), {
    status: 'done',
    sold: [],
    unsold: [
      {
        symbol: 'BTC/USDT',
        amount: 0.01,
        reason: 'the sale did not go through (E_ORDER_REJECTED: Filter failure: LOT_SIZE)',
      },
    ],
  });
});

t.test('a flat interrupted after a sale carries on without selling that symbol again', async (t) => {
  const s = setup({ positions: { BTC: 0, ETH: 1 }, free: { ETH: 1, BTC: 0.5 } });
  // As a crash left it: received and durable, BTC sold (its intent settled), ETH not started.
  s.state.commands['cmd-flat0001'] = {
    ...command(),
    status: 'received',
    receivedAt: NOW - 10,
  };
  const btc = commandOrderId('dev-1', 'cmd-flat0001', 'BTC/USDT');
  s.state.intents[btc] = {
    clientOrderId: btc,
    signalId: 'cmd-flat0001',
    stream: 'fleet-command',
    offset: '0',
    symbol: 'BTC/USDT',
    side: 'sell',
    amount: 0.01,
    expiresAt: command().expiresAt,
    createdAt: NOW - 5,
    status: 'done',
    attempts: 1,
    command: 'cmd-flat0001',
    result: { orderId: 'o-before', status: 'closed', filled: 0.01, cost: 400, fee: 0 },
  };
  await s.commands.poll();
  t.same(
    s.orders.map((o) => o.symbol),
    ['ETH/USDT'],
  );
  t.same(
    s.acks.map((a) => a.status),
    ['done'],
    'received was acknowledged before the crash',
  );
  t.same(s.acks[0]!.sold, [
    { symbol: 'BTC/USDT', amount: 0.01, orderId: 'o-before' },
    { symbol: 'ETH/USDT', amount: 1, orderId: 'o-1' },
  ]);
});

t.test('an order whose fate is unknown keeps the command received until it is settled', async (t) => {
  let fate: 'unknown' | 'fill' = 'unknown';
  const s = setup({ positions: { BTC: 0.01 }, free: { BTC: 0.01 }, fill: () => fate });
  await s.commands.poll();
  t.equal(s.state.commands['cmd-flat0001']?.status, 'received');
  t.ok(s.commands.unfinished());
  t.same(
    s.acks.map((a) => a.status),
    ['received'],
  );
  // Reconciliation settles it (orders.ts); the next poll finishes the command without a new order.
  const intent = s.orders[0]!;
  intent.status = 'done';
  intent.result = { orderId: 'o-late', status: 'closed', filled: 0.01, cost: 400, fee: 0 };
  fate = 'fill';
  await s.commands.poll();
  t.equal(s.orders.length, 1);
  t.match(s.acks.at(-1), { status: 'done', sold: [{ symbol: 'BTC/USDT', amount: 0.01, orderId: 'o-late' }] });
  t.notOk(s.commands.unfinished());
});
