#!/usr/bin/env node
import { z } from 'zod';
import { KeyRing } from '@appliance/protocol';
import { createKafkaBus } from '@appliance/protocol/kafka';
import {
  createLogger,
  exitOnConfigError,
  handleShutdown,
  kafkaSecurityFromEnv,
  startShell,
} from '@appliance/runtime';
import { createGateway } from './gateway.js';
import { DEFAULT_GATEWAY_OPTIONS, GatewayOptions } from './options.js';

const publicKeys = (what: string, required: string) =>
  z.array(z.string().regex(/^[A-Za-z0-9_-]{43}$/, `${what}: base64url Ed25519 public key`)).min(1, required);
/** A tuning number as given (a flag or variable is text); GatewayOptions checks it and fills defaults. */
const tuning = z.unknown().transform((v) => (v === undefined || v === '' ? undefined : Number(v)));

const Config = z
  .object({
    port: z.coerce.number().int().min(0).max(65535),
    host: z.string().min(1),
    // Unset (off) unless given; 0 = any free port.
    adminPort: z.preprocess(
      (v) => (v === '' ? undefined : v),
      z.coerce.number().int().min(0).max(65535).optional(),
    ),
    adminHost: z.string().min(1),
    kafka: z.string().min(1, 'required: a gateway process reads signals from Kafka'),
    tokenKeys: publicKeys('token key', "required: the control server's public key"),
    signalKeys: publicKeys(
      'signal key',
      "required: the datafeeds' public keys (only signals they signed are relayed)",
    ),
    gatewayId: z.string(),
    proxyProtocol: z.boolean(),
    requireBoundCredentials: z.boolean(),
    ringCapacity: tuning,
    sendHighWaterBytes: tuning,
    pingIntervalMs: tuning,
    maxPayload: tuning,
    inboundRatePerSec: tuning,
    inboundBurst: tuning,
    maxRecordBytes: tuning,
    maxStreams: tuning,
    maxControlScopes: tuning,
    maxHelloBytes: tuning,
  })
  .superRefine((c, ctx) => {
    if (c.adminPort !== undefined && c.adminPort !== 0 && c.adminPort === c.port)
      ctx.addIssue({
        code: 'custom',
        path: ['adminPort'],
        message: `the admin port must differ from the device port (${c.port})`,
      });
  })
  .transform(({ port, host, adminPort, adminHost, kafka, tokenKeys, signalKeys, ...rest }, ctx) => {
    // The tuning options are checked by the library's own schema, their issues named like the rest.
    const options = GatewayOptions.safeParse(
      Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)),
    );
    if (options.success)
      return { port, host, adminPort, adminHost, kafka, tokenKeys, signalKeys, options: options.data };
    for (const issue of options.error.issues)
      ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
    return z.NEVER;
  });

