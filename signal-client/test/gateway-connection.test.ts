/**
 * The device's connection to the gateway cluster: full-jitter exponential backoff that starts
 * over only after a healthy connection, and failures a person must see (a frame too large for
 * either side, the same refusal again and again) reported instead of looped on. Delays are read
 * from an injected timer with an injected random and clock: no test here measures time.
 */
import pino from 'pino';
import t, { type Test } from 'tap';
import { seededRandom } from '@appliance/trading-core';
import { waitFor } from '@appliance/test-kit';
import { GatewayConnection, type GatewayConnectionOptions } from '../src/gateway-connection.js';
import { logLines, startFakeGateway } from './fake-gateway.js';

/** A connection whose reconnect timer records each delay and fires at once, up to `max` times. */
function connection(t: Test, url: string, over: Partial<GatewayConnectionOptions> = {}, max = Infinity) {
  const delays: number[] = [];
  const problems: string[] = [];
  const frames: { type?: string }[] = [];
  const log = logLines();
  const conn = new GatewayConnection({
    url,
    token: 'device-token-for-tests',
    logger: pino({ level: 'info' }, log),
    hello: () => ({ type: 'hello', deviceId: 'dev-1', version: 't', resume: {} }),
    onFrame: (f) => frames.push(f as { type?: string }),
    onProblem: (p) => problems.push(p),
    random: () => 0.5,
    setTimer: (run, ms) => {
      delays.push(ms);
      if (delays.length < max) setImmediate(run);
      return undefined;
    },
    ...over,
  });
  t.teardown(() => conn.stop());
  return { conn, delays, problems, frames, log: log.lines };
}

t.test('a gateway that refuses the hello gets ever longer waits, and the refusal is reported', async (t) => {
  const gw = await startFakeGateway(t, { onHello: (ws) => ws.close(1008, 'hello refused') });
  const c = connection(t, gw.url, {}, 8);
  c.conn.start();
  await waitFor(() => c.delays.length === 8, 'eight reconnects');
  // Before the fix the counter went back to 0 on every open: 3.8 reconnects a second for ever.
  t.same(c.delays, [125, 250, 500, 1000, 2000, 4000, 5000, 5000]);
  t.same(c.problems, [
    'the gateway closed the connection (1008 hello refused), 3 times in a row',
    'the gateway closed the connection (1008 hello refused), 6 times in a row',
  ]);
  t.same(
    c.log.filter((l) => l.level === 50).map((l) => l.msg),
    c.problems,
    'reported at error level as well',
  );
  t.match(
    c.log.find((l) => l.msg === 'reconnecting to gateway'),
    { level: 30, delayMs: 125, after: 'the gateway closed the connection (1008 hello refused)' },
    'each reconnect is logged at info with its delay and why',
  );
});

t.test('the backoff starts over only after caught-up, or after healthyAfterMs open', async (t) => {
  let clock = 1_000_000;
  // Connections 1, 2 and 4 are refused; 3 catches up, then the gateway restarts; 5 and 6 stay open.
  const gw = await startFakeGateway(t, {
    onHello: (ws) => {
      const n = gw.state.connections;
      if (n === 3) {
        ws.send(JSON.stringify({ type: 'caught-up', positions: {}, partitions: {} }));
        ws.close(1001, 'gateway restarting');
      } else if (n <= 4) ws.close(1008, 'hello refused');
    },
  });
  const c = connection(t, gw.url, { now: () => clock, healthyAfterMs: 30_000 });
  c.conn.start();
  await waitFor(() => gw.state.connections === 5 && c.conn.connected, 'the fifth connection');
  clock += 30_000;
  gw.closeAll(1001, 'gateway restarting');
  await waitFor(() => gw.state.connections === 6 && c.conn.connected, 'the sixth connection');
  clock += 29_999;
  gw.closeAll(1001, 'gateway restarting');
  await waitFor(() => c.delays.length === 6, 'six reconnects');
  t.same(c.delays, [125, 250, 125, 250, 125, 250]);
});

t.test('fifty devices cut off at once spread their first retry over the whole window', async (t) => {
  const gw = await startFakeGateway(t);
  const devices = Array.from({ length: 50 }, (_, i) =>
    connection(t, gw.url, { random: seededRandom(1000 + i) }, 1),
  );
  for (const d of devices) d.conn.start();
  await waitFor(
    () => devices.every((d) => d.frames.some((f) => f.type === 'caught-up')),
    'fifty devices caught up',
  );
  gw.dropAll();
  await waitFor(() => devices.every((d) => d.delays.length === 1), 'fifty reconnects scheduled');
  const first = devices.map((d) => d.delays[0]!);
  // Before the fix every first retry waited exactly the minimum: all fifty within 8 ms.
  t.ok(
    first.every((d) => d >= 0 && d < 250),
    'each within [0, 250 ms): healthy, so from the start',
  );
  t.ok(Math.max(...first) - Math.min(...first) > 200, `spread over the window: ${first.join(' ')}`);
  t.ok(new Set(first).size >= 45, 'hardly two alike');
});

t.test('a frame over maxPayload is reported as an error and backed off from, not looped on', async (t) => {
  const gw = await startFakeGateway(t, {
    onHello: (ws) => {
      ws.send(JSON.stringify({ type: 'caught-up', positions: {}, partitions: {} }));
      ws.send(JSON.stringify({ type: 'signal', stream: 'ema.1h', offset: '7', signal: 'x'.repeat(2_000) }));
    },
  });
  const c = connection(t, gw.url, { maxPayload: 1_000 }, 4);
  c.conn.start();
  await waitFor(() => c.delays.length === 4, 'four reconnects');
  // Caught-up came first, but the same frame will come back: the backoff keeps growing.
  t.same(c.delays, [125, 250, 500, 1000]);
  const what =
    'the gateway sent a frame larger than this device accepts (maxPayload 1000 bytes): what follows it cannot arrive';
  t.same(c.problems, [
    what,
    `${what} (2 times in a row)`,
    `${what} (3 times in a row)`,
    `${what} (4 times in a row)`,
  ]);
  t.equal(c.log.filter((l) => l.level === 50).length, 4, 'each at error level');
});

t.test('a frame the gateway refuses as too large (1009) is reported', async (t) => {
  const gw = await startFakeGateway(t, { maxPayload: 100 });
  const c = connection(
    t,
    gw.url,
    { hello: () => ({ type: 'hello', deviceId: 'dev-1', version: 't', resume: { big: 'x'.repeat(200) } }) },
    2,
  );
  c.conn.start();
  await waitFor(() => c.delays.length === 2, 'two reconnects');
  t.same(c.delays, [125, 250]);
  t.same(c.problems, [
    'the gateway refused a frame from this device as too large (1009)',
    'the gateway refused a frame from this device as too large (1009) (2 times in a row)',
  ]);
});

t.test('a gateway that cannot be reached is reported after three tries in a row', async (t) => {
  const gw = await startFakeGateway(t);
  const url = gw.url.replace(/:\d+$/, ':1'); // nothing listens on port 1
  const c = connection(t, url, {}, 3);
  c.conn.start();
  await waitFor(() => c.delays.length === 3, 'three reconnects');
  t.same(c.delays, [125, 250, 500]);
  t.same(c.problems, ['could not connect to the gateway (ECONNREFUSED), 3 times in a row']);
});
