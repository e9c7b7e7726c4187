import { request } from 'node:http';
import t from 'tap';
import pino from 'pino';
import { startSchedule, startTriggerServer } from '../src/node/scheduler.js';

const logger = pino({ level: 'silent' });

/** A raw request, so the Host header can be anything. */
function call(port: number, method: string, path: string, host = `127.0.0.1:${port}`) {
  return new Promise<{ status: number; body: unknown }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers: { host } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) as unknown }));
    });
    req.on('error', reject);
    req.end();
  });
}

t.test('POST /run starts a run, or says which one is under way; GET /health answers', async (t) => {
  let running: string | undefined;
  const server = await startTriggerServer({
    port: 0,
    logger,
    trigger: () => {
      if (running) return { started: false, runId: running };
      running = 'sim-1';
      return { started: true };
    },
    status: () => ({ running: running ?? null }),
  });
  t.teardown(() => server.close());
  t.same(await call(server.port, 'POST', '/run'), { status: 202, body: { started: true } });
  t.same(await call(server.port, 'POST', '/run'), { status: 409, body: { started: false, runId: 'sim-1' } });
  t.same(await call(server.port, 'GET', '/health'), { status: 200, body: { running: 'sim-1' } });
  t.same(await call(server.port, 'GET', '/run'), {
    status: 405,
    body: { error: 'E_METHOD', message: 'GET not allowed' },
  });
  t.equal((await call(server.port, 'GET', '/')).status, 404);
});

t.test(
  'a Host other than loopback is refused, so a web page cannot start runs through DNS rebinding',
  async (t) => {
    let triggered = 0;
    const server = await startTriggerServer({
      port: 0,
      logger,
      trigger: () => {
        triggered++;
        return { started: true };
      },
      status: () => ({}),
    });
    t.teardown(() => server.close());
    t.same(await call(server.port, 'POST', '/run', `attacker.example:${server.port}`), {
      status: 421,
      body: { error: 'E_HOST', message: 'not a loopback Host' },
    });
    t.equal(triggered, 0);
    t.equal((await call(server.port, 'POST', '/run', `localhost:${server.port}`)).status, 202);
    t.equal(triggered, 1);
  },
);

t.test('the schedule triggers at start when asked, and not after stop', async (t) => {
  const why: string[] = [];
  const schedule = startSchedule({ everyMs: 3_600_000, runAtStart: true, trigger: (w) => why.push(w) });
  await new Promise((r) => setImmediate(r));
  schedule.stop();
  t.same(why, ['start']);
  const quiet = startSchedule({ everyMs: 3_600_000, runAtStart: true, trigger: (w) => why.push(w) });
  quiet.stop();
  await new Promise((r) => setImmediate(r));
  t.same(why, ['start'], 'stopped before its first turn: nothing runs');
});
