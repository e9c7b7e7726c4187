import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import pino from 'pino';
import { KeyRing, exportPublicKey, generateSigner, verifySimulatorResult } from '@appliance/protocol';
import { SubmitError, submitDecisions } from '../src/node/submit.js';

const logger = pino({ level: 'silent' });
const signer = generateSigner();
const input = {
  runId: 'sim-0123456789abcdef',
  end: Date.UTC(2026, 0, 1),
  node: 'sim-a',
  decisions: [{ stream: 'ema-cross.1h', symbol: 'BTC/USDT', eligible: false, reason: 'drawdown too deep' }],
};
const options = (url: string, attempts: number) => ({
  controlUrl: url,
  signer,
  logger,
  attempts,
  sleep: async () => {},
});

async function server(answers: [number, string][]) {
  const bodies: unknown[] = [];
  const s = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      bodies.push(JSON.parse(body));
      const [status, text] = answers[Math.min(bodies.length - 1, answers.length - 1)]!;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(text);
    });
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => s.close(() => r())));
  return { url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`, bodies };
}

t.test('a 5xx is retried and the same decisions, signed afresh, go through', async (t) => {
  const stub = await server([
    [503, '{"error":{"code":"E_BUSY","message":"busy"}}'],
    [502, 'bad gateway'],
    [200, '{"ok":true}'],
  ]);
  const sent = await submitDecisions(input, options(stub.url, 5));
  t.equal(stub.bodies.length, 3);
  const verified = verifySimulatorResult(stub.bodies[2], KeyRing.of(exportPublicKey(signer.publicKey)), {
    now: Date.now(),
  });
  t.same(verified.decisions, input.decisions);
  t.equal(sent.sig, verified.sig);
});

t.test('a 4xx is refused at once, with what the server said', async (t) => {
  const stub = await server([
    [409, '{"error":{"code":"E_REPLAY","message":"run sim-0123456789abcdef was already taken"}}'],
  ]);
  const err = await submitDecisions(input, options(stub.url, 5)).catch((e: unknown) => e);
  t.ok(SubmitError.is(err, 'E_REFUSED'));
  t.equal(
    (err as Error).message,
    'the control server refused run sim-0123456789abcdef: 409 E_REPLAY run sim-0123456789abcdef was already taken',
  );
  t.equal((err as SubmitError).retriable, false);
  t.equal(stub.bodies.length, 1, 'sent once');
});

t.test('a server that keeps failing, or is not there, is E_UNREACHABLE after the attempts', async (t) => {
  const stub = await server([[500, '']]);
  const err = await submitDecisions(input, options(stub.url, 3)).catch((e: unknown) => e);
  t.ok(SubmitError.is(err, 'E_UNREACHABLE'));
  t.match(
    (err as Error).message,
    /^could not submit run sim-0123456789abcdef to http:\/\/127\.0\.0\.1:\d+\/api\/simulator\/results in 3 attempts: 500 \(HTTP 500, no body\)$/,
  );
  t.equal(stub.bodies.length, 3);

  // A port nothing listens on: take one and close it.
  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const port = (closed.address() as AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  const gone = await submitDecisions(input, options(`http://127.0.0.1:${port}`, 2)).catch((e: unknown) => e);
  t.ok(SubmitError.is(gone, 'E_UNREACHABLE'));
  t.match((gone as Error).message, /in 2 attempts: .*ECONNREFUSED/);
});

t.test('a 409 E_REPLAYED after a failed attempt means the earlier attempt was taken', async (t) => {
  const stub = await server([
    [503, '{"error":"E_INTERNAL","message":"internal error"}'],
    [409, '{"error":"E_REPLAYED","message":"simulator run sim-0123456789abcdef was already received"}'],
  ]);
  const sent = await submitDecisions(input, options(stub.url, 5));
  t.equal(sent.runId, input.runId);
  t.equal(stub.bodies.length, 2);

  // On a first attempt the same answer is a refusal: someone else submitted this run id.
  const first = await server([
    [409, '{"error":"E_REPLAYED","message":"simulator run sim-0123456789abcdef was already received"}'],
  ]);
  const err = await submitDecisions(input, options(first.url, 5)).catch((e: unknown) => e);
  t.ok(SubmitError.is(err, 'E_REFUSED'));
  t.equal(
    (err as Error).message,
    'the control server refused run sim-0123456789abcdef: 409 E_REPLAYED simulator run sim-0123456789abcdef was already received',
  );
});
