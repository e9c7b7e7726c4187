#!/usr/bin/env node
import { Command } from 'commander';
import { z } from 'zod';
import { KeyRing, createKafkaBus } from '@appliance/protocol';
import {
  createLogger,
  exitOnConfigError,
  handleShutdown,
  kafkaSecurityFromEnv,
  parseConfig,
  type KafkaSecurity,
} from '@appliance/runtime';
import { createGateway } from './gateway.js';
import { DEFAULT_GATEWAY_OPTIONS, GatewayOptions } from './options.js';

const Config = z.object({
  port: z.coerce.number().int().min(0).max(65535),
  host: z.string().min(1),
  kafka: z
    .string()
    .min(1, 'KAFKA_BROKERS (or --kafka) is required: a gateway process reads signals from Kafka'),
  tokenKeys: z
    .array(z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'token key: base64url Ed25519 public key'))
    .min(1, "GATEWAY_TOKEN_KEYS (or --token-key) is required: the control server's public key"),
  signalKeys: z
    .array(z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'signal key: base64url Ed25519 public key'))
    .min(
      1,
      "GATEWAY_SIGNAL_KEYS (or --signal-key) is required: the datafeeds' public keys (only signals they signed are relayed)",
    ),
  gatewayId: z.string(),
  proxyProtocol: z.boolean(),
});

const program = new Command('gateway')
  .description(
    'WebSocket gateway: verifies signed signals and control messages from Kafka and relays them to devices',
  )
  .option('--port <n>', 'listen port (0 = any free port)', process.env.PORT ?? '8080')
  .option('--host <addr>', 'listen address', process.env.HOST ?? '127.0.0.1')
  .option('--kafka <brokers>', 'Kafka bootstrap brokers, comma separated', process.env.KAFKA_BROKERS ?? '')
  .option(
    '--token-key <key...>',
    "control server's public key(s): checks device tokens and control messages",
    process.env.GATEWAY_TOKEN_KEYS?.split(',').filter((k) => k !== '') ?? [],
  )
  .option(
    '--signal-key <key...>',
    "datafeeds' public key(s): only signals signed by one are relayed",
    process.env.GATEWAY_SIGNAL_KEYS?.split(',').filter((k) => k !== '') ?? [],
  )
  .option('--gateway-id <id>', 'name of this gateway in logs and telemetry', process.env.GATEWAY_ID ?? 'gw-1')
  .option(
    '--proxy-protocol',
    'connections start with a PROXY v2 header (behind HAProxy send-proxy-v2)',
    process.env.GATEWAY_PROXY_PROTOCOL === '1',
  )
  .option(
    '--ring-capacity <n>',
    'signals kept per stream to answer resumes',
    process.env.GATEWAY_RING_CAPACITY,
  )
  .option(
    '--send-high-water-bytes <n>',
    'bytes queued for one device before live traffic closes it with 1013 (a catch-up waits instead)',
    process.env.GATEWAY_SEND_HIGH_WATER_BYTES,
  )
  .option(
    '--ping-interval-ms <n>',
    'ping interval; a peer silent for two is dropped',
    process.env.GATEWAY_PING_INTERVAL_MS,
  )
  .option(
    '--max-payload <bytes>',
    'largest frame a device may send (1009 beyond)',
    process.env.GATEWAY_MAX_PAYLOAD,
  )
  .option(
    '--inbound-rate <n>',
    'frames per second a device may send, sustained',
    process.env.GATEWAY_INBOUND_RATE,
  )
  .option('--inbound-burst <n>', 'frames a device may send in a burst', process.env.GATEWAY_INBOUND_BURST)
  .option(
    '--max-record-bytes <bytes>',
    'largest signal or control record relayed to devices (larger ones are dropped)',
    process.env.GATEWAY_MAX_RECORD_BYTES,
  )
  .option(
    '--max-streams <n>',
    'most streams kept (from verified signals only)',
    process.env.GATEWAY_MAX_STREAMS,
  )
  .option(
    '--max-control-scopes <n>',
    'most control scopes kept (from verified control messages only)',
    process.env.GATEWAY_MAX_CONTROL_SCOPES,
  )
  .option(
    '--max-hello-bytes <bytes>',
    'largest hello a device may send (its first frame; others: --max-payload)',
    process.env.GATEWAY_MAX_HELLO_BYTES,
  )
  .addHelpText(
    'after',
    `\nDefaults: ring ${DEFAULT_GATEWAY_OPTIONS.ringCapacity}, high water ${DEFAULT_GATEWAY_OPTIONS.sendHighWaterBytes} B, ` +
      `ping ${DEFAULT_GATEWAY_OPTIONS.pingIntervalMs} ms, max payload ${DEFAULT_GATEWAY_OPTIONS.maxPayload} B, ` +
      `inbound ${DEFAULT_GATEWAY_OPTIONS.inboundRatePerSec}/s burst ${DEFAULT_GATEWAY_OPTIONS.inboundBurst}, ` +
      `max record ${DEFAULT_GATEWAY_OPTIONS.maxRecordBytes} B, max streams ${DEFAULT_GATEWAY_OPTIONS.maxStreams}, ` +
      `max control scopes ${DEFAULT_GATEWAY_OPTIONS.maxControlScopes}, max hello ${DEFAULT_GATEWAY_OPTIONS.maxHelloBytes} B.`,
  )
  .parse();

