/**
 * A writer on the bus without any signing key, as a compromised host inside the cluster would
 * be. Genuine candles and signals are interleaved with random, unsigned, forged, tampered,
 * oversized, wrong-partition, stream-flood and scope-flood records on every topic. Then the
 * gateway is killed and started again (it reads every topic from the start, hostile records
 * included) and a device is restarted (from the state it saved meanwhile).
 *
 * What must hold: every device decides every genuine signal exactly once; nothing forged
 * reaches a device or the paper exchange; the gateway's streams and memory stay bounded; no
 * device ends blocked (every hello accepted, resume maps small); the fleet view shows the
 * registered devices with what they really reported.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import t from 'tap';
import {
  KeyRing,
  TOPICS,
  exportPublicKey,
  partitionForKey,
  verifySignal,
  type Signal,
} from '@appliance/protocol';
import { requireTool, waitFor } from '@appliance/test-kit';
import { STREAM, SYMBOL, candleTimeAt, startProcessStack } from './fixtures/process-stack.js';

const DEVICES = ['hb-1', 'hb-2', 'hb-3'];
const RESTARTED = 'hb-2';
const FLOOD_STREAMS = 3_000;
const FLOOD_SCOPES = 2_000;
/** Reject codes a forged control message would cause if the gateway let it block genuine ones. */
const STARVED = ['R_NO_HEARTBEAT', 'R_HALT', 'R_BREAKER_UNKNOWN', 'R_NO_ELIGIBILITY', 'R_NOT_ELIGIBLE'];
const JUNK_SIG = 'A'.repeat(86);

const rssKiB = (pid: number) =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);

