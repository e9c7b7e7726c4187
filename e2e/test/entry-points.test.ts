/**
 * Entry points as narrow as the processes' needs (issue #9): ccxt lives behind
 * `@appliance/runtime/ccxt` and kafkajs behind `@appliance/protocol/kafka`, so a process that
 * imports only the root entries loads neither. Each process is started with arguments that stop
 * it at once (a config error or `--help`), after every static import has been loaded, and the
 * npm packages it resolved are listed. The device's bundle is checked in
 * images/test/build-client.test.ts.
 */
import t from 'tap';
import { loadedModules } from '@appliance/test-kit';

t.test('the gateway loads kafkajs and ws but not ccxt or fastify', async (t) => {
  const r = await loadedModules('gateway/src/main.ts', ['--port', '0']);
  t.equal(r.exitCode, 2, `stopped at its config check: ${r.output}`);
  t.ok(r.packages.has('kafkajs'), 'kafkajs (the recorder sees what the gateway does load)');
  t.ok(r.packages.has('ws'), 'ws');
  t.notOk(r.packages.has('ccxt'), `no ccxt; loaded: ${[...r.packages].sort().join(' ')}`);
  t.notOk(r.packages.has('fastify'), 'no fastify');
});

t.test('the device loads ccxt but not kafkajs or fastify', async (t) => {
  const r = await loadedModules('signal-client/src/main.ts', ['--help']);
  t.equal(r.exitCode, 0, `--help: ${r.output}`);
  t.ok(r.packages.has('ccxt'), 'ccxt (it trades with it)');
  // ccxt's index would evaluate every exchange class it has; the device needs binance's alone.
  const exchanges = r.urls.flatMap(
    (u) => /\/node_modules\/ccxt\/js\/src\/([a-z0-9]+)\.js$/.exec(u)?.[1] ?? [],
  );
  t.same(exchanges, ['binance'], 'of ccxt, the binance class only');
  t.notOk(
    r.urls.some((u) => u.endsWith('/node_modules/ccxt/js/ccxt.js')),
    "not ccxt's index, which loads every exchange",
  );
  t.notOk(r.packages.has('kafkajs'), `no kafkajs; loaded: ${[...r.packages].sort().join(' ')}`);
  t.notOk(r.packages.has('fastify'), 'no fastify');
});

t.test('the datafeed loads kafkajs but neither ccxt (only --live needs it) nor fastify', async (t) => {
  const r = await loadedModules('datafeed-node/src/main.ts', []);
  t.equal(r.exitCode, 2, `stopped at its config check: ${r.output}`);
  t.ok(r.packages.has('kafkajs'), 'kafkajs');
  t.notOk(r.packages.has('ccxt'), `no ccxt; loaded: ${[...r.packages].sort().join(' ')}`);
  t.notOk(r.packages.has('fastify'), 'no fastify');
});

t.test('the control server and the paper exchange host the exchange without loading ccxt', async (t) => {
  for (const main of ['control-server/src/main.ts', 'paper-exchange/src/main.ts']) {
    const r = await loadedModules(main, ['--port', 'not-a-port']);
    t.equal(r.exitCode, 2, `${main} stopped at its config check: ${r.output}`);
    t.ok(r.packages.has('fastify'), `${main}: fastify (it serves HTTP)`);
    t.notOk(r.packages.has('ccxt'), `${main}: no ccxt; loaded: ${[...r.packages].sort().join(' ')}`);
  }
});
