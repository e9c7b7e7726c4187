import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import pino from 'pino';
import {
  KeyRing,
  TOPICS,
  exportPrivateKeyPem,
  exportPublicKey,
  generateSigner,
  type Signer,
} from '@appliance/protocol';
import { createKafkaBus } from '@appliance/protocol/kafka';
import {
  requireTool,
  spawnNode,
  startKafkaMock,
  waitFor,
  type LogLine,
  type RunningProcess,
} from '@appliance/test-kit';
import { decodeResult } from '../src/node/job-record.js';
import { lastCandles, publishCandles, startStubControl } from './fixtures/node-fixtures.js';

const skip = requireTool('kcat', 'kcat') ? false : 'kcat is not installed (apt-get install kcat)';
const SYMBOLS = ['BTC/USDT', 'ETH/USDT', 'SOL/USDT'];
/** Enough for the short windows; recording over the mock cluster runs at a few hundred candles a second. */
const CANDLES = 1_500;
const MAIN = 'simulator/src/main.ts';

interface Health {
  series: { symbol: string; count: number }[];
}

async function health(port: number): Promise<Health> {
  const res = await fetch(`http://127.0.0.1:${port}/health`);
  return (await res.json()) as Health;
}

function startNode(
  name: string,
  dir: string,
  key: Signer,
  peer: Signer,
  feed: Signer,
  brokers: string,
  controlUrl: string,
): RunningProcess {
  const keyFile = join(dir, `${name}.pem`);
  writeFileSync(keyFile, exportPrivateKeyPem(key), { mode: 0o600 });
  return spawnNode(name, MAIN, [
    '--kafka',
    brokers,
    '--data-dir',
    join(dir, name),
    '--signing-key-file',
    keyFile,
    '--node',
    name,
    '--control-url',
    controlUrl,
    '--http-port',
    '0',
    '--workers',
    '2',
    '--peer-key',
    exportPublicKey(peer.publicKey),
    '--candle-key',
    exportPublicKey(feed.publicKey),
  ]);
}

const ready = (p: RunningProcess) =>
  p.waitForLog((l) => l.msg?.startsWith('simulator node ready') === true, `${p.name} ready`, 60_000);

