/**
 * `npm run build:gateway`: the compiled gateway runs with plain `node` (no tsx), reads the bus
 * and answers /healthz, and stops cleanly on SIGTERM.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { exportPublicKey, generateSigner } from '@appliance/protocol';
import { REPO_ROOT, freePort, requireTool, spawnNode, startKafkaMock } from '@appliance/test-kit';
import { buildGateway } from '../scripts/build.js';

t.test('the compiled gateway serves without tsx', async (t) => {
  if (!requireTool('kcat', 'kcat')) return t.comment('kcat is not installed');
  // Inside the repository, so the npm packages it leaves external resolve from node_modules.
  const out = await buildGateway(
    join(REPO_ROOT, 'node_modules', '.cache', `gateway-build-${process.pid}.mjs`),
  );
  t.teardown(() => rmSync(out, { force: true }));
  const kafka = await startKafkaMock();
  t.teardown(() => kafka.stop());
  const port = await freePort();
  const key = exportPublicKey(generateSigner().publicKey);
  const gw = spawnNode('compiled gateway', out, [
    '--port',
    String(port),
    '--kafka',
    kafka.bootstrap,
    '--token-key',
    key,
    '--signal-key',
    key,
  ]);
  t.teardown(() => gw.kill('SIGKILL'));
  t.notMatch(gw.proc.spawnargs.join(' '), /tsx/, 'run by plain node');
  await gw.waitForLog((l) => l.msg === 'listening', 'the compiled gateway to listen');
  const res = await fetch(`http://127.0.0.1:${port}/healthz`);
  t.equal(res.status, 200);
  t.match(await res.json(), { status: 'ok' });
  t.same(await gw.kill('SIGTERM'), { code: 0, signal: null }, 'SIGTERM: a clean stop');
});
