/**
 * Decision reports survive disconnection: each is kept (in the state file) until the gateway
 * acknowledges it, sent in batches, and sent again after every hello until then.
 */
import { readFileSync } from 'node:fs';
import pino from 'pino';
import t from 'tap';
import {
  CommandAckBatch,
  DecisionBatch,
  MAX_DECISION_BATCH,
  TOPICS,
  createSignal,
  type DecisionRecord,
  type Signal,
} from '@appliance/protocol';
import { waitFor } from '@appliance/test-kit';
import { DecisionOutbox } from '../src/outbox.js';
import type { Outbox } from '../src/state.js';
import { logLines, startFakeGateway, type DeviceFrameSeen } from './fake-gateway.js';
import { STREAM, startStack } from './stack.js';

function decision(n: number): DecisionRecord {
  return {
    signalId: `s${n}`,
    stream: 'ema.1h',
    symbol: 'BTC/USDT',
    side: 'buy',
    outcome: 'rejected',
    code: 'E_EXPIRED',
    reason: 'signal expired 1 ms ago',
    ts: n,
  };
}

function outbox(over: { limit?: number; open?: boolean; resendMs?: number } = {}) {
  const state: Outbox = { next: 0, reports: [], lost: 0 };
  const sent: DecisionBatch[] = [];
  const acks: CommandAckBatch[] = [];
  const losses: string[] = [];
  const log = logLines();
  const box = new DecisionOutbox({
    deviceId: 'dev-1',
    state,
    send: (f) => {
      if (over.open === false) return false;
      if (f.type === 'decisions') sent.push(f);
      else acks.push(f);
      return true;
    },
    logger: pino({ level: 'info' }, log),
    now: () => 5_000,
    onLoss: (text) => losses.push(text),
    limit: over.limit,
    flushMs: 1,
    framesPerFlush: 100,
    resendMs: over.resendMs,
  });
  t.teardown(() => box.stop());
  return { box, state, sent, acks, losses, log: log.lines };
}

t.test('reports are numbered from the clock, batched by 50, and kept until acknowledged', async (t) => {
  const o = outbox();
  for (let i = 0; i < 120; i++) o.box.add(decision(i));
  t.equal(o.sent.length, 0, 'nothing goes before the connection is open and the hello sent');
  t.equal(
    o.state.next,
    5_120,
    'a fresh outbox numbers from the clock: a replaced state file reuses no number',
  );
  o.box.connected();
  t.same(
    o.sent.map((f) => [f.seq, f.decisions.length]),
    [
      [5_000, 50],
      [5_050, 50],
      [5_100, 20],
    ],
  );
  for (const f of o.sent) DecisionBatch.parse(f);
  t.equal(o.box.ack(5_049), true);
  t.equal(o.box.pending, 70, 'the acknowledged batch is forgotten');
  t.equal((o.state.reports[0] as DecisionRecord).signalId, 's50');
  o.box.connected(); // a reconnect: all that is not acknowledged goes again
  t.same(
    o.sent.slice(3).map((f) => [f.seq, f.decisions.length]),
    [
      [5_050, 50],
      [5_100, 20],
    ],
  );
  o.box.add(decision(120));
  await waitFor(() => o.sent.length === 6, 'the new report, coalesced');
  t.same([o.sent[5]!.seq, o.sent[5]!.decisions.map((d) => d.signalId)], [5_120, ['s120']]);
});

t.test('an acknowledgement cannot drop reports not yet made or already gone', async (t) => {
  const o = outbox();
  for (let i = 0; i < 3; i++) o.box.add(decision(i));
  t.equal(o.box.ack(4_999), false, 'below the oldest: nothing');
  t.equal(o.box.ack('5002' as unknown as number), false, 'not a number: nothing');
  t.equal(o.box.ack(9_999_999), true);
  t.equal(o.box.pending, 0);
  o.box.add(decision(3));
  t.equal(o.state.next, 5_004);
  t.equal(o.box.pending, 1, 'a report made after a too-large ack is still kept');
});

