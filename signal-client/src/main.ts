#!/usr/bin/env node
import { Command } from 'commander';
import {
  EXIT,
  createLogger,
  exitOnConfigError,
  exitWith,
  handleShutdown,
  usageErrorsExit2,
} from '@appliance/runtime';
import { configOption, readClientConfig } from './cli/config-file.js';
import { registerEnrolCommand } from './cli/enrol.js';
import { registerKeysCommand } from './cli/keys.js';
import { resolveEnrolment, type ResolvedConfig } from './enrolment/index.js';
import { createBinanceExecutor } from './exchange.js';
import { KeystoreError, openKeystore, requireKeys, type ExchangeKeys } from './keystore/index.js';
import { READY_MESSAGE, createSignalClient } from './signal-client.js';
import { deviceProfile } from './profile.js';
import { printStatus } from './status-command.js';
import { startStatusServer } from './status-server.js';
import { statusView } from './status.js';
import { openStateStore, StateError } from './state-store.js';
import {
  NotifyError,
  createHealthMonitor,
  createNotifier,
  describeActivity,
  protectProcess,
} from './systemd/index.js';

const program = new Command('signal-client').description(
  'The device: verifies signals, decides locally, trades with its own keys',
);

program
  .command('run')
  .description('connect to the gateway and act on signals (API keys from the keystore in the config)')
  .addOption(configOption())
  .action(async (opts: { config: string }) => {
    const file = readClientConfig(opts.config);
    const logger = createLogger({ name: `device:${file.deviceId}` });
    let resolved: ResolvedConfig;
    try {
      // Enrolled: gateway, credential, pinned keys from the state folder (not enrolled: exit 2).
      // Either way the CA file is read (readable, certificates only).
      resolved = await resolveEnrolment(file, { logger });
      deviceProfile(resolved.config); // the token's scope; a config profile that disagrees: exit 2
    } catch (err) {
      exitOnConfigError(err);
    }
    const { config, tls: gatewayTls, enrolled } = resolved;
    let notifier;
    try {
      notifier = createNotifier({ onError: (e) => logger.warn({ code: e.code }, e.message) });
    } catch (err) {
      // NOTIFY_SOCKET is set but unusable: better to stop now than to run unsupervised.
      if (!(err instanceof NotifyError)) throw err;
      logger.fatal({ code: err.code }, err.message);
      process.exit(EXIT.failure);
    }
    notifier.status(describeActivity({ phase: 'starting' }));
    const unprotected = protectProcess();
    if (unprotected)
      logger.warn(
        { reason: unprotected },
        'core dumps are not disabled: a crash dump could hold the API keys',
      );
    let keys: ExchangeKeys;
    try {
      keys = await requireKeys(openKeystore(config.keystore, { logger }), config.keystore, logger);
    } catch (err) {
      if (!(err instanceof KeystoreError)) throw err;
      exitWith(EXIT.keystore, `${err.code}: ${err.message}`);
    }
    let store;
    try {
      store = await openStateStore(config.stateFile, config.deviceId, {
        streams: config.settings.streams,
        logger,
      });
    } catch (err) {
      // Unreadable, a folder, corrupt, off-schema or another device's: refuse to trade, say why.
      if (err instanceof StateError) {
        logger.fatal({ code: err.code }, err.message);
        exitWith(EXIT.stateCorrupt, `${err.code}: ${err.message}`);
      }
      throw err;
    }
    const pending = Object.values(store.data.intents).filter((i) => i.status === 'pending').length;
    if (pending) notifier.status(describeActivity({ phase: 'reconciling', intents: pending }));
    const exchange = createBinanceExecutor({
      apiKey: keys.apiKey,
      secret: keys.secret,
      paperUrl: config.exchange.paperUrl,
      timeoutMs: config.exchange.timeoutMs,
    });
    // An enrolled device: a rotation a crash interrupted is finished, an expired credential
    // renewed, before the first connection; then the credential is kept fresh in the background.
    if (enrolled) {
      await enrolled.prepare();
      enrolled.start();
    }
    const client = createSignalClient({
      config,
      store,
      exchange,
      logger,
      gatewayTls,
      ...(enrolled && { credentials: enrolled }),
    });
    const gatewayHost = new URL(config.gatewayUrl).host;
    let gateway = { connected: false, since: Date.now() };
    client.on('connected', () => (gateway = { connected: true, since: Date.now() }));
    client.on('disconnected', () => (gateway = { connected: false, since: Date.now() }));
    await client.start(); // state loaded and every pending intent reconciled: only now ready
    const view = () =>
      statusView(store.data, client.runtime(), config.quote, Date.now(), config.settings.timeZone);
    // The page is a convenience: a port already taken must not stop the device trading safely.
    const page =
      config.statusPort > 0
        ? await startStatusServer(view, config.statusPort, config.settings.timeZone, {
            allowedHosts: config.statusAllowedHosts,
          }).catch((err: Error) => {
            logger.warn({ port: config.statusPort, err: err.message }, 'status page not started');
            return undefined;
          })
        : undefined;
    notifier.ready(describeActivity({ phase: 'connecting', gateway: gatewayHost }));
    const monitor = createHealthMonitor({
      notifier,
      journal: () => client.journalHealth(),
      gateway: () => gateway,
      status: () =>
        describeActivity(
          gateway.connected
            ? { phase: 'connected', gateway: gatewayHost, decisionsToday: client.decisionsToday() }
            : { phase: 'disconnected' },
        ),
      onChange: (v) =>
        v.ok
          ? logger.info('healthy again')
          : logger.error({ reasons: v.reasons }, 'unhealthy: watchdog pings stopped'),
    });
    monitor.start();
    // Ready to act, not yet connected: 'connected to gateway' (or the reason it cannot) follows.
    logger.info({ gateway: config.gatewayUrl, statusPage: page?.url }, READY_MESSAGE);
    handleShutdown(logger, [
      () => client.stop(),
      () => page?.server.close(),
      () => {
        enrolled?.stop();
      },
      () => {
        monitor.stop();
        notifier.stopping(describeActivity({ phase: 'stopping' }));
      },
    ]);
  });

program
  .command('status')
  .description("what the device is doing: connection, today's decisions with reasons, holdings, P&L, breaker")
  .addOption(configOption())
  .option('--json', 'print the status as JSON')
  .action(async (opts: { config: string; json?: boolean }) => {
    const file = readClientConfig(opts.config);
    let config;
    try {
      ({ config } = await resolveEnrolment(file, {
        logger: createLogger({ name: 'status', level: 'silent' }),
      }));
    } catch (err) {
      exitOnConfigError(err);
    }
    await printStatus(config, opts.json ?? false);
  });

registerEnrolCommand(program);
registerKeysCommand(program);

await usageErrorsExit2(program).parseAsync();