t.test('a keyless bus writer cannot make a device miss, repeat or forge anything', async (t) => {
  if (!requireTool('kcat', 'kcat')) return t.comment('kcat is not installed: apt-get install kcat');
  const stack = await startProcessStack(t, { devices: DEVICES });
  const { bus } = stack;
  const signalsPartitions = await bus.partitionCount(TOPICS.signals);
  /** A key whose records land on another partition of the signals topic than the stream's. */
  const otherKey = [...Array(50).keys()]
    .map((n) => `other-${n}`)
    .find((k) => partitionForKey(k, signalsPartitions) !== partitionForKey(STREAM, signalsPartitions))!;

  const genuine: Signal[] = [];
  let i = 3;
  const publishRound = async (hostile: boolean) => {
    const n = i++;
    const signal = await stack.publishGenuine(n, n % 2 === 0 ? 'buy' : 'sell');
    genuine.push(signal!);
    if (!hostile) return;
    const raw = JSON.stringify(signal);
    const tampered = JSON.stringify({ ...signal, price: signal!.price / 10 });
    const unsigned = JSON.stringify({
      ...signal,
      id: randomBytes(16).toString('hex'),
      candleTime: candleTimeAt(n) + 1,
      sig: JUNK_SIG,
    });
    await bus.publish(TOPICS.signals, [
      { key: STREAM, value: randomBytes(200) },
      { key: STREAM, value: '{"stream":"ema-cross.1h","offset":' },
      { key: STREAM, value: tampered },
      { key: STREAM, value: unsigned },
      // A genuine record copied to another partition, and an unsigned one there: neither may
      // move the stream's cursors.
      { key: otherKey, value: raw },
      { key: otherKey, value: unsigned },
    ]);
    await bus.publish(TOPICS.candles, [
      { key: SYMBOL, value: randomBytes(100) },
      {
        key: SYMBOL,
        value: JSON.stringify({
          v: 1,
          symbol: SYMBOL,
          timeframe: '1h',
          time: candleTimeAt(n) + 1,
          open: 1,
          high: 1,
          low: 1,
          close: 1,
          volume: 1,
          origin: 'e2e-feed',
          kid: stack.feed.kid,
          sig: JUNK_SIG,
        }),
      },
    ]);
    await bus.publish(TOPICS.telemetry, [
      { key: 'hb-1', value: randomBytes(64) },
      {
        key: 'hb-1',
        value: JSON.stringify({
          type: 'telemetry',
          deviceId: 'hb-1',
          fills: '<img src=x onerror=alert(1)>',
          equity: 'NaN',
          receivedAt: Date.now(),
          gateway: '<script>',
        }),
      },
      { key: 'ghost', value: JSON.stringify({ type: 'decision', deviceId: 'ghost', receivedAt: 1 }) },
    ]);
  };

  // Control messages that would, if kept, block every genuine one after them.
  const forgedControl = (kind: string, body: object, version: number) =>
    JSON.stringify({
      v: 1,
      id: randomBytes(8).toString('hex'),
      version,
      ts: Date.now(),
      ttlMs: 86_400_000,
      origin: 'control-server',
      kid: stack.control.kid,
      kind,
      body,
      sig: JUNK_SIG,
    });
  await bus.publish(TOPICS.control, [
    { key: 'heartbeat', value: forgedControl('heartbeat', {}, 9e15) },
    { key: 'breaker', value: forgedControl('breaker', { level: 'halt', multiplier: 0, reason: 'x' }, 9e15) },
    { key: 'eligibility', value: forgedControl('eligibility', { stream: STREAM, symbols: [] }, 9e15) },
    { key: 'junk', value: randomBytes(300) },
  ]);
  for (let k = 0; k < FLOOD_SCOPES; k += 500)
    await bus.publish(
      TOPICS.control,
      Array.from({ length: 500 }, (_, j) => ({
        key: 'eligibility',
        value: forgedControl('eligibility', { stream: `scope-${k + j}`, symbols: [SYMBOL] }, 1),
      })),
    );

  const rssBefore = rssKiB(stack.gateway.proc.pid!);
  for (let r = 0; r < 20; r++) await publishRound(true);
  // The flood: thousands of stream names, unsigned.
  for (let k = 0; k < FLOOD_STREAMS; k += 500)
    await bus.publish(
      TOPICS.signals,
      Array.from({ length: 500 }, (_, j) => ({
        key: `flood-${k + j}`,
        value: JSON.stringify({ stream: `flood-${k + j}`, sig: JUNK_SIG }),
      })),
    );
  // The poison pill: just over what a device's socket takes; and one under that but over what
  // the gateway relays. (Few of them: the mock cluster keeps only a few MB per partition.)
  await bus.publish(TOPICS.signals, [
    { key: STREAM, value: JSON.stringify({ stream: STREAM, pad: 'y'.repeat(1024 * 1024 + 16) }) },
    { key: STREAM, value: JSON.stringify({ stream: STREAM, pad: 'x'.repeat(300 * 1024) }) },
  ]);
  for (let r = 0; r < 20; r++) await publishRound(true);

  const decidedAll = (ids: Signal[]) => () =>
    DEVICES.every((d) => {
      const decided = new Set(stack.readState(d).decisions.map((x) => x.signalId));
      return ids.every((s) => decided.has(s.id));
    });
  await waitFor(decidedAll(genuine), 'every device to decide every genuine signal', 90_000);
  const rssAfter = rssKiB(stack.gateway.proc.pid!);

  // A gateway started now reads every hostile record from the start; a device restarted now
  // says hello with the resume state it saved through all of it.
  await stack.gateway.kill('SIGKILL');
  await stack.devices.get(RESTARTED)!.proc.kill('SIGKILL');
  await stack.startGateway();
  await stack.startDevice(RESTARTED);
  const afterRestart: Signal[] = [];
  for (let r = 0; r < 10; r++) {
    const before = genuine.length;
    await publishRound(r % 2 === 0);
    afterRestart.push(...genuine.slice(before));
  }
  await waitFor(decidedAll(genuine), 'every device to decide the signals after the restarts', 90_000);

  // Every genuine signal on the topic, as the test verifies it itself.
  const keys = KeyRing.of(exportPublicKey(stack.feed.publicKey));
  const onTopic: Signal[] = [];
  for (const s of genuine) onTopic.push(verifySignal(s, keys, { now: s.ts }));
  const ids = onTopic.map((s) => s.id).sort();

  for (const id of DEVICES) {
    await t.test(`device ${id}${id === RESTARTED ? ' (restarted)' : ''}`, async (t) => {
      const state = stack.readState(id);
      const decided = state.decisions.map((d) => d.signalId);
      t.same(
        decided.filter((x) => ids.includes(x)).sort(),
        ids,
        'every genuine signal decided exactly once: none missed, none repeated',
      );
      t.same(
        state.decisions.filter((d) => !ids.includes(d.signalId)),
        [],
        'nothing else reached a decision: forged, tampered and copied records never arrived',
      );
      const after = new Set(afterRestart.map((s) => s.id));
      t.same(
        state.decisions.filter((d) => after.has(d.signalId) && STARVED.includes(d.code)),
        [],
        'forged control messages starved nothing: heartbeat, breaker and eligibility still genuine',
      );
      // Its daily cap is spent long before the restarts: what follows is decided up to the limits.
      t.ok(
        state.decisions.some((d) => d.outcome === 'executed'),
        'the device traded on genuine signals through it all',
      );
      t.same(Object.keys(state.resume), [STREAM], 'resume points only for the stream it follows');
      const proc = stack.devices.get(id)!.proc;
      t.same(
        proc.lines.filter((l) => typeof l.code === 'number' && [1008, 1009].includes(l.code)),
        [],
        'never closed for a frame it could not take or a hello the gateway refused',
      );
    });
  }

  // The gateway: bounded by what is genuine, not by what was written.
  const metrics = await (await fetch(`http://127.0.0.1:${stack.gatewayPort}/metrics`)).text();
  const streams = Number(/^gateway_streams(?:\{[^}]*\})? (\d+)/m.exec(metrics)?.[1] ?? NaN);
  t.equal(streams, 1, 'the restarted gateway holds one stream, the genuine one');
  t.ok(
    rssAfter - rssBefore < 100 * 1024,
    `gateway memory stayed bounded through the flood (${rssBefore} → ${rssAfter} KiB)`,
  );
  t.notOk(
    stack.gateway.lines.some((l) => l.msg === 'closing device connection' && l.code === 1009),
    'the restarted gateway closed no device for an oversized hello',
  );

  // The fleet view: the registered devices, with what they reported, nothing hostile.
  await waitFor(async () => {
    const fleet = await stack.get<{ devices: { id: string; online: boolean; fills: unknown }[] }>(
      '/api/fleet',
    );
    return (
      fleet.devices.length === DEVICES.length &&
      fleet.devices.every((d) => d.online && d.fills === stack.readState(d.id).fills)
    );
  }, 'the fleet view to show every device with its real fills');
  const fleet = await stack.get<{ devices: { id: string; gateway: unknown; fills: unknown }[] }>(
    '/api/fleet',
  );
  t.same(fleet.devices.map((d) => d.id).sort(), DEVICES, 'only the registered devices');
  t.notOk(JSON.stringify(fleet).includes('<'), 'no markup from the bus in the fleet view');
});
