#!/usr/bin/env node
import { Command } from 'commander';
import { z } from 'zod';
import { KeyRing, createKafkaBus } from '@appliance/protocol';
import { createLogger, exitOnConfigError, handleShutdown, parseConfig } from '@appliance/runtime';
import { createGateway } from './gateway.js';

const Config = z.object({
  port: z.coerce.number().int().min(0).max(65535),
  host: z.string().min(1),
  kafka: z
    .string()
    .min(1, 'KAFKA_BROKERS (or --kafka) is required: a gateway process reads signals from Kafka'),
  tokenKeys: z
    .array(z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'token key: base64url Ed25519 public key'))
    .min(1),
  gatewayId: z.string(),
  proxyProtocol: z.boolean(),
});

const program = new Command('gateway')
  .description('WebSocket gateway: relays signed signals and control messages from Kafka to devices')
  .option('--port <n>', 'listen port (0 = any free port)', process.env.PORT ?? '8080')
  .option('--host <addr>', 'listen address', process.env.HOST ?? '127.0.0.1')
  .option('--kafka <brokers>', 'Kafka bootstrap brokers, comma separated', process.env.KAFKA_BROKERS ?? '')
  .option(
    '--token-key <key...>',
    "control server's device-token public key(s)",
    process.env.GATEWAY_TOKEN_KEYS?.split(',') ?? [],
  )
  .option('--gateway-id <id>', 'name of this gateway in logs and telemetry', process.env.GATEWAY_ID ?? 'gw-1')
  .option(
    '--proxy-protocol',
    'connections start with a PROXY v2 header (behind HAProxy send-proxy-v2)',
    process.env.GATEWAY_PROXY_PROTOCOL === '1',
  )
  .parse();

const opts = program.opts<{
  port: string;
  host: string;
  kafka: string;
  tokenKey: string[];
  gatewayId: string;
}>();
let config: z.infer<typeof Config>;
try {
  config = parseConfig('gateway', Config, { ...opts, tokenKeys: opts.tokenKey });
} catch (err) {
  exitOnConfigError(err);
}

const logger = createLogger({ name: `gateway:${config.gatewayId}` });
const bus = createKafkaBus({ brokers: config.kafka.split(','), clientId: config.gatewayId, logger });
const gateway = await createGateway({
  bus,
  tokenKeys: KeyRing.of(...config.tokenKeys),
  logger,
  options: { gatewayId: config.gatewayId, proxyProtocol: config.proxyProtocol },
});
const url = await gateway.listen(config.port, config.host);
logger.info({ url }, 'listening');
handleShutdown(logger, [() => bus.close(), () => gateway.close()]);
