#!/usr/bin/env node
import { KeyRing, exportPublicKey, signerFromPem } from '@appliance/protocol';
import { createKafkaBus } from '@appliance/protocol/kafka';
import {
  ConfigError,
  createLogger,
  exitOnConfigError,
  handleShutdown,
  kafkaSecurityFromEnv,
  startShell,
} from '@appliance/runtime';
import { AdminTokenError } from './admin-auth.js';
import { BreakerOverridesError } from './breaker-overrides.js';
import { CONTROL_SERVER_OPTIONS } from './cli-options.js';
import { Config } from './config.js';
import { enrolmentFromConfig, readBreakerConfig, readSimulatorKey } from './config-files.js';
import { EligibilityHistoryError } from './eligibility-history.js';
import { RegistryError } from './registry.js';
import { denyAddress } from '@appliance/haproxy/deny-list';
import { ListenError, startControlServer } from './server.js';
import { StoreError } from './store/database.js';

const { config, signingKeyPem, kafkaSecurity, simulatorKeys, breakerConfig, enrolment } = startShell(
  {
    name: 'control-server',
    description:
      'Control plane: device registry and tokens, fleet view, signed control state, paper exchange',
    configEnv: 'CONTROL_CONFIG',
    schema: Config,
    secrets: [
      {
        env: 'CONTROL_ADMIN_TOKEN',
        key: 'adminToken',
        description: 'admin token of the API until rotated (required, 16+ characters)',
      },
    ],
    options: CONTROL_SERVER_OPTIONS,
    helpAfter: 'Kafka TLS and SASL: KAFKA_SSL_* and KAFKA_SASL_* (docs/bus-security.md).',
  },
  (shell) => ({
    config: shell.config,
    signingKeyPem: shell.readSigningKey('signingKeyFile'),
    // TLS and SASL/SCRAM from KAFKA_SSL_* / KAFKA_SASL_* (docs/bus-security.md).
    kafkaSecurity: kafkaSecurityFromEnv(),
    breakerConfig: (() => {
      try {
        return readBreakerConfig(shell.config.breakerConfig);
      } catch (err) {
        throw shell.problem('breakerConfig', (err as Error).message);
      }
    })(),
    enrolment: enrolmentFromConfig(shell.config, shell.problem),
    simulatorKeys: shell.config.simulatorKeys.map((spec) => {
      try {
        return readSimulatorKey(spec);
      } catch (err) {
        throw shell.problem('simulatorKeys', (err as Error).message);
      }
    }),
  }),
);

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
/**
 * A port in use, an unreadable data file or a database that cannot be opened or migrated: one
 * line naming the option, exit 2, no stack.
 */
const exitOnStartError = (err: unknown): never => {
  const issue =
    err instanceof ListenError
      ? `${err.option}: ${err.message}`
      : err instanceof StoreError ||
          err instanceof AdminTokenError ||
          err instanceof EligibilityHistoryError ||
          err instanceof BreakerOverridesError ||
          (err instanceof RegistryError && err.code === 'E_REGISTRY_CORRUPT')
        ? `dataDir (--data-dir, CONTROL_DATA_DIR): ${config.dataDir}: ${err.message}`
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
  simulatorKeys: KeyRing.of(...simulatorKeys),
  eligibilityApproval: Object.fromEntries(
    config.eligibilityApproval.map((e) => e.split('=') as [string, 'auto' | 'manual']),
  ),
  simulatorMaxAgeMs: config.simulatorMaxAgeMs,
  paper: config.paper ? {} : false,
  allowedHosts: config.allowedHosts,
  breaker: { config: breakerConfig, pegSymbol: config.pegSymbol || undefined },
  enrolment,
  wgInterface: config.wgInterface || undefined,
  deviceTokenTtlMs: config.credentialTtl,
  keyOverlapMs: config.keyOverlapMs,
  ...(config.haproxySocket !== '' && {
    denyTunnelAddress: (address: string) =>
      denyAddress({ socket: config.haproxySocket, file: config.haproxyDenyFile }, address),
  }),
}).catch(exitOnStartError);
const url = await server.listen(config.port, config.host, config.paperPort).catch(exitOnStartError);
logger.info(
  { kid: signer.kid, publicKey: exportPublicKey(signer.publicKey) },
  'signing control messages and device tokens with this key',
);
logger.info({ url, paperUrl: server.paperUrl, kid: signer.kid }, 'listening');
handleShutdown(logger, [() => bus.close(), () => server.close()]);