t.test('a full outbox drops the oldest reports, counts them and reports the loss once', async (t) => {
  const o = outbox({ limit: 5, open: false });
  for (let i = 0; i < 12; i++) o.box.add(decision(i));
  t.equal(o.box.pending, 5);
  t.same(
    o.state.reports.map((d) => (d as DecisionRecord).signalId),
    ['s7', 's8', 's9', 's10', 's11'],
  );
  t.equal(o.state.lost, 7);
  t.same(o.losses, [
    'decision reports not acknowledged by the gateway: the outbox is full (5), oldest dropped (1 lost in all)',
  ]);
  t.same(
    o.log.filter((l) => l.level === 50).map((l) => l.msg),
    o.losses,
  );
  t.equal(o.box.ack(5_011), true);
  t.match(o.log.at(-1), { msg: 'the gateway acknowledges decision reports again', lost: 7 });
});

t.test('reports sent and not acknowledged in time go again on the same connection', async (t) => {
  // The gateway acknowledges cumulatively: a batch it could not take holds back every later one.
  const o = outbox({ resendMs: 20 });
  o.box.connected();
  for (let i = 0; i < 3; i++) o.box.add(decision(i));
  await waitFor(() => o.sent.length >= 2, 'a second sending');
  t.same(
    o.sent.slice(0, 2).map((f) => [f.seq, f.decisions.length]),
    [
      [5_000, 3],
      [5_000, 3],
    ],
  );
  t.match(
    o.log.find((l) => l.msg === 'decision reports not acknowledged in time: sending them again'),
    {
      pending: 3,
    },
  );
  // Nothing outstanding: the ack cancels the pending resend and schedules none, so nothing can
  // be sent again (the timers it asks for are recorded rather than waited out).
  const asked: (number | undefined)[] = [];
  const realSetTimeout = globalThis.setTimeout;
  globalThis.setTimeout = ((fn: () => void, ms?: number) => {
    asked.push(ms);
    return realSetTimeout(fn, ms);
  }) as typeof setTimeout;
  try {
    t.equal(o.box.ack(5_002), true);
  } finally {
    globalThis.setTimeout = realSetTimeout;
  }
  t.equal(o.box.pending, 0);
  t.same(asked, [], 'no resend scheduled');
});

/** Signed signals that are already expired: each is refused at once with E_EXPIRED (no exchange call). */
function expiredSignals(feed: Parameters<typeof createSignal>[1], n: number, from = 0): Signal[] {
  return Array.from({ length: n }, (_, i) =>
    createSignal(
      {
        stream: STREAM,
        symbol: 'BTC/USDT',
        side: 'buy',
        price: 40_000,
        candleTime: 1_700_000_000_000 + (from + i) * 3_600_000,
        ts: Date.now() - 120_000,
        ttlMs: 60_000,
        strength: 1,
        algoVersion: 't/1',
        origin: 'feed',
      },
      feed,
    ),
  );
}

/** The sequence numbers of the `decisions` frames a gateway saw, with the signal of each report. */
function reported(frames: DeviceFrameSeen[]): { seq: number; signalId: string }[] {
  return frames
    .filter((f) => f.type === 'decisions')
    .flatMap((f) => {
      const batch = DecisionBatch.parse(f);
      return batch.decisions.map((d, i) => ({ seq: batch.seq + i, signalId: d.signalId }));
    });
}

t.test(
  'reports the gateway has not acknowledged are sent again after a reconnect and a restart, until it does',
  async (t) => {
    const stack = await startStack(t);
    const gw = await startFakeGateway(t, { ack: false });
    const dev = await stack.device({ config: { gatewayUrl: gw.url } });
    const signals = expiredSignals(stack.feed, 60);
    signals.forEach((signal, i) => gw.send({ type: 'signal', stream: STREAM, offset: String(i), signal }));
    await dev.until(60);
    await waitFor(() => reported(gw.frames).length === 60, 'sixty reports');
    const first = reported(gw.frames);
    t.same(
      first.map((r) => r.signalId),
      signals.map((s) => s.id),
      'every decision reported, in order',
    );
    t.same(
      first.map((r) => r.seq - first[0]!.seq),
      [...Array(60).keys()],
      'numbered consecutively',
    );
    t.notOk(
      gw.frames.some((f) => f.type === 'decision'),
      'no fire-and-forget decision frames any more',
    );
    t.ok(
      gw.frames
        .filter((f) => f.type === 'decisions')
        .every((f) => (f.decisions as unknown[]).length <= MAX_DECISION_BATCH),
      'batches of at most 50',
    );
    t.ok(gw.frames.findIndex((f) => f.type === 'decisions') > gw.frames.findIndex((f) => f.type === 'hello'));
    const onDisk = () => JSON.parse(readFileSync(dev.stateFile, 'utf8')).outbox as Outbox;
    t.equal(onDisk().reports.length, 60, 'kept in the state file until acknowledged');

    // The gateway dies before it acknowledges anything: after the new hello, all sixty again.
    const seen = gw.frames.length;
    gw.dropAll();
    await waitFor(() => reported(gw.frames.slice(seen)).length === 60, 'the sixty again after reconnecting');
    t.same(reported(gw.frames.slice(seen)), first, 'the same numbers: the fleet view drops the repeats');

    // The device restarts with them still unacknowledged; this time the gateway acknowledges.
    await dev.client.stop();
    gw.state.ack = true;
    const seen2 = gw.frames.length;
    const again = await stack.device({
      keys: dev.keys,
      stateFile: dev.stateFile,
      config: { gatewayUrl: gw.url },
    });
    await waitFor(() => again.store.data.outbox.reports.length === 0, 'every report acknowledged');
    t.same(reported(gw.frames.slice(seen2)), first, 'sent again after the restart');
    await again.client.idle();
    t.same(onDisk(), { next: first[0]!.seq + 60, reports: [], lost: 0 }, 'and forgotten on disk too');
  },
);

