#!/usr/bin/env node
import { Command } from 'commander';
import { z } from 'zod';
import { KeyRing, createKafkaBus, signerFromPem } from '@appliance/protocol';
import {
  ConfigError,
  createLogger,
  exitOnConfigError,
  handleShutdown,
  kafkaSecurityFromEnv,
  parseConfig,
  readSigningKeyFile,
  type KafkaSecurity,
} from '@appliance/runtime';
import { AdminTokenError } from './admin-auth.js';
import { RegistryError } from './registry.js';
import { ListenError, startControlServer } from './server.js';

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
  allowedHosts: z.array(
    z
      .string()
      .regex(
        /^(\[[0-9a-fA-F:.]+\]|[0-9a-fA-F]*:[0-9a-fA-F:.]*|[A-Za-z0-9.-]+)$/,
        'allowed host: a host name or address, without a port',
      ),
  ),
  feedKeys: z.array(z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'feed key: base64url Ed25519 public key')),
});
/** The paper exchange prices only from candles a pinned datafeed signed: without a key it could not fill. */
const FeedKeysWithPaper = z.object({
  feedKeys: z
    .array(z.string())
    .min(
      1,
      "CONTROL_FEED_KEYS (or --feed-key) is required with the paper exchange: the datafeeds' public keys (only candles they signed move its prices)",
    ),
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
  .option(
    '--allowed-hosts <names>',
    'Host names the API answers besides localhost, 127.0.0.1, [::1] and --host, comma separated',
    process.env.CONTROL_ALLOWED_HOSTS ?? '',
  )
  .option(
    '--feed-key <key...>',
    "datafeeds' public key(s): the paper exchange takes only candles signed by one",
    process.env.CONTROL_FEED_KEYS?.split(',').filter((k) => k !== '') ?? [],
  )
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
    allowedHosts: string;
    feedKey: string[];
  }>();

let config: z.infer<typeof Config>;
let kafkaSecurity: KafkaSecurity;
let signingKeyPem: string;
try {
  config = parseConfig('control-server', Config, {
    ...opts,
    adminToken: process.env.CONTROL_ADMIN_TOKEN ?? '',
    feedKeys: opts.feedKey,
    allowedHosts: opts.allowedHosts.split(',').filter((h) => h !== ''),
  });
  signingKeyPem = readSigningKeyFile(
    'control-server',
    { name: 'signingKeyFile', flag: '--signing-key-file' },
    config.signingKeyFile,
  );
  if (config.paper) parseConfig('control-server', FeedKeysWithPaper, config);
  // TLS and SASL/SCRAM from KAFKA_SSL_* / KAFKA_SASL_* (docs/bus-security.md).
  kafkaSecurity = kafkaSecurityFromEnv();
} catch (err) {
  exitOnConfigError(err);
}

const logger = createLogger({ name: 'control-server' });
const signer = signerFromPem(signingKeyPem);
const bus = createKafkaBus({
  brokers: config.kafka.split(','),
  clientId: 'control-server',
  logger,
  ...kafkaSecurity,
});
const eligibility = Object.fromEntries(
  config.eligibility.map((e) => [e.split('=')[0]!, e.split('=')[1]!.split(',')]),
);
/** A port in use or an unreadable data file: one line naming the option, exit 2, no stack. */
const exitOnStartError = (err: unknown): never => {
  const issue =
    err instanceof ListenError
      ? `${err.option}: ${err.message}`
      : err instanceof AdminTokenError || (err instanceof RegistryError && err.code === 'E_REGISTRY_CORRUPT')
        ? `dataDir: --data-dir ${config.dataDir}: ${err.message}`
        : undefined;
  if (issue === undefined) throw err;
  return exitOnConfigError(new ConfigError(`cannot start control-server:\n  - ${issue}`, [issue]));
};
const server = await startControlServer({
  bus,
  signer,
  adminToken: config.adminToken,
  logger,
  dataDir: config.dataDir,
  eligibility,
  feedKeys: KeyRing.of(...config.feedKeys),
  paper: config.paper ? {} : false,
  allowedHosts: config.allowedHosts,
}).catch(exitOnStartError);
const url = await server.listen(config.port, config.host, config.paperPort).catch(exitOnStartError);
logger.info({ url, paperUrl: server.paperUrl, kid: signer.kid }, 'listening');
handleShutdown(logger, [() => bus.close(), () => server.close()]);
