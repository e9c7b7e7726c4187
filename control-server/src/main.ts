#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { z } from 'zod';
import { createKafkaBus, signerFromPem } from '@appliance/protocol';
import { createLogger, exitOnConfigError, handleShutdown, parseConfig } from '@appliance/runtime';
import { startControlServer } from './server.js';

const Config = z.object({
  port: z.coerce.number().int().min(0).max(65535),
  paperPort: z.coerce.number().int().min(0).max(65535),
  host: z.string().min(1),
  kafka: z
    .string()
    .min(1, 'KAFKA_BROKERS (or --kafka) is required: the control server publishes control state on Kafka'),
  signingKeyFile: z.string().min(1, 'CONTROL_SIGNING_KEY_FILE (or --signing-key-file) is required'),
  adminToken: z.string().min(16, 'CONTROL_ADMIN_TOKEN must be set, at least 16 characters'),
  dataDir: z.string().min(1),
  eligibility: z.array(
    z.string().regex(/^[a-z0-9][a-z0-9._-]*=[A-Z0-9/,]+$/, 'eligibility: stream=SYM/QUOTE,SYM/QUOTE'),
  ),
  paper: z.boolean(),
});

const opts = new Command('control-server')
  .description('Control plane: device registry and tokens, fleet view, signed control state, paper exchange')
  .option('--port <n>', 'HTTP API and dashboard port (0 = any free port)', process.env.PORT ?? '8090')
  .option('--paper-port <n>', 'paper exchange port (0 = any free port)', process.env.PAPER_PORT ?? '8091')
  .option('--host <addr>', 'listen address', process.env.HOST ?? '127.0.0.1')
  .option('--kafka <brokers>', 'Kafka bootstrap brokers, comma separated', process.env.KAFKA_BROKERS ?? '')
  .option(
    '--signing-key-file <file>',
    'Ed25519 PKCS#8 PEM key that signs control messages and device tokens',
    process.env.CONTROL_SIGNING_KEY_FILE ?? '',
  )
  .option(
    '--data-dir <dir>',
    'where the device registry is kept',
    process.env.CONTROL_DATA_DIR ?? '.data/control',
  )
  .option('--eligibility <spec...>', 'eligible symbols per stream, e.g. ema-cross.1h=BTC/USDT,ETH/USDT', [])
  .option('--no-paper', 'do not run the paper exchange')
  .parse()
  .opts<{
    port: string;
    paperPort: string;
    host: string;
    kafka: string;
    signingKeyFile: string;
    dataDir: string;
    eligibility: string[];
    paper: boolean;
  }>();

let config: z.infer<typeof Config>;
try {
  config = parseConfig('control-server', Config, {
    ...opts,
    adminToken: process.env.CONTROL_ADMIN_TOKEN ?? '',
  });
} catch (err) {
  exitOnConfigError(err);
}

const logger = createLogger({ name: 'control-server' });
const signer = signerFromPem(readFileSync(config.signingKeyFile, 'utf8'));
const bus = createKafkaBus({ brokers: config.kafka.split(','), clientId: 'control-server', logger });
const eligibility = Object.fromEntries(
  config.eligibility.map((e) => [e.split('=')[0]!, e.split('=')[1]!.split(',')]),
);
const server = await startControlServer({
  bus,
  signer,
  adminToken: config.adminToken,
  logger,
  dataDir: config.dataDir,
  eligibility,
  paper: config.paper ? {} : false,
});
const url = await server.listen(config.port, config.host, config.paperPort);
logger.info({ url, paperUrl: server.paperUrl, kid: signer.kid }, 'listening');
handleShutdown(logger, [() => bus.close(), () => server.close()]);
