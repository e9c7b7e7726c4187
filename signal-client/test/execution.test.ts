import { pino } from 'pino';
import t from 'tap';
import { manualClock } from '@appliance/test-kit';
import { clientOrderId } from '../src/client-order-id.js';
import type { OrderResult } from '../src/exchange.js';
import { createExecution, DEFAULT_EXECUTION_OPTIONS } from '../src/execution.js';
import { Intent } from '../src/state.js';
import { fakeExecutor, type FakeCall, type FakeScript, type FakeTrade } from './fake-executor.js';

// Table tests of the at-most-once core (invariant 2) against a scripted exchange and a clock
// that moves only when execution.ts sleeps between look-ups (or a row says so).

const OPTIONS = DEFAULT_EXECUTION_OPTIONS; // 30 s grace, 3 not-found look-ups, 1 s apart
const CID = clientOrderId('dev-table', 'sig-1');

interface Row {
  name: string;
  script: FakeScript;
  /** `execute` a fresh intent (default), or `reconcile` one a crash left pending after it was journalled. */
  mode?: 'execute' | 'reconcile';
  /** Then, after this long, reconcile what is still pending (as the next start would). */
  reconcileAfterMs?: number;
  /** The signal's validity from the intent's creation. */
  ttlMs?: number;
  side?: 'buy' | 'sell';
  /** Fills already on the account (ts relative to the intent's creation). */
  trades?: (Omit<FakeTrade, 'ts'> & { ts?: number })[];
  /** Order ids the journal accounts for. */
  known?: string[];
  expect: {
    status: Intent['status'];
    /** Status after `execute`, before the later reconcile. */
    statusBefore?: Intent['status'];
    creates: number;
    /** The exchange order the intent settled on: the n-th order placed. */
    orderId?: string;
    error?: RegExp;
  };
}