t.test(
  'two node processes on Kafka: one killed with SIGKILL mid-run, the survivor takes its jobs over and each result counts once',
  { skip },
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'sim-node-kafka-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const kafka = await startKafkaMock();
    t.teardown(() => kafka.stop());
    const [a, b, feed] = [generateSigner(), generateSigner(), generateSigner()];
    const control = await startStubControl(
      KeyRing.of(exportPublicKey(a.publicKey), exportPublicKey(b.publicKey)),
    );
    t.teardown(() => control.close());

    const bus = createKafkaBus({
      brokers: kafka.brokers,
      clientId: 'test',
      logger: pino({ level: 'silent' }),
    });
    t.teardown(() => bus.close());
    for (const symbol of SYMBOLS) await publishCandles(bus, feed, symbol, await lastCandles(symbol, CANDLES));

    const nodeA = startNode('sim-a', dir, a, b, feed, kafka.bootstrap, control.url);
    t.teardown(() => nodeA.kill('SIGKILL'));
    const nodeB = startNode('sim-b', dir, b, a, feed, kafka.bootstrap, control.url);
    t.teardown(() => nodeB.kill('SIGKILL'));
    const [readyA, readyB] = await Promise.all([ready(nodeA), ready(nodeB)]);
    const portA = readyA.port as number;
    const portB = readyB.port as number;
    const counts = { a: 0, b: 0 };
    const stored = async (port: number) => (await health(port)).series.reduce((n, s) => n + s.count, 0);
    try {
      await waitFor(
        async () => {
          counts.a = await stored(portA);
          counts.b = await stored(portB);
          return counts.a === SYMBOLS.length * CANDLES && counts.b === SYMBOLS.length * CANDLES;
        },
        'both nodes to have recorded every candle',
        120_000,
        250,
      );
    } catch (err) {
      const tail = (p: RunningProcess) =>
        [...p.text.slice(-5), ...p.lines.slice(-5).map((l) => JSON.stringify(l))].join('\n');
      throw new Error(
        `${(err as Error).message}: a ${counts.a}, b ${counts.b}\n${tail(nodeA)}\n${tail(nodeB)}`,
        { cause: err },
      );
    }
    // Both are members of the group before the run: a unit is logged by the one that owns its partition.
    const res = await fetch(`http://127.0.0.1:${portA}/run`, { method: 'POST' });
    t.equal(res.status, 202, 'POST /run starts a run');
    const startedOnB = await nodeB.waitForLog(
      (l) => l.msg === 'simulator unit started',
      'node b to start a unit',
      60_000,
    );
    await nodeB.kill('SIGKILL');
    const unitsStartedOnB = nodeB.lines
      .filter((l) => l.msg === 'simulator unit started')
      .map((l) => l.unit as string);
    const unitsDoneOnB = new Set(
      nodeB.lines.filter((l) => l.msg === 'simulator unit done').map((l) => l.unit as string),
    );

    const submitted: LogLine = await nodeA
      .waitForLog(
        (l) => l.msg === 'simulator run submitted' || l.msg?.startsWith('simulator run failed') === true,
        'node a to finish the run',
        180_000,
      )
      .catch((err: Error) => {
        throw new Error(
          `${err.message}\n${nodeA.lines
            .slice(-40)
            .map((l) => JSON.stringify(l))
            .join('\n')}`,
          {
            cause: err,
          },
        );
      });
    t.equal(submitted.msg, 'simulator run submitted', `the run completes (${String(submitted.error ?? '')})`);
    const outcome = submitted as LogLine & {
      runId: string;
      jobs: number;
      received: number;
      duplicates: number;
      decisions: number;
      byNode: Record<string, number>;
    };

    // Takeover: a unit b had started but not finished when it died was run by a.
    const doneOnA = new Set(
      nodeA.lines.filter((l) => l.msg === 'simulator unit done').map((l) => l.unit as string),
    );
    t.ok(unitsStartedOnB.includes(startedOnB.unit as string));
    const takenOver = unitsStartedOnB.filter((u) => !unitsDoneOnB.has(u) && doneOnA.has(u));
    t.ok(takenOver.length >= 1, `node a ran the unit(s) node b died in (${takenOver.length})`);

    // Each jobId's result counted once: everything on the results topic for the run, read back.
    const perJob = new Map<string, number>();
    let records = 0;
    const sub = await bus.subscribe({
      topic: TOPICS.simulatorResults,
      from: 'earliest',
      onMessage: (m) => {
        if (m.key !== outcome.runId) return;
        const r = decodeResult(
          m.value,
          KeyRing.of(exportPublicKey(a.publicKey), exportPublicKey(b.publicKey)),
        );
        records++;
        perJob.set(r.jobId, (perJob.get(r.jobId) ?? 0) + 1);
      },
    });
    t.teardown(() => sub.close());
    await waitFor(() => records >= outcome.received, 'the results topic read back', 60_000);
    t.equal(perJob.size, outcome.jobs, 'a result for every job of the run is on the topic');
    t.equal(
      records,
      outcome.jobs + outcome.duplicates,
      'every record beyond one per job was counted as a duplicate',
    );
    t.equal(
      Object.values(outcome.byNode).reduce((n, k) => n + k, 0),
      outcome.jobs,
      'the coordinator counted each job once',
    );

    t.equal(control.accepted.length, 1, 'one set of decisions submitted');
    t.same(control.refused, []);
    const decisions = control.accepted[0]!;
    t.equal(decisions.runId, outcome.runId);
    t.equal(decisions.decisions.length, outcome.decisions);
    t.equal(new Set(decisions.decisions.map((d) => d.symbol)).size, SYMBOLS.length, 'every pair decided');

    await nodeA.kill('SIGTERM');
    t.equal((await nodeA.exited).code, 0, 'a stops cleanly on SIGTERM');
  },
);
