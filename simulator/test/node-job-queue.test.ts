import t from 'tap';
import pino from 'pino';
import { EmbeddedBus, KeyRing, TOPICS, exportPublicKey, generateSigner } from '@appliance/protocol';
import { waitFor } from '@appliance/test-kit';
import { encodeResult } from '../src/node/job-record.js';
import { ResultCollector } from '../src/node/result-collector.js';
import type { JobResult } from '../src/worker.js';

const logger = pino({ level: 'silent' });
const node = generateSigner();
const forger = generateSigner();

function result(jobId: string, sharpe = 1): JobResult {
  return {
    jobId,
    threadId: 1,
    metrics: { sharpe, sortino: Number.POSITIVE_INFINITY } as unknown as JobResult['metrics'],
    error: null,
    candles: 100,
    data: [],
  };
}

t.test('the coordinator counts one genuine result per job of its run, and nothing else', async (t) => {
  const bus = new EmbeddedBus();
  const collector = new ResultCollector({ bus, keys: KeyRing.of(exportPublicKey(node.publicKey)), logger });
  await collector.start();
  t.teardown(() => collector.close());
  const run = collector.expect('run-1', ['j1', 'j2']);
  const send = (value: string, key = 'run-1') => bus.publish(TOPICS.simulatorResults, [{ key, value }]);

  // Signed by a key no simulator node has: refused.
  await send(encodeResult({ runId: 'run-1', jobId: 'j1', node: 'x', result: result('j1', 99) }, forger));
  // Genuine, then altered on the way: refused.
  const genuine = JSON.parse(
    encodeResult({ runId: 'run-1', jobId: 'j1', node: 'a', result: result('j1') }, node),
  ) as {
    result: { metrics: { sharpe: number } };
  };
  genuine.result.metrics.sharpe = 99;
  await send(JSON.stringify(genuine));
  // A job that is not in the plan: ignored.
  await send(encodeResult({ runId: 'run-1', jobId: 'j9', node: 'a', result: result('j9') }, node));
  // Genuine, twice (a redelivered unit), and the other job.
  await send(encodeResult({ runId: 'run-1', jobId: 'j1', node: 'a', result: result('j1') }, node));
  await send(encodeResult({ runId: 'run-1', jobId: 'j1', node: 'b', result: result('j1') }, node));
  await send(encodeResult({ runId: 'run-1', jobId: 'j2', node: 'b', result: result('j2', 2) }, node));

  const collected = await run.wait(30_000);
  t.same([...collected.results.keys()].sort(), ['j1', 'j2']);
  t.equal(collected.results.get('j1')!.metrics!.sharpe, 1, 'the genuine j1, not the forged or altered one');
  t.equal(
    collected.results.get('j1')!.metrics!.sortino,
    Number.POSITIVE_INFINITY,
    'Infinity survives the trip',
  );
  t.equal(collected.duplicates, 1, 'the second j1 is a duplicate');
  t.equal(collected.received, 3, 'three genuine records of the plan received');
  t.same(collected.byNode, { a: 1, b: 1 }, 'each job counted once, for the node whose copy came first');
});

t.test('a run whose results do not all come is given up with E_RUN_TIMEOUT', async (t) => {
  const bus = new EmbeddedBus();
  const collector = new ResultCollector({ bus, keys: KeyRing.of(exportPublicKey(node.publicKey)), logger });
  await collector.start();
  t.teardown(() => collector.close());
  const run = collector.expect('run-2', ['j1', 'j2']);
  await bus.publish(TOPICS.simulatorResults, [
    {
      key: 'run-2',
      value: encodeResult({ runId: 'run-2', jobId: 'j1', node: 'a', result: result('j1') }, node),
    },
  ]);
  let delivered = false;
  await bus.subscribe({
    topic: TOPICS.simulatorResults,
    from: 'earliest',
    onMessage: () => void (delivered = true),
  });
  await waitFor(() => delivered, 'the record delivered');
  await t.rejects(run.wait(1), {
    code: 'E_RUN_TIMEOUT',
    message: 'run run-2: 1 of 2 results missing after 1 ms',
  });
});
