/**
 * The walking skeleton end to end, every part a separate process over the Kafka protocol
 * (librdkafka's mock cluster): control server with the paper exchange, gateway, datafeed
 * replaying real candles, and three signal clients trading through ccxt. One client is killed
 * with SIGKILL mid-run and restarted. Forged, expired and replayed signals are injected.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import t from 'tap';
import {
  TOPICS,
  TOPIC_PARTITIONS,
  createSignal,
  exportPublicKey,
  type DecisionRecord,
  type Signal,
} from '@appliance/protocol';
import { createKafkaBus } from '@appliance/protocol/kafka';
import { Ledger } from '@appliance/trading-core';
import { createBinance } from '@appliance/runtime/ccxt';
import { READY_MESSAGE, clientOrderId, type ClientState } from '@appliance/signal-client';
import {
  requireTool,
  signerWithKeyFile,
  spawnNode,
  startKafkaMock,
  waitFor,
  type RunningProcess,
} from '@appliance/test-kit';

const DATA = new URL('../../../shared/data/ohlcv/', import.meta.url).pathname;
const STREAM = 'ema-cross.1h';
const DEVICES = ['dev-1', 'dev-2', 'dev-3'];
const RESTARTED = 'dev-2';

t.test('signals flow from replayed market data to paper orders, exactly once per device', async (t) => {
  if (!requireTool('kcat', 'kcat')) return t.comment('kcat is not installed: apt-get install kcat');
  const kafka = await startKafkaMock();
  t.teardown(() => kafka.stop());
  const dir = mkdtempSync(join(tmpdir(), 'e2e-'));
  const procs: RunningProcess[] = [];
  t.teardown(async () => {
    for (const p of procs) await p.kill('SIGKILL');
  });

  const bus = createKafkaBus({ brokers: kafka.brokers, clientId: 'e2e-test' });
  t.teardown(() => bus.close());
  for (const [topic, n] of Object.entries(TOPIC_PARTITIONS)) await bus.ensureTopic(topic, n);

  const { signer: control } = signerWithKeyFile(dir, 'control.pem');
  const { signer: feed } = signerWithKeyFile(dir, 'feed.pem');
  const adminToken = randomBytes(24).toString('base64url');

  const cs = spawnNode(
    'control-server',
    'control-server/src/main.ts',
    [
      '--port',
      '0',
      '--paper-port',
      '0',
      '--kafka',
      kafka.bootstrap,
      '--signing-key-file',
      join(dir, 'control.pem'),
      '--feed-key',
      exportPublicKey(feed.publicKey),
      '--data-dir',
      join(dir, 'control'),
      '--eligibility',
      `${STREAM}=BTC/USDT,ETH/USDT`,
    ],
    { CONTROL_ADMIN_TOKEN: adminToken },
  );
  procs.push(cs);
  const gw = spawnNode('gateway', 'gateway/src/main.ts', [
    '--port',
    '0',
    '--kafka',
    kafka.bootstrap,
    '--token-key',
    exportPublicKey(control.publicKey),
    '--signal-key',
    exportPublicKey(feed.publicKey),
  ]);
  procs.push(gw);
  const { url: api, paperUrl } = (await cs.waitForLog(
    (l) => l.msg === 'listening',
    'control server',
  )) as unknown as { url: string; paperUrl: string };
  const { url: gatewayUrl } = (await gw.waitForLog((l) => l.msg === 'listening', 'gateway')) as unknown as {
    url: string;
  };

  const post = async (path: string, body: object = {}) => {
    const res = await fetch(`${api}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    t.equal(res.status, 201, `POST ${path}`);
    return (await res.json()) as Record<string, string>;
  };

  // Every signal on the topic, as the test sees it, with its offset.
  const onTopic: { offset: string; signal: Signal }[] = [];
  const sub = await bus.subscribe({
    topic: TOPICS.signals,
    from: 'earliest',
    onMessage: (m) => void onTopic.push({ offset: m.offset, signal: JSON.parse(m.value.toString()) }),
  });
  t.teardown(() => sub.close());
  await sub.ready;

  const devices = new Map<
    string,
    { keys: Record<string, string>; configFile: string; stateFile: string; proc: RunningProcess }
  >();
  const startDevice = async (id: string) => {
    const d = devices.get(id)!;
    const proc = spawnNode(id, 'signal-client/src/main.ts', ['run', '--config', d.configFile], {
      EXCHANGE_API_KEY: d.keys.apiKey!,
      EXCHANGE_API_SECRET: d.keys.secret!,
    });
    procs.push(proc);
    d.proc = proc;
    await proc.waitForLog((l) => l.msg === READY_MESSAGE, `${id} ready`);
  };
  for (const id of DEVICES) {
    const { token } = await post('/api/devices', { id });
    const keys = await post(`/api/devices/${id}/paper-account`);
    const stateFile = join(dir, id, 'state.json');
    const configFile = join(dir, `${id}.json`);
    writeFileSync(
      configFile,
      JSON.stringify({
        deviceId: id,
        gatewayUrl,
        token,
        signalKeys: [exportPublicKey(feed.publicKey)],
        controlKeys: [exportPublicKey(control.publicKey)],
        stateFile,
        exchange: { paperUrl },
        telemetryIntervalMs: 1_000,
        statusPort: 0,
      }),
    );
    devices.set(id, { keys, configFile, stateFile, proc: undefined as never });
    await startDevice(id);
  }

  const datafeed = spawnNode('datafeed', 'datafeed-node/src/main.ts', [
    '--kafka',
    kafka.bootstrap,
    '--signing-key-file',
    join(dir, 'feed.pem'),
    '--stream',
    STREAM,
    '--replay',
    join(DATA, 'binance_BTC-USDT_1h.csv'),
    join(DATA, 'binance_ETH-USDT_1h.csv'),
    '--limit',
    '2400',
    '--speed',
    '250000',
  ]);
  procs.push(datafeed);
  // Each signer names its key at start, so an operator can match it to the pins from the logs.
  for (const [proc, signer, msg] of [
    [cs, control, 'signing control messages and device tokens with this key'],
    [datafeed, feed, 'signing signals and candles with this key'],
  ] as const) {
    const line = await proc.waitForLog((l) => l.msg === msg, `${proc.name} to name its key`);
    t.match(
      line,
      { kid: signer.kid, publicKey: exportPublicKey(signer.publicKey) },
      `${proc.name} logs its key`,
    );
  }

  // Mid-run: kill one device with SIGKILL once it has decided a few times, restart it later.
  const victim = devices.get(RESTARTED)!;
  await victim.proc.waitForLog((l) => l.msg === 'decision', `${RESTARTED} to decide`, 90_000);
  await waitFor(
    () => victim.proc.lines.filter((l) => l.msg === 'decision').length >= 3,
    `${RESTARTED} to decide 3 times`,
    90_000,
  );
  await victim.proc.kill('SIGKILL');
  const countBefore = onTopic.length;

  // Hostile messages, put straight onto the bus as a compromised gateway or Kafka might.
  await waitFor(() => onTopic.length > countBefore, 'a signal while the device is down', 90_000);
  const genuine = onTopic.at(-1)!.signal;
  const forged = { ...genuine, price: genuine.price / 2 };
  const expired = createSignal(
    {
      stream: STREAM,
      symbol: 'BTC/USDT',
      side: 'buy',
      price: 1,
      candleTime: 0,
      ts: Date.now() - 120_000,
      ttlMs: 60_000,
      strength: 1,
      algoVersion: 'x/1',
      origin: 'feed-1',
    },
    feed,
  );
  await bus.publish(
    TOPICS.signals,
    [forged, genuine, expired].map((s) => ({ key: STREAM, value: JSON.stringify(s) })),
  );
  // The device stays down until the feed has gone on past the hostile records (or finished), so
  // what it comes back to includes signals it missed.
  await waitFor(
    () => {
      const at = onTopic.findIndex((x) => x.signal.id === expired.id);
      return (at >= 0 && onTopic.length - at > 1) || datafeed.lines.some((l) => l.msg === 'feed finished');
    },
    'the feed to go on past the hostile records',
    90_000,
  );
  await startDevice(RESTARTED);

  const finished = await datafeed.waitForLog(
    (l) => l.msg === 'feed finished',
    'the replay to finish',
    180_000,
  );
  t.match(
    finished,
    { candles: 2400, ledgerBalanced: true },
    'the datafeed replayed every candle and its virtual books balance',
  );
  t.equal((await datafeed.exited).code, 0);
  await waitFor(() => onTopic.length === Number(finished.signals) + 3, 'every signal on the topic');
  const lastOffset = onTopic.at(-1)!.offset;
  const feedSignals = onTopic
    .filter((x) => x.signal !== forged && x.signal.candleTime !== 0)
    .map((x) => x.signal);
  const feedIds = [...new Set(feedSignals.map((s) => s.id))];
  t.equal(feedIds.length, Number(finished.signals), 'one id per signal');
  t.ok(feedIds.length >= 10 && feedIds.length < 200, `a meaningful number of signals (${feedIds.length})`);

  const readState = (id: string) =>
    JSON.parse(readFileSync(devices.get(id)!.stateFile, 'utf8')) as ClientState;
  for (const id of DEVICES)
    await waitFor(
      () => readState(id).resume[STREAM] === lastOffset,
      `${id} to handle offset ${lastOffset}`,
      60_000,
    );

  // The fleet view, from telemetry through the gateway and Kafka. A minute, as for the offsets
  // above: on a loaded CI host that path lags far behind the devices' one-second cadence.
  let lastFleet = '';
  await waitFor(
    async () => {
      const res = await fetch(`${api}/api/fleet`, { headers: { authorization: `Bearer ${adminToken}` } });
      const fleet = (await res.json()) as { devices: { id: string; online: boolean; fills: number }[] };
      // What the view and the state files said last, should this time out.
      lastFleet = JSON.stringify(
        fleet.devices.map((d) => ({
          id: d.id,
          online: d.online,
          fills: d.fills,
          stateFills: readState(d.id).fills,
        })),
      );
      return (
        fleet.devices.length === 3 &&
        fleet.devices.every((d) => d.online && d.fills === readState(d.id).fills && d.fills > 0)
      );
    },
    'the fleet view to show every device online with its fills',
    60_000,
  ).catch((err: Error) => {
    throw new Error(`${err.message}; last seen: ${lastFleet}`);
  });

  for (const id of DEVICES) await devices.get(id)!.proc.kill('SIGTERM');

  // Keys never leave the device: not in any log line, telemetry record or state file.
  // Read the whole telemetry topic: a sentinel on each device's key lands after everything that
  // device's gateway published in that partition.
  await bus.publish(
    TOPICS.telemetry,
    DEVICES.map((id) => ({ key: id, value: JSON.stringify({ sentinel: id }) })),
  );
  const telemetry: string[] = [];
  let sentinels = 0;
  const tsub = await bus.subscribe({
    topic: TOPICS.telemetry,
    from: 'earliest',
    onMessage: (m) => {
      if (m.value.toString().startsWith('{"sentinel"')) sentinels++;
      else telemetry.push(m.value.toString());
    },
  });
  await waitFor(() => sentinels === DEVICES.length, 'the whole telemetry topic');
  await tsub.close();
  const deviceOutput = procs
    .filter((p) => DEVICES.includes(p.name))
    .flatMap((p) => [...p.lines.map((l) => JSON.stringify(l)), ...p.text]);
  for (const [id, d] of devices) {
    const haystacks = {
      logs: deviceOutput.join('\n'),
      telemetry: telemetry.join('\n'),
      state: readFileSync(d.stateFile, 'utf8'),
    };
    for (const [where, text] of Object.entries(haystacks)) {
      t.notOk(
        text.includes(d.keys.apiKey!) || text.includes(d.keys.secret!),
        `${id}: no API key or secret in ${where}`,
      );
    }
  }
  t.ok(deviceOutput.length > 50 && telemetry.length > 10, 'there was output to search');

  for (const id of DEVICES) {
    await t.test(`device ${id}${id === RESTARTED ? ' (killed and restarted)' : ''}`, async (t) => {
      const state = readState(id);
      const decisions: DecisionRecord[] = state.decisions;
      t.ok(decisions.length < 200, 'every decision is still in the state file');
      const byCode = (code: string) => decisions.filter((d) => d.code === code);
      // The gateway verifies what it relays: the forged copy never reaches a device.
      t.equal(byCode('E_BAD_SIGNATURE').length, 0, 'the forged signal was dropped by the gateway');
      t.equal(byCode('E_EXPIRED').length, 1, 'the expired signal was rejected');
      t.equal(byCode('E_EXPIRED')[0]!.signalId, expired.id);
      t.equal(
        byCode('E_REPLAYED').length,
        1,
        'the replayed signal was rejected, and nothing else was seen twice',
      );
      t.equal(byCode('E_REPLAYED')[0]!.signalId, genuine.id);
      const handled = decisions.filter(
        (d) => !['E_BAD_SIGNATURE', 'E_EXPIRED', 'E_REPLAYED'].includes(d.code),
      );
      t.same(
        handled.map((d) => d.signalId).sort(),
        [...feedIds].sort(),
        'every feed signal decided exactly once: none missed, none repeated',
      );
      t.notOk(
        Object.values(state.intents).some((i) => i.status === 'pending'),
        'no intent left unresolved',
      );

      // What the exchange says, through ccxt with the device's own keys.
      const ex = createBinance({ ...devices.get(id)!.keys, baseUrl: paperUrl });
      await ex.loadMarkets();
      const orders = [...(await ex.fetchOrders('BTC/USDT')), ...(await ex.fetchOrders('ETH/USDT'))];
      const ids = orders.map((o) => o.clientOrderId);
      t.equal(
        new Set(ids).size,
        ids.length,
        'no client order id on the exchange twice: no duplicate execution',
      );
      const executed = handled.filter((d) => d.outcome === 'executed');
      t.ok(executed.length > 0, `some signals executed (${executed.length})`);
      t.same(
        ids.sort(),
        executed.map((d) => clientOrderId(id, d.signalId)).sort(),
        'the exchange holds exactly the orders the journal executed',
      );
      const done = Object.values(state.intents).filter((i) => i.status === 'done');
      t.equal(done.length, orders.length, 'every order on the exchange is in the journal');

      const books = Ledger.fromJSON(state.ledger);
      t.ok(books.isBalanced(), 'the device books balance');
      const total = (await ex.fetchBalance()).total as unknown as Record<string, number>;
      t.equal(
        books.cash().toFixed(4),
        Number(total.USDT).toFixed(4),
        'book cash equals the exchange balance',
      );
      for (const asset of ['BTC', 'ETH']) {
        t.equal(
          books.position(asset).quantity,
          Number(total[asset] ?? 0),
          `book ${asset} equals the exchange balance`,
        );
      }
    });
  }
});