const opts = program.opts<{
  port: string;
  host: string;
  kafka: string;
  tokenKey: string[];
  signalKey: string[];
  gatewayId: string;
  proxyProtocol: boolean;
  ringCapacity?: string;
  sendHighWaterBytes?: string;
  pingIntervalMs?: string;
  maxPayload?: string;
  inboundRate?: string;
  inboundBurst?: string;
  maxRecordBytes?: string;
  maxStreams?: string;
  maxControlScopes?: string;
  maxHelloBytes?: string;
}>();
/** A number option as given, or undefined for its default; not-a-number is left for the schema to name. */
const num = (v: string | undefined) => (v === undefined || v === '' ? undefined : Number(v));
let config: z.infer<typeof Config>;
let options: GatewayOptions;
let kafkaSecurity: KafkaSecurity;
try {
  config = parseConfig('gateway', Config, { ...opts, tokenKeys: opts.tokenKey, signalKeys: opts.signalKey });
  options = parseConfig(
    'gateway',
    GatewayOptions,
    Object.fromEntries(
      Object.entries({
        gatewayId: config.gatewayId,
        proxyProtocol: config.proxyProtocol,
        ringCapacity: num(opts.ringCapacity),
        sendHighWaterBytes: num(opts.sendHighWaterBytes),
        pingIntervalMs: num(opts.pingIntervalMs),
        maxPayload: num(opts.maxPayload),
        inboundRatePerSec: num(opts.inboundRate),
        inboundBurst: num(opts.inboundBurst),
        maxRecordBytes: num(opts.maxRecordBytes),
        maxStreams: num(opts.maxStreams),
        maxControlScopes: num(opts.maxControlScopes),
        maxHelloBytes: num(opts.maxHelloBytes),
      }).filter(([, v]) => v !== undefined),
    ),
  );
  // TLS and SASL/SCRAM from KAFKA_SSL_* / KAFKA_SASL_* (docs/bus-security.md).
  kafkaSecurity = kafkaSecurityFromEnv();
} catch (err) {
  exitOnConfigError(err);
}

const logger = createLogger({ name: `gateway:${config.gatewayId}` });
const bus = createKafkaBus({
  brokers: config.kafka.split(','),
  clientId: config.gatewayId,
  logger,
  ...kafkaSecurity,
});
const gateway = await createGateway({
  bus,
  tokenKeys: KeyRing.of(...config.tokenKeys),
  signalKeys: KeyRing.of(...config.signalKeys),
  logger,
  options,
});
const url = await gateway.listen(config.port, config.host);
logger.info({ url }, 'listening');
handleShutdown(logger, [() => bus.close(), () => gateway.close()]);
