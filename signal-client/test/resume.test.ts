/**
 * Resume points are kept only for streams the device follows, and only genuine signals move
 * them: whatever a bus writer or a gateway puts in front of it, the device's hello stays small.
 * The gateway here is a fake (the real `ws` server), so it relays what a real one would drop:
 * the device must hold on its own.
 */
import t from 'tap';
import { generateSigner, type Signal, type Signer } from '@appliance/protocol';
import { waitFor } from '@appliance/test-kit';
import { ClientConfig } from '../src/index.js';
import { MAX_RESUME_STREAMS } from '../src/state.js';
import { startFakeGateway } from './fake-gateway.js';
import { STREAM, signedSignal, startStack } from './stack.js';

let candle = 1_700_000_000_000;

/** A signed signal already past its validity: refused at once with E_EXPIRED, no exchange call. */
function expired(signer: Signer, stream = STREAM, ts = Date.now() - 120_000): Signal {
  candle += 3_600_000;
  return signedSignal(signer, { stream, candleTime: candle, ts });
}

t.test(
  'a flood of unsigned and forged stream names keeps no resume point, and the hello stays small',
  async (t) => {
    const stack = await startStack(t);
    const gw = await startFakeGateway(t);
    const dev = await stack.device({ config: { gatewayUrl: gw.url } });
    const stranger = generateSigner();
    let offset = 0;
    const send = (stream: string, signal: unknown) =>
      gw.send({ type: 'signal', stream, offset: String(++offset), signal });

    send(STREAM, expired(stack.feed)); // genuine: the stream's resume point
    for (let i = 0; i < 100; i++) {
      send(`flood-a-${i}`, { stream: `flood-a-${i}`, hello: 'world' }); // unsigned
      send(`flood-b-${i}`, expired(stranger, `flood-b-${i}`)); // a key nobody pinned
      send(`flood-c-${i}`, { ...expired(stack.feed, `flood-c-${i}`), price: 1 }); // tampered
    }
    // A forged record under the followed stream, far ahead (as from another partition).
    gw.send({ type: 'signal', stream: STREAM, offset: '9000000000000000000', signal: { stream: STREAM } });
    // A genuine signal relayed under another stream's name: fresh, and expired.
    send('ema.4h', expired(stack.feed, STREAM, Date.now()));
    send('ema.4h', expired(stack.feed, STREAM));
    // Names and offsets no hello could carry.
    gw.send({ type: 'signal', stream: 'EMA 1h', offset: '1', signal: expired(stack.feed) });
    gw.send({ type: 'signal', stream: STREAM, offset: 'abc', signal: expired(stack.feed) });
    const last = expired(stack.feed);
    send(STREAM, last);
    await dev.until(305);
    await dev.client.idle();

    t.same(
      [...new Set(dev.decisions.slice(1, 301).map((d) => `${d.outcome} ${d.code}`))].sort(),
      ['rejected E_BAD_SIGNATURE', 'rejected E_MALFORMED', 'rejected E_UNKNOWN_KEY'],
      'each refused and reported',
    );
    t.match(dev.decisions[302], {
      stream: 'ema.4h',
      code: 'E_MALFORMED',
      reason: `signal of stream ${STREAM} relayed as ema.4h`,
    });
    t.match(dev.decisions[303], { stream: 'ema.4h', code: 'E_EXPIRED' });
    t.equal(dev.decisions.length, 305, 'the frames with a bad name or offset were ignored');
    t.same(
      dev.store.data.resume,
      { [STREAM]: String(offset) },
      'only the genuine stream, where it really is',
    );

    await dev.client.stop();
    await stack.device({ keys: dev.keys, stateFile: dev.stateFile, config: { gatewayUrl: gw.url } });
    const hello = gw.hellos.at(-1)!;
    t.same(hello.frame.resume, { [STREAM]: String(offset) });
    // Before the fix this state grew to 113 KB and every hello was over 64 KiB (closed 1009).
    t.ok(hello.bytes < 300, `the hello is ${hello.bytes} bytes`);
  },
);

t.test(
  'following every stream, at most MAX_RESUME_STREAMS genuine streams keep a resume point',
  async (t) => {
    const stack = await startStack(t);
    const gw = await startFakeGateway(t);
    const dev = await stack.device({ config: { gatewayUrl: gw.url, telemetryIntervalMs: 100 } });
    const n = MAX_RESUME_STREAMS + 4;
    for (let i = 0; i < n; i++) {
      const stream = `s-${String(i).padStart(3, '0')}`;
      gw.send({ type: 'signal', stream, offset: String(i + 1), signal: expired(stack.feed, stream) });
    }
    await dev.until(n);
    await dev.client.idle();
    t.equal(Object.keys(dev.store.data.resume).length, MAX_RESUME_STREAMS);
    t.notOk('s-259' in dev.store.data.resume, 'not the ones past the bound');
    const text = `more than ${MAX_RESUME_STREAMS} signed streams: no resume point kept for s-256 and any further stream (follow fewer streams in settings.streams)`;
    await waitFor(
      () => gw.frames.some((f) => f.type === 'telemetry' && (f.errors as string[]).includes(text)),
      'the device to report it',
    );
    t.pass('reported once in telemetry errors');
  },
);

t.test(
  'following some streams, only they keep a resume point, whatever caught-up lists or is signed',
  async (t) => {
    const stack = await startStack(t);
    const positions: Record<string, string> = { [STREAM]: '10' };
    for (let i = 0; i < 500; i++) positions[`listed-${i}`] = '3';
    const gw = await startFakeGateway(t, { positions });
    const dev = await stack.device({
      config: { gatewayUrl: gw.url, settings: { timeZone: 'UTC', streams: [STREAM] } },
    });
    t.same(dev.store.data.resume, { [STREAM]: '10' }, 'of 501 listed positions, the followed one');
    gw.send({ type: 'signal', stream: 'ema.4h', offset: '11', signal: expired(stack.feed, 'ema.4h') });
    gw.send({ type: 'signal', stream: STREAM, offset: '12', signal: expired(stack.feed) });
    await dev.until(1);
    await dev.client.idle();
    t.same(
      dev.decisions.map((d) => d.stream),
      [STREAM],
      'the unfollowed stream is skipped',
    );
    t.same(dev.store.data.resume, { [STREAM]: '12' }, 'and keeps no resume point, though genuine');
  },
);

t.test('a device config following more streams than a hello may carry is refused', async (t) => {
  const key = 'A'.repeat(43);
  const base = {
    deviceId: 'dev-1',
    gatewayUrl: 'ws://127.0.0.1:1',
    token: 'device-token-for-tests',
    signalKeys: [key],
    controlKeys: [key],
    stateFile: '/tmp/state.json',
  };
  const issues = (streams: string[]) =>
    ClientConfig.safeParse({ ...base, settings: { timeZone: 'UTC', streams } }).error?.issues.map(
      (i) => `${i.path.join('.')}: ${i.message}`,
    );
  t.same(issues(Array.from({ length: MAX_RESUME_STREAMS + 1 }, (_, i) => `s-${i}`)), [
    `settings.streams: at most ${MAX_RESUME_STREAMS} streams`,
  ]);
  t.same(issues(['EMA 1h']), ['settings.streams.0: stream: lowercase letters, digits, . _ -']);
  t.equal(issues([STREAM]), undefined);
});