t.test(
  'against the real gateway: each report reaches the telemetry topic with its number, then is forgotten',
  async (t) => {
    const stack = await startStack(t);
    const onBus: { seq?: number; signalId: string }[] = [];
    const sub = await stack.bus.subscribe({
      topic: TOPICS.telemetry,
      from: 'earliest',
      onMessage: (m) => {
        const r = JSON.parse(m.value.toString()) as {
          type?: string;
          seq?: number;
          decision?: { signalId: string };
        };
        if (r.type === 'decision' && r.decision) onBus.push({ seq: r.seq, signalId: r.decision.signalId });
      },
    });
    t.teardown(() => sub.close());
    const dev = await stack.device();
    const signals = [];
    for (let i = 0; i < 3; i++) signals.push(await stack.signal('buy', 40_000, { ts: Date.now() - 120_000 }));
    await dev.until(3);
    await waitFor(() => dev.store.data.outbox.reports.length === 0, 'the gateway to acknowledge all three');
    const first = dev.store.data.outbox.next - 3;
    t.same(
      onBus,
      signals.map((s, i) => ({ seq: first + i, signalId: s.id })),
    );
  },
);

t.test('command acks share the sequence with decisions, in runs of one kind per frame', async (t) => {
  const o = outbox();
  const ack = (i: number) => ({
    commandId: `cmd-0000000${i}`,
    action: 'halt' as const,
    status: 'received' as const,
    ts: i,
  });
  o.box.add(decision(0));
  o.box.addAck(ack(1));
  o.box.addAck(ack(2));
  o.box.add(decision(3));
  o.box.connected();
  t.same(
    o.sent.map((f) => [f.seq, f.decisions.length]),
    [
      [5_000, 1],
      [5_003, 1],
    ],
  );
  t.same(
    o.acks.map((f) => [f.type, f.seq, f.acks.map((a) => a.commandId)]),
    [['command-acks', 5_001, ['cmd-00000001', 'cmd-00000002']]],
  );
  for (const f of o.acks) CommandAckBatch.parse(f);
  t.equal(o.box.ack(5_002), true, 'one ack covers decisions and command acks alike');
  t.equal(o.box.pending, 1);
  t.same(o.state.reports, [decision(3)]);
});

t.test('a run of large acks is split by size, never an ack', async (t) => {
  const o = outbox();
  const unsold = Array.from({ length: 100 }, (_, i) => ({
    symbol: `C${i}/USDT`,
    amount: 1,
    reason: 'r'.repeat(200),
  }));
  for (let i = 0; i < 6; i++)
    o.box.addAck({ commandId: `cmd-0000000${i}`, action: 'flat', status: 'done', ts: i, sold: [], unsold });
  o.box.connected();
  t.ok(o.acks.length > 1, `${o.acks.length} frames`);
  t.same(
    o.acks.flatMap((f) => f.acks.map((a) => a.commandId)),
    Array.from({ length: 6 }, (_, i) => `cmd-0000000${i}`),
  );
  for (const f of o.acks) t.ok(JSON.stringify(f).length < 64 * 1024);
});