const d = DEFAULT_GATEWAY_OPTIONS;
const { config, kafkaSecurity, problem } = startShell(
  {
    name: 'gateway',
    description:
      'WebSocket gateway: verifies signed signals and control messages from Kafka and relays them to devices',
    configEnv: 'GATEWAY_CONFIG',
    schema: Config,
    options: [
      { flag: '--port <n>', env: 'PORT', description: 'listen port (0 = any free port)', default: '8080' },
      { flag: '--host <addr>', env: 'HOST', description: 'listen address', default: '127.0.0.1' },
      {
        flag: '--admin-port <n>',
        env: 'GATEWAY_ADMIN_PORT',
        description:
          "port for the operator's monitoring: GET /healthz and /metrics, plain HTTP (no PROXY header, no WebSocket); when set, the device port stops serving /metrics (0 = any free port; default: off)",
      },
      {
        flag: '--admin-host <addr>',
        env: 'GATEWAY_ADMIN_HOST',
        description: 'address of the admin port',
        default: '127.0.0.1',
      },
      {
        flag: '--kafka <brokers>',
        env: 'KAFKA_BROKERS',
        description: 'Kafka bootstrap brokers, comma separated',
        default: '',
      },
      {
        flag: '--token-key <key...>',
        env: 'GATEWAY_TOKEN_KEYS',
        key: 'tokenKeys',
        description: "control server's public key(s): checks device tokens and control messages",
        default: [],
      },
      {
        flag: '--signal-key <key...>',
        env: 'GATEWAY_SIGNAL_KEYS',
        key: 'signalKeys',
        description: "datafeeds' public key(s): only signals signed by one are relayed",
        default: [],
      },
      {
        flag: '--gateway-id <id>',
        env: 'GATEWAY_ID',
        description: 'name of this gateway in logs and telemetry',
        default: d.gatewayId,
      },
      {
        flag: '--proxy-protocol',
        env: 'GATEWAY_PROXY_PROTOCOL',
        description: 'connections start with a PROXY v2 header (behind HAProxy send-proxy-v2)',
        default: d.proxyProtocol,
      },
      {
        flag: '--require-bound-credentials',
        env: 'GATEWAY_REQUIRE_BOUND_CREDENTIALS',
        description:
          'refuse device credentials not bound to a device key (issued before enrolment); bound ones always need their proof',
        default: d.requireBoundCredentials,
      },
      {
        flag: '--ring-capacity <n>',
        env: 'GATEWAY_RING_CAPACITY',
        description: `signals kept per stream to answer resumes (${d.ringCapacity})`,
      },
      {
        flag: '--send-high-water-bytes <n>',
        env: 'GATEWAY_SEND_HIGH_WATER_BYTES',
        description: `bytes queued for one device before live traffic closes it with 1013 (a catch-up waits instead) (${d.sendHighWaterBytes})`,
      },
      {
        flag: '--ping-interval-ms <n>',
        env: 'GATEWAY_PING_INTERVAL_MS',
        description: `ping interval; a peer silent for two is dropped (${d.pingIntervalMs})`,
      },
      {
        flag: '--max-payload <bytes>',
        env: 'GATEWAY_MAX_PAYLOAD',
        description: `largest frame a device may send (1009 beyond) (${d.maxPayload})`,
      },
      {
        flag: '--inbound-rate <n>',
        env: 'GATEWAY_INBOUND_RATE',
        key: 'inboundRatePerSec',
        description: `frames per second a device may send, sustained (${d.inboundRatePerSec})`,
      },
      {
        flag: '--inbound-burst <n>',
        env: 'GATEWAY_INBOUND_BURST',
        description: `frames a device may send in a burst (${d.inboundBurst})`,
      },
      {
        flag: '--max-record-bytes <bytes>',
        env: 'GATEWAY_MAX_RECORD_BYTES',
        description: `largest signal or control record relayed to devices; larger ones are dropped (${d.maxRecordBytes})`,
      },
      {
        flag: '--max-streams <n>',
        env: 'GATEWAY_MAX_STREAMS',
        description: `most streams kept, from verified signals only (${d.maxStreams})`,
      },
      {
        flag: '--max-control-scopes <n>',
        env: 'GATEWAY_MAX_CONTROL_SCOPES',
        description: `most control scopes kept, from verified control messages only (${d.maxControlScopes})`,
      },
      {
        flag: '--max-hello-bytes <bytes>',
        env: 'GATEWAY_MAX_HELLO_BYTES',
        description: `largest hello a device may send: its first frame; others: --max-payload (${d.maxHelloBytes})`,
      },
    ],
    helpAfter: 'Kafka TLS and SASL: KAFKA_SSL_* and KAFKA_SASL_* (docs/bus-security.md).',
  },
  // TLS and SASL/SCRAM from KAFKA_SSL_* / KAFKA_SASL_* (docs/bus-security.md).
  (shell) => ({ config: shell.config, kafkaSecurity: kafkaSecurityFromEnv(), problem: shell.problem }),
);
const options = config.options;

const logger = createLogger({ name: `gateway:${options.gatewayId}` });
const bus = createKafkaBus({
  brokers: config.kafka.split(','),
  clientId: options.gatewayId,
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
/** A port in use or an address not of this machine: exit 2 naming the option, as for any bad setting. */
const cannotListen =
  (key: 'port' | 'adminPort', host: string, port: number) => (err: NodeJS.ErrnoException) =>
    exitOnConfigError(problem(key, `cannot listen on ${host}:${port}: ${err.code ?? err.message}`));
// The admin listener first, so /metrics is never served on the device port when it is set.
const adminUrl =
  config.adminPort === undefined
    ? undefined
    : await gateway
        .listenAdmin(config.adminPort, config.adminHost)
        .catch(cannotListen('adminPort', config.adminHost, config.adminPort));
const url = await gateway
  .listen(config.port, config.host)
  .catch(cannotListen('port', config.host, config.port));
logger.info(
  {
    url,
    adminUrl,
    healthz: `${url.replace(/^ws/, 'http')}/healthz`,
    metrics: adminUrl ? `${adminUrl}/metrics` : `${url.replace(/^ws/, 'http')}/metrics`,
    proxyProtocol: options.proxyProtocol,
  },
  'listening',
);
if (options.proxyProtocol && !adminUrl)
  logger.warn(
    'the device port takes only connections that start with a PROXY v2 header, so monitoring cannot scrape /metrics there: set --admin-port (GATEWAY_ADMIN_PORT)',
  );
handleShutdown(logger, [() => bus.close(), () => gateway.close()]);
