import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import pino from 'pino';
import { exportPrivateKeyPem, exportPublicKey, generateSigner } from '@appliance/protocol';
import { createKafkaBus } from '@appliance/protocol/kafka';
import { requireTool, spawnNode, startKafkaMock, waitFor, type RunningProcess } from '@appliance/test-kit';
import { lastCandles, publishCandles } from './fixtures/node-fixtures.js';

const skip = requireTool('kcat', 'kcat') ? false : 'kcat is not installed (apt-get install kcat)';

interface Health {
  series: { symbol: string; timeframe: string; count: number; last?: number; duplicates: number }[];
  recorder: { stored: number; duplicate: number };
}

async function health(port: number): Promise<Health> {
  return (await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as Health;
}

t.test(
  'a node killed with SIGKILL and restarted keeps its candle store and records the next candles',
  { skip },
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'sim-node-restart-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const kafka = await startKafkaMock();
    t.teardown(() => kafka.stop());
    const [key, feed] = [generateSigner(), generateSigner()];
    const keyFile = join(dir, 'node.pem');
    writeFileSync(keyFile, exportPrivateKeyPem(key), { mode: 0o600 });
    const bus = createKafkaBus({
      brokers: kafka.brokers,
      clientId: 'test',
      logger: pino({ level: 'silent' }),
    });
    t.teardown(() => bus.close());

    const start = (): RunningProcess => {
      const p = spawnNode('sim-r', 'simulator/src/main.ts', [
        ...['--kafka', kafka.bootstrap, '--data-dir', join(dir, 'data'), '--signing-key-file', keyFile],
        ...['--node', 'sim-r', '--http-port', '0', '--workers', '1'],
        ...['--candle-key', exportPublicKey(feed.publicKey)],
      ]);
      t.teardown(() => p.kill('SIGKILL'));
      return p;
    };
    const portOf = async (p: RunningProcess) =>
      (await p.waitForLog((l) => l.msg?.startsWith('simulator node ready') === true, 'ready', 60_000))
        .port as number;

    const candles = await lastCandles('BTC/USDT', 600);
    const first = candles.slice(0, 400);
    const next = candles.slice(400);
    await publishCandles(bus, feed, 'BTC/USDT', first);

    const before = start();
    const portBefore = await portOf(before);
    await waitFor(
      async () => (await health(portBefore)).series[0]?.count === 400,
      'the first 400 candles stored',
      60_000,
      100,
    );
    await before.kill('SIGKILL');
    t.equal((await before.exited).signal, 'SIGKILL');

    // While it is down the feed goes on.
    await publishCandles(bus, feed, 'BTC/USDT', next);

    const after = start();
    const up = await after.waitForLog((l) => l.msg === 'candle store opened', 'the store opened', 60_000);
    t.same(up.series, ['BTC/USDT 1h 400'], 'the store it reopens holds what was recorded before the kill');
    const port = await portOf(after);
    await waitFor(
      async () => (await health(port)).series[0]?.count === 600,
      'the next 200 candles stored',
      60_000,
      100,
    );
    const h = await health(port);
    t.equal(h.series[0]!.last, candles.at(-1)!.time, 'up to the newest candle');
    t.equal(h.recorder.stored, 200, 'only the candles it did not hold are appended');
    t.equal(
      h.recorder.duplicate,
      400,
      'the ones it held, offered again from the earliest offset, are recognised',
    );
    await after.kill('SIGTERM');
    t.equal((await after.exited).code, 0);
  },
);