const rows: Row[] = [
  {
    name: 'clean fill',
    script: { create: ['fill'] },
    expect: { status: 'done', creates: 1, orderId: 'ex-1' },
  },
  {
    name: 'lost response, then found by client id',
    script: { create: ['lost'], find: ['visible'] },
    expect: { status: 'done', creates: 1, orderId: 'ex-1' },
  },
  {
    name: 'duplicate client id error, then found',
    script: { create: ['duplicate'], find: ['visible'] },
    expect: { status: 'done', creates: 1, orderId: 'ex-1' },
  },
  {
    name: 'not found for a few look-ups within the grace period: no resend, found later',
    script: { create: ['lost'], find: ['hidden', 'hidden', 'hidden', 'hidden', 'hidden', 'visible'] },
    expect: { status: 'done', creates: 1, orderId: 'ex-1' },
  },
  {
    name: 'not found for many more look-ups than required, still within the grace period: no resend',
    script: { create: ['lost'], find: [...Array<'hidden'>(25).fill('hidden'), 'visible'] },
    expect: { status: 'done', creates: 1, orderId: 'ex-1' },
  },
  {
    name: 'not found across the grace period and still fresh: one resend with the same client id',
    script: { create: ['network', 'fill'] },
    ttlMs: 120_000,
    expect: { status: 'done', creates: 2, orderId: 'ex-1' },
  },
  {
    name: 'a resend whose answer is lost again is settled by client id, not sent a third time',
    script: { create: ['network', 'lost'] },
    ttlMs: 120_000,
    expect: { status: 'done', creates: 2, orderId: 'ex-1' },
  },
  {
    name: 'stale: not found across the grace period but the signal expired: abandoned, not re-sent',
    script: { create: ['network'] },
    ttlMs: 10_000,
    expect: { status: 'abandoned', creates: 1, error: /^E_EXPIRED/ },
  },
  {
    name: 'stale after a crash before sending: abandoned without sending',
    mode: 'reconcile',
    script: {},
    ttlMs: 10_000,
    expect: { status: 'abandoned', creates: 0, error: /^E_EXPIRED/ },
  },
  {
    name: 'fresh after a crash before sending: sent once after the grace period',
    mode: 'reconcile',
    script: {},
    ttlMs: 120_000,
    expect: { status: 'done', creates: 1, orderId: 'ex-1' },
  },
  {
    name: 'crash after the send: found by client id, not sent again',
    mode: 'reconcile',
    script: { create: [] },
    trades: [],
    ttlMs: 120_000,
    expect: { status: 'done', creates: 0 },
  },
  {
    name: 'our order filled but the exchange hides it: its fill is unexplained, so no resend',
    script: { create: ['lost'], find: Array<'hidden'>(500).fill('hidden') },
    ttlMs: 120_000,
    expect: { status: 'abandoned', creates: 1, error: /^E_UNRESOLVED/ },
  },
  {
    name: 'fills on the account that no journalled order explains: no resend',
    script: { create: ['network'] },
    trades: [{ orderId: 'foreign-1', symbol: 'BTC/USDT', side: 'buy' }],
    ttlMs: 120_000,
    expect: { status: 'abandoned', creates: 1, error: /^E_UNRESOLVED/ },
  },
  {
    name: 'fills the journal explains do not block the resend',
    script: { create: ['network', 'fill'] },
    trades: [{ orderId: 'journalled-1', symbol: 'BTC/USDT', side: 'buy' }],
    known: ['journalled-1'],
    ttlMs: 120_000,
    expect: { status: 'done', creates: 2, orderId: 'ex-1' },
  },
  {
    name: 'unexplained fills on the other side or another symbol do not block the resend',
    script: { create: ['network', 'fill'] },
    trades: [
      { orderId: 'foreign-1', symbol: 'BTC/USDT', side: 'sell' },
      { orderId: 'foreign-2', symbol: 'ETH/USDT', side: 'buy' },
    ],
    ttlMs: 120_000,
    expect: { status: 'done', creates: 2, orderId: 'ex-1' },
  },
  {
    name: 'the account fills cannot be read: assumed to exist, no resend',
    script: { create: ['network'], trades: Array<'network'>(500).fill('network') },
    ttlMs: 120_000,
    expect: { status: 'abandoned', creates: 1, error: /^E_UNRESOLVED/ },
  },
  {
    name: 'exchange rejects the order: failed with its code, not retried',
    script: { create: ['rejected'] },
    expect: { status: 'failed', creates: 1, error: /^E_ORDER_REJECTED: / },
  },
  {
    name: 'insufficient funds: failed with its code, not retried',
    script: { create: ['insufficient'] },
    expect: { status: 'failed', creates: 1, error: /^E_INSUFFICIENT_FUNDS: / },
  },
  {
    name: 'the resend is rejected: failed, not retried again',
    script: { create: ['network', 'insufficient'] },
    ttlMs: 120_000,
    expect: { status: 'failed', creates: 2, error: /^E_INSUFFICIENT_FUNDS: / },
  },
  {
    name: 'network error at create and at look-up: left pending, found by a later reconcile',
    script: { create: ['lost'], find: ['network', 'visible'] },
    reconcileAfterMs: 5_000,
    expect: { statusBefore: 'pending', status: 'done', creates: 1, orderId: 'ex-1' },
  },
  {
    name: 'network error at create and at look-up, never placed: pending, later sent once after the grace period',
    script: { create: ['network', 'fill'], find: ['network'] },
    reconcileAfterMs: 5_000,
    ttlMs: 120_000,
    expect: { statusBefore: 'pending', status: 'done', creates: 2, orderId: 'ex-1' },
  },
  {
    name: 'network error at create and at look-up, the signal expires meanwhile: abandoned, not re-sent',
    script: { create: ['network'], find: ['network'] },
    reconcileAfterMs: 60_000,
    ttlMs: 30_000,
    expect: { statusBefore: 'pending', status: 'abandoned', creates: 1, error: /^E_EXPIRED/ },
  },
];

