#!/usr/bin/env node
import { availableParallelism, hostname } from 'node:os';
import { EmbeddedBus, exportPublicKey, importPublicKey, signerFromPem, type Bus } from '@appliance/protocol';
import { createKafkaBus } from '@appliance/protocol/kafka';
import { StrategyError, strategySpec } from '@appliance/trading-core';
import { EXIT, createLogger, handleShutdown, kafkaSecurityFromEnv, startShell } from '@appliance/runtime';
import { Config, simulatorOptions } from './node/config.js';
import { startSchedule, startTriggerServer } from './node/scheduler.js';
import { SimulatorNode } from './node/simulator-node.js';

/**
 * The simulator node: `node --import tsx simulator/src/main.ts`. Records candles, runs its share
 * of every node's jobs, and on schedule or `POST /run` coordinates a run (simulator/README.md,
 * "Simulator node"; options in docs/configuration.md).
 */
const defaultNode = hostname()
  .toLowerCase()
  .replace(/[^a-z0-9._-]/g, '-')
  .replace(/^[^a-z0-9]+/, '')
  .slice(0, 64);

const started = startShell(
  {
    name: 'simulator',
    description:
      'Records signed candles, runs its share of every simulator node’s backtests, and on schedule or POST /run submits signed eligibility decisions',
    configEnv: 'SIMULATOR_CONFIG',
    schema: Config,
    options: simulatorOptions({ workers: Math.max(1, availableParallelism()), node: defaultNode || 'sim-1' }),
    helpAfter: 'Kafka TLS and SASL: KAFKA_SSL_* and KAFKA_SASL_* (docs/bus-security.md).',
  },
  (shell) => {
    const signingKeyPem = shell.readSigningKey('signingKeyFile');
    for (const s of shell.config.strategies)
      try {
        strategySpec(s);
      } catch (err) {
        if (!(err instanceof StrategyError)) throw err;
        throw shell.problem('strategies', err.message);
      }
    for (const k of ['peerKeys', 'candleKeys'] as const)
      for (const key of shell.config[k])
        try {
          importPublicKey(key);
        } catch {
          throw shell.problem(k, `${key.slice(0, 12)}…: not an Ed25519 public key`);
        }
    return { config: shell.config, signingKeyPem, kafkaSecurity: kafkaSecurityFromEnv() };
  },
);
const { config, signingKeyPem, kafkaSecurity } = started;

const logger = createLogger({ name: `simulator:${config.node}` });
const signer = signerFromPem(signingKeyPem);
const bus: Bus =
  config.kafka === ''
    ? new EmbeddedBus()
    : createKafkaBus({
        brokers: config.kafka.split(','),
        clientId: `simulator-${config.node}`,
        logger,
        ...kafkaSecurity,
      });
if (bus.kind === 'embedded')
  logger.warn('no --kafka: embedded bus, so this node is alone and records no candles from any datafeed');

let node: SimulatorNode;
try {
  node = await SimulatorNode.start({
    bus,
    dataDir: config.dataDir,
    signer,
    peerKeys: config.peerKeys,
    candleKeys: config.candleKeys,
    node: config.node,
    logger,
    controlUrl: config.controlUrl,
    strategies: config.strategies,
    symbols: config.symbols,
    timeframe: config.timeframe,
    seed: config.seed,
    costs: { feeBps: config.feeBps, slippageBps: config.slippageBps },
    workers: config.workers,
    runTimeoutMs: config.runTimeoutMin * 60_000,
    submitAttempts: config.submitAttempts,
  });
} catch (err) {
  logger.fatal({ err }, 'simulator node could not start');
  await bus.close();
  process.exit(EXIT.failure);
}

const trigger = (via: string) => {
  const run = node.runNow();
  if (run.started) logger.info({ via }, 'simulator run starting');
  return { started: run.started, ...(run.runId ? { runId: run.runId } : {}) };
};
let http;
try {
  http = await startTriggerServer({
    port: config.httpPort,
    logger,
    trigger: () => trigger('POST /run'),
    status: () => node.status(),
  });
} catch (err) {
  logger.fatal(
    { err, port: config.httpPort },
    `httpPort (--http-port, SIMULATOR_HTTP_PORT): cannot listen on 127.0.0.1:${config.httpPort}`,
  );
  await node.close();
  await bus.close();
  process.exit(EXIT.config);
}
const schedule = startSchedule({
  everyMs: config.everyHours * 3_600_000,
  runAtStart: config.runAtStart,
  trigger: (why) => void trigger(why),
});
logger.info(
  {
    port: http.port,
    everyHours: config.everyHours,
    kid: signer.kid,
    publicKey: exportPublicKey(signer.publicKey),
  },
  `simulator node ready: POST http://127.0.0.1:${http.port}/run runs now`,
);
handleShutdown(logger, [() => bus.close(), () => node.close(), () => http.close(), () => schedule.stop()]);