for (const row of rows) {
  t.test(row.name, async (t) => {
    const clock = manualClock();
    const created = clock.now();
    const durable: Intent[] = []; // what each persistIntent() made durable
    const atCreate: (Intent | undefined)[] = []; // the durable intent as each order left
    const ex = fakeExecutor({
      clock,
      script: row.script,
      trades: (row.trades ?? []).map((tr) => ({ ...tr, ts: created + (tr.ts ?? -1_000) })),
      onCall: (c: FakeCall) => {
        if (c.op === 'create') atCreate.push(durable.at(-1));
      },
    });
    const intent: Intent = Intent.parse({
      clientOrderId: CID,
      signalId: 'sig-1',
      stream: 'ema-cross.1h',
      offset: '7',
      symbol: 'BTC/USDT',
      side: row.side ?? 'buy',
      amount: 0.0025,
      quote: 100,
      expiresAt: created + (row.ttlMs ?? 60_000),
      createdAt: created,
      status: 'pending',
      attempts: 0,
    });
    if (row.mode === 'reconcile') {
      // Crashed after the intent was made durable: maybe sent (`create: []` marks "sent and
      // filled before the crash"), maybe not.
      intent.sentAt = created;
      if (row.script.create && row.script.create.length === 0) {
        await ex.placeMarketOrder(intent);
        ex.calls.length = 0;
        atCreate.length = 0;
      }
    }
    const settled: [Intent, OrderResult][] = [];
    const exec = createExecution({
      exchange: ex,
      logger: pino({ level: 'silent' }),
      now: clock.now,
      sleep: clock.sleep,
      options: OPTIONS,
      persistIntent: async (journalled) => {
        durable.push(structuredClone(journalled));
      },
      onSettled: (i, r) => settled.push([structuredClone(i), r]),
      knownOrderIds: () => new Set(row.known ?? []),
    });

    if (row.mode === 'reconcile') await exec.reconcile(intent);
    else await exec.execute(intent);
    if (row.reconcileAfterMs !== undefined) {
      t.equal(intent.status, row.expect.statusBefore, 'status after execute');
      clock.advance(row.reconcileAfterMs);
      await exec.reconcile(intent);
    }

    const { expect } = row;
    t.equal(intent.status, expect.status, 'final status');
    const creates = ex.creates();
    t.equal(creates.length, expect.creates, 'createOrder calls');
    t.ok(
      creates.every((c) => c.clientOrderId === CID),
      'every send carries the one client id',
    );
    t.equal(intent.attempts, Math.max(0, creates.length - (row.mode === 'reconcile' ? 0 : 1)), 'attempts');

    // The intent is durable, with this attempt's time, before each order leaves.
    t.equal(atCreate.length, creates.length);
    atCreate.forEach((d, i) => {
      t.ok(d, `send ${i + 1}: the intent was persisted before it`);
      t.match(
        d,
        { clientOrderId: CID, status: 'pending', sentAt: creates[i]!.at },
        `send ${i + 1}: durable first`,
      );
    });

    // A second send only after not-found answers spanning the grace period since the last one,
    // none of which found the order.
    for (let i = 1; i < creates.length; i++) {
      const between = ex.calls
        .slice(ex.calls.indexOf(creates[i - 1]!) + 1, ex.calls.indexOf(creates[i]!))
        .filter((c) => c.op === 'find' && c.step !== 'network');
      t.ok(
        between.length >= OPTIONS.notFoundLookups && between.every((f) => f.op === 'find' && !f.found),
        `send ${i + 1}: after ${between.length} not-found look-ups`,
      );
      t.ok(
        creates[i]!.at - creates[i - 1]!.at >= OPTIONS.notFoundGraceMs,
        `send ${i + 1}: after the grace period`,
      );
      t.ok(creates[i]!.at < intent.expiresAt, `send ${i + 1}: while the signal was fresh`);
    }
    // At most once: never two orders on the exchange for one intent.
    t.ok(ex.orders.size <= 1, 'at most one order on the exchange');

    if (expect.status === 'done') {
      const onExchange = ex.orders.get(CID);
      t.ok(onExchange, 'the order is on the exchange');
      if (expect.orderId) t.equal(intent.result?.orderId, expect.orderId, 'the recorded order');
      t.same(intent.result, onExchange, 'the recorded result is what the exchange has');
      t.equal(settled.length, 1, 'settled once in the books');
      t.same(settled[0]?.[1], intent.result);
      t.notOk(intent.error);
    } else {
      t.equal(intent.result, undefined, 'no result recorded');
      t.equal(settled.length, 0, 'nothing in the books');
      t.type(intent.error?.code, 'string', 'the error is kept as a code and a message');
      t.match(`${intent.error?.code}: ${intent.error?.message}`, expect.error ?? /./, 'the error');
    }
    if (expect.status === 'failed') {
      t.equal(ex.calls.at(-1), creates.at(-1), 'nothing asked or sent after the rejection');
      t.equal(ex.orders.size, 0, 'nothing on the exchange');
    }
    if (expect.status === 'abandoned' && /E_EXPIRED/.test(expect.error?.source ?? '')) {
      t.equal(ex.orders.size, 0, 'abandoned only when the exchange has no such order');
    }
  });
}

t.test('a rejection is final: not looked up, not waited on, not sent again', async (t) => {
  const clock = manualClock();
  const ex = fakeExecutor({ clock, script: { create: ['rejected'] } });
  const intent = Intent.parse({
    clientOrderId: CID,
    signalId: 'sig-1',
    stream: 'ema-cross.1h',
    offset: '7',
    symbol: 'BTC/USDT',
    side: 'buy',
    amount: 0.0025,
    quote: 100,
    expiresAt: clock.now() + 10_000,
    createdAt: clock.now(),
    status: 'pending',
    attempts: 0,
  });
  const exec = createExecution({
    exchange: ex,
    logger: pino({ level: 'silent' }),
    now: clock.now,
    sleep: clock.sleep,
    options: OPTIONS,
    persistIntent: async () => {},
    onSettled: () => t.fail('nothing to settle'),
    knownOrderIds: () => new Set(),
  });
  await exec.execute(intent);
  t.equal(intent.status, 'failed');
  t.equal(ex.creates().length, 1);
  t.equal(ex.finds().length, 0, 'a definite rejection is not looked up');
  t.same(clock.sleeps, [], 'and not waited on');
});
